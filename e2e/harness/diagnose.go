package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// OffsetStep is one completed commit that carried offsets for a partition.
type OffsetStep struct {
	Instant    string
	Writer     string
	Checkpoint string
	Next       int64 // the partition's next offset after this commit
	Rows       int64 // rows the commit wrote (all partitions)
	Archived   bool
}

func (s OffsetStep) String() string {
	where := "timeline"
	if s.Archived {
		where = "archived"
	}
	return fmt.Sprintf("%s %s checkpoint %s next=%d rows=%d (%s)", s.Instant, s.Writer, s.Checkpoint, s.Next, s.Rows, where)
}

// OffsetHistory lists, oldest first, every completed commit (archived or on
// the active timeline) whose checkpoint key names partition p of topic: who
// moved the partition's offset, and where to.
func OffsetHistory(ctx context.Context, b objstore.Store, topic string, p int32) ([]OffsetStep, error) {
	byInstant := map[string]OffsetStep{}
	add := func(instant string, m *hudi.CommitMetadata, archived bool) error {
		key, ok := m.ExtraMetadata[hudi.MetaCheckpointKey]
		if !ok {
			return nil
		}
		off, err := hudi.ParseCheckpointKey(key)
		if err != nil {
			return err
		}
		next, ok := off.Next[p]
		if off.Topic != topic || !ok {
			return nil
		}
		var rows int64
		for _, stats := range m.PartitionToWriteStats {
			for _, s := range stats {
				rows += s.NumWrites
			}
		}
		byInstant[instant] = OffsetStep{Instant: instant, Writer: m.ExtraMetadata[hudi.MetaWriterID],
			Checkpoint: m.ExtraMetadata[hudi.MetaCheckpointID], Next: next, Rows: rows, Archived: archived}
		return nil
	}
	err := b.List(ctx, hudi.ArchiveDir+"/lakestream.archive.", func(info objstore.ObjectInfo) error {
		data, err := objstore.ReadAll(ctx, b, info.Key)
		if err != nil {
			return err
		}
		var af struct {
			Instants []struct {
				Instant  string          `json:"instant"`
				Metadata json.RawMessage `json:"metadata"`
			} `json:"instants"`
		}
		if err := json.Unmarshal(data, &af); err != nil {
			return fmt.Errorf("%s: %w", info.Key, err)
		}
		for _, in := range af.Instants {
			if len(in.Metadata) == 0 {
				continue
			}
			m, err := hudi.ParseCommitMetadata(info.Key, in.Metadata, true)
			if err != nil {
				return err
			}
			if err := add(in.Instant, m, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t, err := hudi.Open(ctx, b)
	if err != nil {
		return nil, err
	}
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range tl.Completed() {
		m, err := t.ReadCommitMetadata(ctx, e)
		if err != nil {
			return nil, err
		}
		if err := add(e.Time, m, false); err != nil {
			return nil, err
		}
	}
	out := make([]OffsetStep, 0, len(byInstant))
	for _, s := range byInstant {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Instant < out[j].Instant })
	return out, nil
}

// CopyTree copies the directory tree src into dst (for keeping the logs and
// table of a failed run).
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// Ranges renders sorted offsets as "a-b, c, d-e".
func Ranges(offsets []int64) string {
	var parts []string
	for i := 0; i < len(offsets); {
		j := i
		for j+1 < len(offsets) && offsets[j+1] == offsets[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.FormatInt(offsets[i], 10))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", offsets[i], offsets[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
