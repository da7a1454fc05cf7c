package hudi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
)

// Rollback outcomes (table's).
const (
	OutcomeRolledBack = table.OutcomeRolledBack
	OutcomeCompleted  = table.OutcomeCompleted
	OutcomeLive       = table.OutcomeLive
	OutcomeAbsent     = table.OutcomeAbsent
)

// RollbackResult says what happened to one pending instant.
type RollbackResult struct {
	Instant      string
	Action       string
	Outcome      string
	FilesRemoved int
}

// RollbackFailed settles every pending commit and replacecommit whose
// writer is gone (no heartbeat within the expiry): a writer that had
// decided to commit is finished forward; the others are rolled back, their
// base files removed, so they never appear in a snapshot. Instants with a
// fresh heartbeat belong to live writers and are left alone. by names the
// caller in the decision it records.
func (t *Table) RollbackFailed(ctx context.Context, by string) ([]RollbackResult, error) {
	return t.rollbackFailed(ctx, by, false)
}

// Recover is RollbackFailed for a writer that is starting: besides the
// instants of dead writers, it settles at once every pending instant
// opened under writerID (its inflight file names the writer) by another
// process than this Table's, since a writer that is starting has none
// open. Call it before the writer's first Begin.
//
// Writer IDs should be unique among live writers. If another live process
// has writerID (a predecessor that is only paused, or a replica that kept
// the same ID), its open instant is rolled back too: that costs it the
// checkpoint (its commit fails with ErrFenced and removes its files), never
// exactly-once, since only an instant's decision commits it.
func (t *Table) Recover(ctx context.Context, writerID string) ([]RollbackResult, error) {
	res, err := t.rollbackFailed(ctx, writerID, true)
	if err != nil {
		return res, err
	}
	if _, err := t.SweepRolledBack(ctx); err != nil {
		return res, err
	}
	return res, nil
}

func (t *Table) rollbackFailed(ctx context.Context, by string, own bool) ([]RollbackResult, error) {
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	var out []RollbackResult
	for _, e := range tl.Pending() {
		if e.Action != ActionCommit && e.Action != ActionReplaceCommit {
			continue // other actions are Hudi's own table services
		}
		live, err := t.isLive(ctx, e)
		if err != nil {
			return out, err
		}
		if live && own && !t.isOpen(e.Time, by) {
			mine, err := t.openedBy(ctx, e, by)
			if err != nil {
				return out, err
			}
			live = !mine
		}
		if live {
			out = append(out, RollbackResult{Instant: e.Time, Action: e.Action, Outcome: OutcomeLive})
			continue
		}
		res, err := t.rollbackInstant(ctx, e.Time, e.Action, by)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// isLive reports whether the instant's writer kept its heartbeat fresh.
// Without a heartbeat file, the requested file's age stands in for it (a
// writer creates the heartbeat just after the requested file).
func (t *Table) isLive(ctx context.Context, e TimelineEntry) (bool, error) {
	return t.heartbeats().Live(ctx, e.Time, e.RequestedModTime, t.opts.now())
}

// RollbackInstant settles one pending commit or replacecommit instant whose
// writer is gone, usually the caller's own instant left by a crash, found in
// its local journal. It does what RollbackFailed does for one instant: a
// decided commit is finished forward (OutcomeCompleted); otherwise the
// rollback decision and the rolled-back marker are recorded, the instant's
// base files removed, and its timeline files deleted (OutcomeRolledBack).
//
// With files nil, the base files are found by listing the whole table, as
// RollbackFailed does. With files non-nil, exactly those keys are deleted
// and nothing is listed: files must then hold every base file the instant
// may have written (a key that does not exist is fine: a journal records a
// key before its upload starts; FilesRemoved counts the keys deleted).
// Every key must be the path of a base file named with instant ts, or
// RollbackInstant fails before doing anything.
//
// Nothing else is done when the instant is:
//   - completed: OutcomeCompleted;
//   - pending with a fresh heartbeat, not opened by writer by (Begin's
//     WriterID) and with no rollback decided: OutcomeLive (a live writer's
//     instant; RollbackFailed settles it once the heartbeat expires);
//   - absent from the active timeline with a commit decision:
//     OutcomeCompleted; with no decision: OutcomeAbsent (archived after
//     completing, or never created).
//
// An instant absent from the timeline that was rolled back before (by a
// RollbackFailed or FenceOthers of another writer) gives OutcomeRolledBack,
// and the keys in files are deleted again: its rollback is final, so they
// can only be files its writer uploaded after the rollback, which would
// otherwise wait for SweepRolledBack.
//
// Only the instant's own timeline files are listed (prefix .hoodie/<ts>.),
// never the table. by names the caller in the decision it records.
func (t *Table) RollbackInstant(ctx context.Context, ts, by string, files []string) (RollbackResult, error) {
	res := RollbackResult{Instant: ts}
	if !isDigits(ts) || (len(ts) != 17 && len(ts) != 14) {
		return res, fmt.Errorf("roll back %q: not an instant time", ts)
	}
	if err := checkInstantFiles(ts, files); err != nil {
		return res, err
	}
	e, found, err := t.instantEntry(ctx, ts)
	if err != nil {
		return res, err
	}
	if found {
		res.Action = e.Action
		switch {
		case e.State == StateCompleted:
			res.Outcome = OutcomeCompleted
			return res, nil
		case e.Action != ActionCommit && e.Action != ActionReplaceCommit:
			return res, fmt.Errorf("roll back %s: a pending %s: lakestream rolls back only %s and %s instants", ts, e.Action, ActionCommit, ActionReplaceCommit)
		}
		live, err := t.isLive(ctx, e)
		if err != nil {
			return res, err
		}
		if live {
			mine, err := t.openedBy(ctx, e, by)
			if err != nil {
				return res, err
			}
			if !mine {
				// A rollback already decided (one that crashed part way)
				// is finished whatever the heartbeat says.
				d, found, err := t.readDecision(ctx, ts)
				if err != nil {
					return res, err
				}
				if !found || d.Decision != decisionRollback {
					res.Outcome = OutcomeLive
					return res, nil
				}
			}
		}
		return t.rollbackInstantFiles(ctx, ts, e.Action, by, files)
	}
	d, found, err := t.readDecision(ctx, ts)
	if err != nil {
		return res, err
	}
	switch {
	case !found:
		res.Outcome = OutcomeAbsent
		return res, nil
	case d.Decision == decisionCommit:
		res.Action, res.Outcome = d.Action, OutcomeCompleted
		return res, nil
	}
	res.Action, res.Outcome = d.Action, OutcomeRolledBack
	if files != nil {
		if res.FilesRemoved, err = t.removeInstantFiles(ctx, ts, files); err != nil {
			return res, err
		}
	}
	return res, nil
}

// checkInstantFiles checks that every key is the path of a base file of
// instant ts, so that a wrong list can never delete another instant's data.
func checkInstantFiles(ts string, files []string) error {
	for _, k := range files {
		if err := validateRelativePath(k); err != nil {
			return fmt.Errorf("roll back %s: %w", ts, err)
		}
		part, name := splitTablePath(k)
		if err := validatePartitionPath(part); err != nil {
			return fmt.Errorf("roll back %s: file %s: %w", ts, k, err)
		}
		if _, _, fts, ok := ParseBaseFileName(name); !ok || fts != ts {
			return fmt.Errorf("roll back %s: %s is not a base file of the instant", ts, k)
		}
	}
	return nil
}

// instantEntry reads the timeline files of instant ts alone (a listing of
// the prefix .hoodie/<ts>.), as Timeline would show it.
func (t *Table) instantEntry(ctx context.Context, ts string) (TimelineEntry, bool, error) {
	var e TimelineEntry
	found := false
	err := t.bucket.List(ctx, MetaDir+"/"+ts+".", func(info objstore.ObjectInfo) error {
		name := strings.TrimPrefix(info.Key, MetaDir+"/")
		if strings.Contains(name, "/") {
			return nil
		}
		inst, ok, err := ParseTimelineFileName(name)
		if err != nil || !ok || inst.Time != ts {
			return err
		}
		e.Files = append(e.Files, name)
		if inst.State == StateRequested {
			e.RequestedModTime = info.ModTime
		}
		switch {
		case !found || inst.State > e.State:
			e.Instant, e.ModTime = inst, info.ModTime
		case inst.State == e.State && inst.Action != e.Action:
			return &FileError{Path: MetaDir + "/" + name, Problem: fmt.Sprintf("instant %s has both %s and %s files", ts, e.Action, inst.Action)}
		}
		found = true
		return nil
	})
	if err != nil {
		return TimelineEntry{}, false, fmt.Errorf("read timeline files of %s: %w", ts, err)
	}
	sort.Slice(e.Files, func(i, j int) bool { return fileState(e.Files[i]) < fileState(e.Files[j]) })
	return e, found, nil
}

// rollbackInstant claims the instant for rollback and carries out whatever
// decision is in force, finding the instant's base files by listing.
func (t *Table) rollbackInstant(ctx context.Context, ts, action, by string) (RollbackResult, error) {
	return t.rollbackInstantFiles(ctx, ts, action, by, nil)
}

// rollbackInstantFiles is rollbackInstant deleting the keys in files
// instead of listing when files is non-nil.
func (t *Table) rollbackInstantFiles(ctx context.Context, ts, action, by string, files []string) (RollbackResult, error) {
	res := RollbackResult{Instant: ts, Action: action}
	d, err := t.decide(ctx, decision{Decision: decisionRollback, Instant: ts, Action: action, By: by})
	if err != nil {
		return res, err
	}
	if d.Decision == decisionCommit {
		if err := t.publish(ctx, ts, action, d.Metadata); err != nil {
			return res, fmt.Errorf("finish commit %s: %w", ts, err)
		}
		if err := t.bucket.Delete(ctx, HeartbeatDir+"/"+ts); err != nil {
			return res, err
		}
		res.Outcome = OutcomeCompleted
		t.opts.logger.Info("finished a decided commit", "instant", ts, "by", by)
		return res, nil
	}
	// Instants written by Hudi itself have no decision: a completed file
	// means there is nothing to roll back.
	if _, err := t.bucket.Stat(ctx, MetaDir+"/"+completedFileName(ts, action)); err == nil {
		return res, &FileError{Path: MetaDir + "/" + completedFileName(ts, action), Problem: "completed, but a rollback was decided"}
	} else if !errors.Is(err, objstore.ErrNotExist) {
		return res, err
	}
	if err := t.bucket.Put(ctx, RolledBackDir+"/"+ts, bytes.NewReader(nil)); err != nil {
		return res, fmt.Errorf("roll back %s: mark: %w", ts, err)
	}
	n, err := t.removeInstantFiles(ctx, ts, files)
	if err != nil {
		return res, err
	}
	res.FilesRemoved = n
	if err := t.opts.failpoints.Hit(failpoint.DuringRollback); err != nil {
		return res, fmt.Errorf("roll back %s: %w", ts, err)
	}
	// Newest state first, so that a crash leaves a still-pending instant.
	for _, key := range []string{
		HeartbeatDir + "/" + ts,
		MetaDir + "/" + Instant{Time: ts, Action: action, State: StateInflight}.FileName(),
		MetaDir + "/" + Instant{Time: ts, Action: action, State: StateRequested}.FileName(),
	} {
		if err := t.bucket.Delete(ctx, key); err != nil {
			return res, fmt.Errorf("roll back %s: delete %s: %w", ts, key, err)
		}
	}
	res.Outcome = OutcomeRolledBack
	t.opts.logger.Info("rolled back instant", "instant", ts, "action", action, "files", n, "listed", files == nil, "by", by)
	return res, nil
}

// removeInstantFiles deletes the base files of instant ts: the keys in
// files if it is non-nil, else every base file named with ts, found by
// listing the table.
func (t *Table) removeInstantFiles(ctx context.Context, ts string, files []string) (int, error) {
	keys := files
	if keys == nil {
		suffix := "_" + ts + ".parquet"
		err := t.bucket.List(ctx, "", func(info objstore.ObjectInfo) error {
			if strings.HasPrefix(info.Key, MetaDir+"/") || !strings.HasSuffix(info.Key, suffix) {
				return nil
			}
			if _, _, fts, ok := ParseBaseFileName(info.Key[strings.LastIndexByte(info.Key, '/')+1:]); ok && fts == ts {
				keys = append(keys, info.Key)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("list files of %s: %w", ts, err)
		}
	}
	for _, k := range keys {
		if err := t.bucket.Delete(ctx, k); err != nil {
			return 0, fmt.Errorf("roll back %s: delete %s: %w", ts, k, err)
		}
	}
	return len(keys), nil
}

// rolledBack lists the instants that were rolled back.
func (t *Table) rolledBack(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	err := t.bucket.List(ctx, RolledBackDir+"/", func(info objstore.ObjectInfo) error {
		out[strings.TrimPrefix(info.Key, RolledBackDir+"/")] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list rolled-back instants: %w", err)
	}
	return out, nil
}

// SweepRolledBack deletes base files of rolled-back instants: files a
// zombie writer put after its instant was rolled back. Hudi's readers would
// count such files as committed once their instant is older than the active
// timeline, so ingestd sweeps at start and archival sweeps before it moves
// the timeline.
func (t *Table) SweepRolledBack(ctx context.Context) (int, error) {
	dead, err := t.rolledBack(ctx)
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	files, err := t.listBaseFiles(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		if dead[f.Instant] {
			if err := t.bucket.Delete(ctx, f.Path); err != nil {
				return n, fmt.Errorf("sweep %s: %w", f.Path, err)
			}
			n++
		}
	}
	if n > 0 {
		t.opts.logger.Info("swept files of rolled-back instants", "files", n)
	}
	return n, nil
}

// openedBy reports whether the inflight file of a pending instant names
// writerID.
func (t *Table) openedBy(ctx context.Context, e TimelineEntry, writerID string) (bool, error) {
	if e.State != StateInflight {
		return false, nil
	}
	name := MetaDir + "/" + e.FileName()
	data, err := objstore.ReadAll(ctx, t.bucket, name)
	if errors.Is(err, objstore.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", name, err)
	}
	m, err := ParseCommitMetadata(name, data, false)
	if err != nil {
		return false, err
	}
	return m.ExtraMetadata[MetaWriterID] == writerID, nil
}
