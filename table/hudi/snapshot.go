package hudi

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/lakestream/lakestream/internal/objstore"
)

// BaseFile is one Parquet base file of the table.
type BaseFile struct {
	// Path is relative to the table root.
	Path       string `json:"path"`
	FileID     string `json:"fileId"`
	Partition  string `json:"partition"`
	Instant    string `json:"instant"`
	WriteToken string `json:"writeToken"`
	SizeBytes  int64  `json:"sizeBytes"`
}

// Snapshot is what a reader of the latest table state sees.
type Snapshot struct {
	// Instant is the newest completed instant ("" for an empty table).
	Instant string `json:"instant"`
	// Files is the latest base file of every live file group, by path.
	Files []BaseFile `json:"files"`
}

// Snapshot returns the latest snapshot with Hudi's copy-on-write semantics:
// list every partition (a directory holding .hoodie_partition_metadata),
// keep base files whose instant is completed (or older than the first
// completed instant of the active timeline, i.e. archived, and not pending),
// take the newest base file of each file group, and drop file groups a
// completed replacecommit replaced. Files of instants lakestream rolled back
// are skipped even when a zombie wrote them after the rollback. A
// replacecommit archived by another process between the listing of the
// timeline and the read of its metadata makes Snapshot list again
// (readAgainIfArchived).
func (t *Table) Snapshot(ctx context.Context) (*Snapshot, error) {
	return readAgainIfArchived(ctx, func() (*Snapshot, error) { return t.snapshotOnce(ctx) })
}

func (t *Table) snapshotOnce(ctx context.Context) (*Snapshot, error) {
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	files, err := t.listBaseFiles(ctx)
	if err != nil {
		return nil, err
	}
	dead, err := t.rolledBack(ctx)
	if err != nil {
		return nil, err
	}
	live := files[:0]
	for _, f := range files {
		if !dead[f.Instant] {
			live = append(live, f)
		}
	}
	return t.snapshotOf(ctx, tl, live)
}

func (t *Table) snapshotOf(ctx context.Context, tl *Timeline, files []BaseFile) (*Snapshot, error) {
	completed := map[string]bool{}
	pending := map[string]bool{}
	firstCompleted, lastCompleted := "", ""
	replaced := map[string]bool{} // partition + "\x00" + fileId
	for _, e := range tl.Entries {
		if !writesData(e.Action) {
			continue
		}
		if e.State != StateCompleted {
			pending[e.Time] = true
			continue
		}
		completed[e.Time] = true
		if firstCompleted == "" {
			firstCompleted = e.Time
		}
		lastCompleted = e.Time
		if e.Action == ActionReplaceCommit {
			m, err := t.ReadCommitMetadata(ctx, e)
			if err != nil {
				return nil, err
			}
			for part, ids := range m.PartitionToReplaceFileIDs {
				for _, id := range ids {
					replaced[part+"\x00"+id] = true
				}
			}
		}
	}
	isCommitted := func(ts string) bool {
		if ts > lastCompleted {
			return false
		}
		return completed[ts] || (ts < firstCompleted && !pending[ts])
	}
	latest := map[string]BaseFile{}
	for _, f := range files {
		if !isCommitted(f.Instant) {
			continue
		}
		key := f.Partition + "\x00" + f.FileID
		if replaced[key] {
			continue
		}
		if cur, ok := latest[key]; !ok || f.Instant > cur.Instant || (f.Instant == cur.Instant && f.Path > cur.Path) {
			latest[key] = f
		}
	}
	snap := &Snapshot{Instant: lastCompleted, Files: make([]BaseFile, 0, len(latest))}
	for _, f := range latest {
		snap.Files = append(snap.Files, f)
	}
	sort.Slice(snap.Files, func(i, j int) bool { return snap.Files[i].Path < snap.Files[j].Path })
	return snap, nil
}

// listBaseFiles lists every base file in every partition of the table. A
// partition is a directory outside .hoodie/ that holds
// .hoodie_partition_metadata; files elsewhere are not part of the table.
func (t *Table) listBaseFiles(ctx context.Context) ([]BaseFile, error) {
	partitions := map[string]bool{}
	var candidates []BaseFile
	err := t.bucket.List(ctx, "", func(info objstore.ObjectInfo) error {
		if info.Key == MetaDir || strings.HasPrefix(info.Key, MetaDir+"/") || strings.Contains(info.Key, "/"+MetaDir+"/") {
			return nil
		}
		dir, name := splitTablePath(info.Key)
		if name == PartitionMetadataFile || strings.HasPrefix(name, PartitionMetadataFile+".") {
			partitions[dir] = true
			return nil
		}
		fileID, token, ts, ok := ParseBaseFileName(name)
		if !ok {
			return nil
		}
		candidates = append(candidates, BaseFile{
			Path: info.Key, FileID: fileID, Partition: dir, Instant: ts,
			WriteToken: token, SizeBytes: info.Size,
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list base files: %w", err)
	}
	out := candidates[:0]
	for _, f := range candidates {
		if partitions[f.Partition] {
			out = append(out, f)
		}
	}
	t.mu.Lock()
	for p := range partitions {
		t.partitions[p] = true
	}
	t.mu.Unlock()
	return out, nil
}
