package iceberg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// Expire expires the Iceberg snapshots with Hudi's archival: call it with
// the newest instant an archival is about to archive (Timeline.ArchiveThrough)
// or whose replaced files a clean is about to delete, before that archival
// or clean deletes any file. It first publishes every completed instant
// (CatchUp), then removes every snapshot committed up to and including the
// last one that publishes an instant at or before through, except the
// current snapshot, and records through as PropExpiredThrough. The
// snapshots left were all committed after every instant through through
// was published: none references a file of a file group a replacecommit
// through through retired, which is what the archival deletes. Instants
// complete out of order (two writers: ingestd replicas, the compactor), so
// the removed snapshots may include some of instants newer than through,
// published before an older one that completed late: those instants are
// recorded in PropExpiredAfter, in the same metadata version, so that no
// CatchUp publishes them again. Manifests and manifest lists only removed
// snapshots referenced, stats sidecars of instants through through, and
// unreferenced manifests older than the orphan age are deleted. Data files
// never are: they are Hudi's.
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
	// The pending check comes before the catch-up: an instant that
	// completed between a catch-up and the check would be neither pending
	// nor published, and the expiry would count it as published.
	tl, err := p.table.Timeline(ctx)
	if err != nil {
		return res, err
	}
	for _, e := range tl.Pending() {
		if e.Time <= through && (e.Action == hudi.ActionCommit || e.Action == hudi.ActionReplaceCommit) {
			return res, fmt.Errorf("expire iceberg snapshots through %s: instant %s is pending", through, e.Time)
		}
	}
	s := p.newSession(ctx)
	if err := p.catchUp(ctx, s, res); err != nil {
		return res, err
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

// expireOnce commits the expiry on st, which must be the newest metadata
// version: errConflict if another publisher committed a version since.
func (p *Publisher) expireOnce(ctx context.Context, s *session, st *state, through string, res *Result) error {
	md := st.tbl.Metadata()
	snaps := md.Snapshots()
	cur := md.CurrentSnapshot()
	instant := func(sn table.Snapshot) string {
		if sn.Summary == nil {
			return ""
		}
		return sn.Summary.Properties[SummaryInstant]
	}
	cutSeq := int64(-1)
	for _, sn := range snaps {
		if ts := instant(sn); ts != "" && ts <= through && sn.SequenceNumber > cutSeq {
			cutSeq = sn.SequenceNumber
		}
	}
	gone := func(sn table.Snapshot) bool {
		return sn.SequenceNumber <= cutSeq && (cur == nil || sn.SnapshotID != cur.SnapshotID)
	}
	watermark := max(st.watermark, through)
	// The instants newer than the new watermark whose snapshots go (or
	// went earlier): published, though neither a snapshot nor the
	// watermark will say so.
	after := slices.Clone(st.after)
	var remove []int64
	var removed []table.Snapshot
	for _, sn := range snaps {
		if gone(sn) {
			remove = append(remove, sn.SnapshotID)
			removed = append(removed, sn)
			if ts := instant(sn); ts > watermark {
				after = append(after, ts)
			}
		}
	}
	after = parseExpiredAfter(strings.Join(after, ","), watermark)
	afterProp := strings.Join(after, ",")
	propsChange := watermark != st.watermark || md.Properties()[PropExpiredAfter] != afterProp
	if len(remove) == 0 && !propsChange {
		return nil
	}
	updates := []table.Update{}
	if len(remove) > 0 {
		updates = append(updates, table.NewRemoveSnapshotsUpdate(remove, false))
	}
	if propsChange {
		set := iceberg.Properties{PropExpiredThrough: watermark}
		if afterProp != "" {
			set[PropExpiredAfter] = afterProp
		}
		updates = append(updates, table.NewSetPropertiesUpdate(set))
		if afterProp == "" {
			if _, ok := md.Properties()[PropExpiredAfter]; ok {
				updates = append(updates, table.NewRemovePropertiesUpdate([]string{PropExpiredAfter}))
			}
		}
	}
	var curID *int64
	if cur != nil {
		id := cur.SnapshotID
		curID = &id
	}
	reqs := []table.Requirement{table.AssertTableUUID(md.TableUUID()), table.AssertRefSnapshotID(table.MainBranch, curID)}
	// On exactly the version st was read from: another expiry committed
	// since (the main branch unchanged) may have raised the watermark or
	// recorded instants in PropExpiredAfter that these updates, computed
	// from st, would overwrite.
	_, _, err := s.commitAt(st.version, reqs, updates)
	if err != nil {
		if errors.Is(err, errConflict) {
			return errConflict
		}
		return fmt.Errorf("expire iceberg snapshots through %s: %w", through, err)
	}
	res.Expired += len(remove)
	p.opts.logger.Info("expired iceberg snapshots", "through", through, "snapshots", len(remove), "expired_after", len(after))

	// Files only the removed snapshots referenced.
	kept := map[string]bool{}
	for _, sn := range snaps {
		if gone(sn) {
			continue
		}
		kept[sn.ManifestList] = true
		mfs, err := sn.Manifests(s.io)
		if err != nil {
			if errors.Is(p.readError(s, st.version+1, err), errConflict) {
				// Another expiry, after this one, removed the snapshot
				// and deleted its files: what is kept is unknown now.
				// The expiry stands; its files are left to a later
				// expiry's orphan sweep.
				p.opts.logger.Info("expire: a later expiry removed a kept snapshot; files left to the orphan sweep", "manifest_list", sn.ManifestList)
				return nil
			}
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
