package hudi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/fence"
)

// OwnersDir holds the owner claims of Kafka partitions:
// owners/<topic>/<partition>/<sequence>. The claim with the highest
// sequence owns the partition; a commit carrying offsets for a partition it
// no longer owns is fenced.
const OwnersDir = MetaDir + "/.lakestream/owners"

// MetaPartitions, in an inflight file's extraMetadata, lists the partitions
// the writer owned when it opened the instant: "topic,0,1,2".
const MetaPartitions = "lakestream.partitions"

// Claim is one owner claim.
type Claim = fence.Claim

// ownerClaims are the table's owner claims, under OwnersDir.
func (t *Table) ownerClaims() fence.Claims {
	return fence.Claims{Bucket: t.bucket, Dir: OwnersDir, Logger: t.opts.logger}
}

// Owners returns the newest claim of every claimed partition of topic.
func (t *Table) Owners(ctx context.Context, topic string) (map[int32]Claim, error) {
	return t.ownerClaims().Owners(ctx, topic)
}

// claims lists the claim sequences of every partition of topic, ascending.
func (t *Table) claims(ctx context.Context, topic string) (map[int32][]int64, error) {
	return t.ownerClaims().List(ctx, topic)
}

// Claim makes writerID the owner of partitions of topic: for each, a claim
// with a sequence above every earlier one, created with put-if-absent so
// that two claimants never share one. It returns the sequence held per
// partition, to be passed with each commit (CommitRequest.Claims). Call
// FenceOthers next, then read the offsets.
func (t *Table) Claim(ctx context.Context, writerID, topic string, partitions []int32) (map[int32]int64, error) {
	return t.ownerClaims().Claim(ctx, writerID, topic, partitions)
}

// FenceOthers settles, at once, every pending instant another process
// opened while it owned one of partitions (or whose partitions are not
// known yet): a decided commit is finished, anything else rolled back, so
// that offsets read afterwards include everything that will ever be
// committed for these partitions. Call it after Claim and before reading
// offsets. writerID names the caller in the decisions it records.
//
// Only the instants this Table opened for writerID and still has open are
// skipped, never others because they carry writerID: a process replaced
// while it was only paused has its successor's writer ID, and its instant
// must be fenced all the same (see opened.go).
//
// An instant with only its requested file is between a writer's two puts of
// Begin: FenceOthers waits (up to the heartbeat expiry) for its inflight
// file, which names the writer and partitions, before deciding.
func (t *Table) FenceOthers(ctx context.Context, writerID, topic string, partitions []int32) ([]RollbackResult, error) {
	deadline := t.opts.now().Add(t.opts.heartbeatExpiry())
	var tl *Timeline
	for round := 0; ; round++ {
		var err error
		if tl, err = t.Timeline(ctx); err != nil {
			return nil, err
		}
		young := false
		for _, e := range tl.Pending() {
			if e.Action == ActionCommit && e.State == StateRequested && !t.isOpen(e.Time, writerID) && t.opts.now().Sub(e.RequestedModTime) < t.opts.heartbeatExpiry() {
				young = true
			}
		}
		if !young || !t.opts.now().Before(deadline) || time.Duration(round)*50*time.Millisecond > t.opts.heartbeatExpiry() {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	want := map[int32]bool{}
	for _, p := range partitions {
		want[p] = true
	}
	var out []RollbackResult
	for _, e := range tl.Pending() {
		if e.Action != ActionCommit {
			continue // replacecommits (the compactor) carry no offsets
		}
		if t.isOpen(e.Time, writerID) {
			continue // ours: its commit checks the claims it holds
		}
		parts, known, err := t.pendingPartitions(ctx, e)
		if err != nil {
			return out, err
		}
		if known && (parts.Topic != topic || !intersects(parts.Next, want)) {
			continue
		}
		res, err := t.rollbackInstant(ctx, e.Time, e.Action, writerID)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func intersects(have map[int32]int64, want map[int32]bool) bool {
	for p := range have {
		if want[p] {
			return true
		}
	}
	return false
}

// pendingPartitions reads the partitions an inflight file records. known
// is false for an instant with no inflight file yet, or one that lists no
// partitions.
func (t *Table) pendingPartitions(ctx context.Context, e TimelineEntry) (parts Offsets, known bool, err error) {
	if e.State != StateInflight {
		return Offsets{}, false, nil
	}
	name := MetaDir + "/" + e.FileName()
	data, err := objstore.ReadAll(ctx, t.bucket, name)
	if errors.Is(err, objstore.ErrNotExist) {
		return Offsets{}, false, nil // settled meanwhile
	}
	if err != nil {
		return Offsets{}, false, fmt.Errorf("read %s: %w", name, err)
	}
	m, err := ParseCommitMetadata(name, data, false)
	if err != nil {
		return Offsets{}, false, err
	}
	spec, ok := m.ExtraMetadata[MetaPartitions]
	if !ok {
		return Offsets{}, false, nil
	}
	parts, err = fence.ParsePartitions(spec)
	if err != nil {
		return Offsets{}, false, &FileError{Path: name, Problem: "bad " + MetaPartitions}
	}
	return parts, true, nil
}

// checkClaims verifies that writerID still holds every claim in held.
func (t *Table) checkClaims(ctx context.Context, writerID, topic string, offsets map[int32]int64, held map[int32]int64) error {
	return t.ownerClaims().Check(ctx, topic, offsets, held)
}

// heartbeats are the heartbeats of the table's open instants, under
// HeartbeatDir.
func (t *Table) heartbeats() fence.Heartbeats {
	return fence.Heartbeats{Bucket: t.bucket, Dir: HeartbeatDir, Interval: t.opts.heartbeatInterval, Misses: t.opts.heartbeatMisses}
}
