package iceberg

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// Expire expires the Iceberg snapshots with Hudi's archival: call it with
// the newest instant an archival is about to archive (Timeline.ArchiveThrough)
// before that archival deletes any file. It first publishes every
// completed instant (CatchUp), then removes every snapshot committed up to
// and including the last one that publishes an instant at or before
// through, except the current snapshot, and records through as
// PropExpiredThrough. The snapshots left were all committed after every
// instant through through was published: none references a file of a file
// group a replacecommit through through retired, which is what the
// archival deletes. Manifests and manifest lists only removed snapshots
// referenced, stats sidecars of instants through through, and unreferenced
// manifests older than the orphan age are deleted. Data files never are:
// they are Hudi's.
//
// A pending commit or replacecommit at or before through is an error: the
// archival never passes one.
func (p *Publisher) Expire(ctx context.Context, through string) (*Result, error) {
	res := &Result{}
	if !p.opts.enabled || through == "" {
		return res, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.newSession(ctx)
	if err := p.catchUp(ctx, s, res); err != nil {
		return res, err
	}
	tl, err := p.table.Timeline(ctx)
	if err != nil {
		return res, err
	}
	for _, e := range tl.Pending() {
		if e.Time <= through && (e.Action == hudi.ActionCommit || e.Action == hudi.ActionReplaceCommit) {
			return res, fmt.Errorf("expire iceberg snapshots through %s: instant %s is pending", through, e.Time)
		}
	}
	err = p.expire(ctx, s, through, res)
	return res, err
}

// expire removes the snapshots as Expire says; every instant through
// through must be published.
func (p *Publisher) expire(ctx context.Context, s *session, through string, res *Result) error {
	for conflicts := 0; ; conflicts++ {
		st, err := s.state()
		if err != nil {
			return err
		}
		if st.tbl == nil {
			return nil
		}
		err = p.expireOnce(ctx, s, st, through, res)
		if !errors.Is(err, errConflict) {
			return err
		}
		res.Conflicts++
		if conflicts >= p.opts.maxConflicts {
			return fmt.Errorf("expire iceberg snapshots through %s: %d races lost in a row", through, conflicts)
		}
		if err := p.backoff(ctx, conflicts); err != nil {
			return err
		}
	}
}

func (p *Publisher) expireOnce(ctx context.Context, s *session, st *state, through string, res *Result) error {
	md := st.tbl.Metadata()
	snaps := md.Snapshots()
	cur := md.CurrentSnapshot()
	cutSeq := int64(-1)
	for _, sn := range snaps {
		if sn.Summary == nil {
			continue
		}
		if ts := sn.Summary.Properties[SummaryInstant]; ts != "" && ts <= through && sn.SequenceNumber > cutSeq {
			cutSeq = sn.SequenceNumber
		}
	}
	var remove []int64
	var removed []table.Snapshot
	for _, sn := range snaps {
		if sn.SequenceNumber <= cutSeq && (cur == nil || sn.SnapshotID != cur.SnapshotID) {
			remove = append(remove, sn.SnapshotID)
			removed = append(removed, sn)
		}
	}
	watermark := st.watermark
	if len(remove) == 0 && watermark >= through {
		return nil
	}
	updates := []table.Update{}
	if len(remove) > 0 {
		updates = append(updates, table.NewRemoveSnapshotsUpdate(remove, false))
	}
	if through > watermark {
		updates = append(updates, table.NewSetPropertiesUpdate(iceberg.Properties{PropExpiredThrough: through}))
	}
	var curID *int64
	if cur != nil {
		id := cur.SnapshotID
		curID = &id
	}
	reqs := []table.Requirement{table.AssertTableUUID(md.TableUUID()), table.AssertRefSnapshotID(table.MainBranch, curID)}
	_, _, err := s.CommitTable(ctx, s.ident(), reqs, updates)
	if err != nil {
		if errors.Is(err, errConflict) {
			return errConflict
		}
		return fmt.Errorf("expire iceberg snapshots through %s: %w", through, err)
	}
	res.Expired += len(remove)
	p.opts.logger.Info("expired iceberg snapshots", "through", through, "snapshots", len(remove))

	// Files only the removed snapshots referenced.
	kept := map[string]bool{}
	for _, sn := range snaps {
		if sn.SequenceNumber <= cutSeq && (cur == nil || sn.SnapshotID != cur.SnapshotID) {
			continue
		}
		kept[sn.ManifestList] = true
		mfs, err := sn.Manifests(s.io)
		if err != nil {
			return fmt.Errorf("expire: read manifest list %s: %w", sn.ManifestList, err)
		}
		for _, mf := range mfs {
			kept[mf.FilePath()] = true
		}
	}
	del := func(path string) {
		if kept[path] {
			return
		}
		key, err := s.io.key("remove", path)
		if err != nil {
			p.opts.logger.Warn("expire: file outside the table", "path", path)
			return
		}
		if err := p.bucket.Delete(ctx, key); err != nil {
			p.opts.logger.Warn("expire: delete", "key", key, "err", err)
		}
	}
	for _, sn := range removed {
		mfs, err := sn.Manifests(s.io)
		if err != nil && !errors.Is(err, objstore.ErrNotExist) {
			p.opts.logger.Warn("expire: read manifest list", "path", sn.ManifestList, "err", err)
		}
		for _, mf := range mfs {
			del(mf.FilePath())
		}
		del(sn.ManifestList)
	}
	p.sweep(ctx, through, kept)
	return nil
}

// sweep deletes the stats sidecars of instants through through and the
// manifests and manifest lists no retained snapshot references that are
// older than the orphan age (a commit that crashed, or whose cleanup
// failed). Failures are logged.
func (p *Publisher) sweep(ctx context.Context, through string, kept map[string]bool) {
	var drop []string
	err := p.bucket.List(ctx, filestats.SidecarDir+"/", func(info objstore.ObjectInfo) error {
		name := strings.TrimPrefix(info.Key, filestats.SidecarDir+"/")
		if ts, ok := strings.CutSuffix(name, ".jsonl"); ok && ts <= through {
			drop = append(drop, info.Key)
		}
		return nil
	})
	if err != nil {
		p.opts.logger.Warn("expire: list stats sidecars", "err", err)
	}
	cutoff := p.opts.now().Add(-p.opts.orphanAge)
	err = p.bucket.List(ctx, MetadataDir+"/", func(info objstore.ObjectInfo) error {
		if strings.HasSuffix(info.Key, ".avro") && !kept[p.location+"/"+info.Key] && info.ModTime.Before(cutoff) {
			drop = append(drop, info.Key)
		}
		return nil
	})
	if err != nil {
		p.opts.logger.Warn("expire: list iceberg metadata", "err", err)
	}
	for _, key := range drop {
		if err := p.bucket.Delete(ctx, key); err != nil {
			p.opts.logger.Warn("expire: delete", "key", key, "err", err)
		}
	}
}
