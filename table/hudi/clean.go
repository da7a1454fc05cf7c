package hudi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// Cleaning replaced files. A replacecommit (a compaction) retires file
// groups: readers of the snapshot stop reading them at once, but a query
// that planned before may still be reading their files, so they are
// deleted only a retention period after the replacecommit completed
// (CleanReplaced). And a replacecommit must not leave the active timeline
// while its replaced files exist: Hudi's readers take base files older
// than the active timeline as committed, so the replaced files would be
// visible again and their rows counted twice (apache/hudi#6938). Archive
// therefore holds a replacecommit younger than the retention whose
// replaced files still exist (holdReplaced), and deletes those of older
// ones before it archives them.

// DefaultReplacedRetention is how long replaced files are kept after
// their replacecommit completed.
const DefaultReplacedRetention = time.Hour

// CleanOptions configure CleanReplaced.
type CleanOptions struct {
	// Retention is how long after its replacecommit completed a replaced
	// file is kept. Default 1h (DefaultReplacedRetention); negative: an
	// error.
	Retention time.Duration
}

// CleanResult says what CleanReplaced did.
type CleanResult struct {
	FilesRemoved int
	// Kept counts the replaced files still within their retention.
	Kept int
}

// retiredFiles returns the base files of file groups replaced by the
// completed replacecommits of the active timeline, with the completion
// time of the replacecommit that retired them.
func (t *Table) retiredFiles(ctx context.Context, tl *Timeline, upTo int) (map[BaseFile]time.Time, error) {
	retire := map[string]TimelineEntry{}
	for _, e := range tl.Entries[:upTo] {
		if e.Action != ActionReplaceCommit || e.State != StateCompleted {
			continue
		}
		m, err := t.readMetadataSkippingStats(ctx, MetaDir+"/"+e.FileName())
		if err != nil {
			return nil, fmt.Errorf("replaced files: %w", err)
		}
		for part, ids := range m.PartitionToReplaceFileIDs {
			for _, id := range ids {
				retire[part+"\x00"+id] = e
			}
		}
	}
	if len(retire) == 0 {
		return nil, nil
	}
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
	out := map[BaseFile]time.Time{}
	for _, f := range files {
		e, ok := retire[f.Partition+"\x00"+f.FileID]
		if ok && f.Instant <= e.Time && !live[f.Path] {
			out[f] = e.ModTime
		}
	}
	return out, nil
}

// CleanReplaced deletes the base files of file groups that completed
// replacecommits retired at least opts.Retention ago. The compactor runs
// it after each run.
func (t *Table) CleanReplaced(ctx context.Context, opts CleanOptions) (*CleanResult, error) {
	if opts.Retention < 0 {
		return nil, fmt.Errorf("clean: retention %s: must not be negative", opts.Retention)
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultReplacedRetention
	}
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	retired, err := t.retiredFiles(ctx, tl, len(tl.Entries))
	if err != nil {
		return nil, fmt.Errorf("clean: %w", err)
	}
	res := &CleanResult{}
	now := t.opts.now()
	for f, at := range retired {
		if now.Sub(at) < opts.Retention {
			res.Kept++
			continue
		}
		if err := t.bucket.Delete(ctx, f.Path); err != nil {
			return res, fmt.Errorf("clean: remove %s: %w", f.Path, err)
		}
		res.FilesRemoved++
	}
	if res.FilesRemoved > 0 {
		t.opts.logger.Info("removed replaced files", "files", res.FilesRemoved, "kept", res.Kept, "retention", opts.Retention.String())
	}
	return res, nil
}

// holdReplaced returns how many of the first cut timeline entries Archive
// may archive: it stops at the first completed replacecommit younger than
// retention (default DefaultReplacedRetention) whose replaced files still
// exist. Older ones are archived; Archive removes their replaced files
// first. Only the replaced partitions of young replacecommits are listed.
func (t *Table) holdReplaced(ctx context.Context, tl *Timeline, cut int, retention time.Duration) (int, error) {
	if retention <= 0 {
		retention = DefaultReplacedRetention
	}
	now := t.opts.now()
	for i, e := range tl.Entries[:cut] {
		if e.Action != ActionReplaceCommit || e.State != StateCompleted || now.Sub(e.ModTime) >= retention {
			continue
		}
		m, err := t.readMetadataSkippingStats(ctx, MetaDir+"/"+e.FileName())
		if err != nil {
			return 0, fmt.Errorf("archive: %w", err)
		}
		for part, ids := range m.PartitionToReplaceFileIDs {
			exist, err := t.replacedFilesExist(ctx, part, ids, e.Time)
			if err != nil {
				return 0, fmt.Errorf("archive: %w", err)
			}
			if exist {
				t.opts.logger.Info("archive holds a replacecommit whose replaced files are kept", "instant", e.Time, "retention", retention.String())
				return i, nil
			}
		}
	}
	return cut, nil
}

// replacedFilesExist reports whether partition part holds a base file of
// one of the file groups ids written at or before ts.
func (t *Table) replacedFilesExist(ctx context.Context, part string, ids []string, ts string) (bool, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	prefix := ""
	if part != "" {
		prefix = part + "/"
	}
	errFound := errors.New("found")
	err := t.bucket.List(ctx, prefix, func(info objstore.ObjectInfo) error {
		dir, name := splitTablePath(info.Key)
		if dir != part {
			return nil
		}
		if id, _, fts, ok := ParseBaseFileName(name); ok && want[id] && fts <= ts {
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("list %s: %w", part, err)
	}
	return false, nil
}
