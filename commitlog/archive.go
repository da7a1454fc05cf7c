package commitlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lakestream/lakestream/internal/objstore"
)

// archivePrefix names lakestream's archive files in .hoodie/archived/. Hudi's
// own archived timeline reads only ".commits_.archive*" files, so it ignores
// them.
const archivePrefix = ArchiveDir + "/lakestream.archive."

// archiveFile is one archive: the instants it took off the active timeline
// and the checkpoints recorded by every instant archived so far.
type archiveFile struct {
	Version     int               `json:"version"`
	Instants    []archivedInstant `json:"instants"`
	Checkpoints *Checkpoints      `json:"checkpoints"`
}

type archivedInstant struct {
	Instant  string          `json:"instant"`
	Action   string          `json:"action"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// ArchiveOptions bound the active timeline.
type ArchiveOptions struct {
	// KeepCompleted is how many completed commits and replacecommits stay on
	// the active timeline (at least 1). Default 30.
	KeepCompleted int
}

// ArchiveResult says what Archive did.
type ArchiveResult struct {
	Archived     []string
	File         string
	FilesRemoved int
}

// Archive moves the oldest completed instants off the active timeline,
// keeping opts.KeepCompleted completed commits and never passing a pending
// instant. Before it does, it removes what would otherwise become visible
// once the instants are gone (Hudi treats base files older than the active
// timeline as committed): base files of failed instants, and file groups
// retired by an archived replacecommit. The checkpoint and offsets of every
// writer and partition are carried in the archive file, so Checkpoints
// returns the same answer before and after.
func (t *Table) Archive(ctx context.Context, opts ArchiveOptions) (*ArchiveResult, error) {
	if opts.KeepCompleted == 0 {
		opts.KeepCompleted = 30
	}
	if opts.KeepCompleted < 1 {
		return nil, fmt.Errorf("archive: keep %d completed instants: must be at least 1", opts.KeepCompleted)
	}
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	res := &ArchiveResult{}
	if res.FilesRemoved, err = t.SweepRolledBack(ctx); err != nil {
		return nil, err
	}
	cut := archiveCut(tl, opts.KeepCompleted)
	if cut == 0 {
		return res, nil
	}
	archived := tl.Entries[:cut]
	last := archived[len(archived)-1].Time

	summary, err := t.archivedCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	af := archiveFile{Version: 1, Checkpoints: summary}
	retire := map[string]string{} // partition\x00fileId -> replace instant
	for _, e := range archived {
		ai := archivedInstant{Instant: e.Time, Action: e.Action}
		if writesData(e.Action) {
			name := MetaDir + "/" + e.FileName()
			data, err := objstore.ReadAll(ctx, t.bucket, name)
			if err != nil {
				return nil, fmt.Errorf("archive: read %s: %w", name, err)
			}
			m, err := ParseCommitMetadata(name, data, true)
			if err != nil {
				return nil, err
			}
			if err := summary.observe(e.Time, m.ExtraMetadata, name); err != nil {
				return nil, err
			}
			for part, ids := range m.PartitionToReplaceFileIDs {
				for _, id := range ids {
					retire[part+"\x00"+id] = e.Time
				}
			}
			ai.Metadata = data
		}
		af.Instants = append(af.Instants, ai)
	}

	// Remove what must not resurface once these instants leave the timeline.
	files, err := t.listBaseFiles(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := t.snapshotOf(ctx, tl, files)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, f := range snap.Files {
		live[f.Path] = true
	}
	completed := map[string]bool{}
	for _, e := range tl.Completed() {
		completed[e.Time] = true
	}
	for _, f := range files {
		if f.Instant > last {
			continue
		}
		replacedAt, replaced := retire[f.Partition+"\x00"+f.FileID]
		failed := !completed[f.Instant] && f.Instant >= tl.Entries[0].Time
		if (replaced && f.Instant <= replacedAt && !live[f.Path]) || failed {
			if err := t.bucket.Delete(ctx, f.Path); err != nil {
				return nil, fmt.Errorf("archive: remove %s: %w", f.Path, err)
			}
			res.FilesRemoved++
		}
	}

	body, err := json.MarshalIndent(&af, "", "  ")
	if err != nil {
		return nil, err
	}
	res.File = archivePrefix + last + ".json"
	if err := t.bucket.PutIfAbsent(ctx, res.File, bytes.NewReader(body)); err != nil && !errors.Is(err, objstore.ErrExists) {
		return nil, fmt.Errorf("archive: write %s: %w", res.File, err)
	}
	// Oldest instant first and, within one, its completed file last: a crash
	// part way leaves a timeline that is still a valid suffix.
	for _, e := range archived {
		for _, name := range e.Files {
			if err := t.bucket.Delete(ctx, MetaDir+"/"+name); err != nil {
				return nil, fmt.Errorf("archive: delete %s: %w", name, err)
			}
		}
		for _, key := range []string{decisionKey(e.Time), HeartbeatDir + "/" + e.Time} {
			if err := t.bucket.Delete(ctx, key); err != nil {
				return nil, fmt.Errorf("archive: delete %s: %w", key, err)
			}
		}
		res.Archived = append(res.Archived, e.Time)
	}
	t.opts.logger.Info("archived instants", "count", len(res.Archived), "through", last, "file", res.File)
	return res, nil
}

// archiveCut returns how many leading timeline entries to archive: all of
// them completed, leaving keep completed data instants.
func archiveCut(tl *Timeline, keep int) int {
	total := len(tl.Completed())
	if total <= keep {
		return 0
	}
	// Stop at the first kept completed data instant or the first pending
	// instant, whichever comes first.
	n := 0
	for i, e := range tl.Entries {
		if e.State != StateCompleted {
			return i
		}
		if writesData(e.Action) {
			if n == total-keep {
				return i
			}
			n++
		}
	}
	return len(tl.Entries)
}

// archivedCheckpoints returns the checkpoint summary of the newest archive
// file, or an empty one.
func (t *Table) archivedCheckpoints(ctx context.Context) (*Checkpoints, error) {
	newest := ""
	err := t.bucket.List(ctx, archivePrefix, func(info objstore.ObjectInfo) error {
		if strings.HasSuffix(info.Key, ".json") && info.Key > newest {
			newest = info.Key
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list archive: %w", err)
	}
	if newest == "" {
		return newCheckpoints(), nil
	}
	data, err := objstore.ReadAll(ctx, t.bucket, newest)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", newest, err)
	}
	var af archiveFile
	if err := json.Unmarshal(data, &af); err != nil {
		return nil, &FileError{Path: newest, Problem: "corrupt archive", Err: err}
	}
	c := af.Checkpoints
	if c == nil {
		c = newCheckpoints()
	}
	if c.Writers == nil {
		c.Writers = map[string]WriterCheckpoint{}
	}
	if c.Partitions == nil {
		c.Partitions = map[string]map[int32]PartitionPosition{}
	}
	return c, nil
}
