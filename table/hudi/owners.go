package hudi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// OwnersDir holds the owner claims of Kafka partitions:
// owners/<topic>/<partition>/<sequence>. The claim with the highest
// sequence owns the partition; a commit carrying offsets for a partition it
// no longer owns is fenced.
const OwnersDir = MetaDir + "/.lakestream/owners"

// MetaPartitions, in an inflight file's extraMetadata, lists the partitions
// the writer owned when it opened the instant: "topic,0,1,2".
const MetaPartitions = "lakestream.partitions"

// claimsKept is how many claims per partition Claim leaves behind.
const claimsKept = 3

// Claim is one owner claim.
type Claim struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Seq       int64  `json:"seq"`
	WriterID  string `json:"writerId"`
}

func claimKey(topic string, p int32, seq int64) string {
	return fmt.Sprintf("%s/%s/%d/%020d", OwnersDir, topic, p, seq)
}

// Owners returns the newest claim of every claimed partition of topic.
func (t *Table) Owners(ctx context.Context, topic string) (map[int32]Claim, error) {
	all, err := t.claims(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]Claim{}
	for p, seqs := range all {
		newest := seqs[len(seqs)-1]
		data, err := objstore.ReadAll(ctx, t.bucket, claimKey(topic, p, newest))
		if err != nil {
			return nil, fmt.Errorf("read claim: %w", err)
		}
		var c Claim
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, &FileError{Path: claimKey(topic, p, newest), Problem: "corrupt claim", Err: err}
		}
		out[p] = c
	}
	return out, nil
}

// claims lists the claim sequences of every partition of topic, ascending.
func (t *Table) claims(ctx context.Context, topic string) (map[int32][]int64, error) {
	prefix := OwnersDir + "/" + topic + "/"
	out := map[int32][]int64{}
	err := t.bucket.List(ctx, prefix, func(info objstore.ObjectInfo) error {
		ps, ss, ok := strings.Cut(strings.TrimPrefix(info.Key, prefix), "/")
		p, perr := strconv.ParseInt(ps, 10, 32)
		seq, serr := strconv.ParseInt(ss, 10, 64)
		if !ok || perr != nil || serr != nil {
			return &FileError{Path: info.Key, Problem: "not an owner claim"}
		}
		out[int32(p)] = append(out[int32(p)], seq)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list owner claims: %w", err)
	}
	for p := range out {
		slices.Sort(out[p])
	}
	return out, nil
}

// Claim makes writerID the owner of partitions of topic: for each, a claim
// with a sequence above every earlier one, created with put-if-absent so
// that two claimants never share one. It returns the sequence held per
// partition, to be passed with each commit (CommitRequest.Claims). Call
// FenceOthers next, then read the offsets.
func (t *Table) Claim(ctx context.Context, writerID, topic string, partitions []int32) (map[int32]int64, error) {
	if err := ValidateTopic(topic); err != nil {
		return nil, err
	}
	existing, err := t.claims(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, p := range partitions {
		seqs := existing[p]
		seq := int64(1)
		if len(seqs) > 0 {
			seq = seqs[len(seqs)-1] + 1
		}
		for {
			c, _ := json.Marshal(Claim{Topic: topic, Partition: p, Seq: seq, WriterID: writerID})
			err := t.bucket.PutIfAbsent(ctx, claimKey(topic, p, seq), bytes.NewReader(c))
			if err == nil {
				break
			}
			if !errors.Is(err, objstore.ErrExists) {
				return nil, fmt.Errorf("claim %s/%d: %w", topic, p, err)
			}
			seq++
		}
		out[p] = seq
		for _, old := range seqs {
			if old <= seq-claimsKept {
				if err := t.bucket.Delete(ctx, claimKey(topic, p, old)); err != nil {
					t.opts.logger.Warn("prune owner claim", "topic", topic, "partition", p, "seq", old, "err", err)
				}
			}
		}
	}
	t.opts.logger.Info("claimed partitions", "writer", writerID, "topic", topic, "claims", out)
	return out, nil
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
	topic, list, _ := strings.Cut(spec, ",")
	parts = Offsets{Topic: topic, Next: map[int32]int64{}}
	if list != "" {
		for _, s := range strings.Split(list, ",") {
			p, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return Offsets{}, false, &FileError{Path: name, Problem: "bad " + MetaPartitions}
			}
			parts.Next[int32(p)] = 0
		}
	}
	return parts, true, nil
}

// checkClaims verifies that writerID still holds every claim in held.
func (t *Table) checkClaims(ctx context.Context, writerID, topic string, offsets map[int32]int64, held map[int32]int64) error {
	all, err := t.claims(ctx, topic)
	if err != nil {
		return err
	}
	for p := range offsets {
		seq, ok := held[p]
		if !ok {
			return &FencedError{Reason: fmt.Sprintf("no owner claim held for %s/%d", topic, p)}
		}
		seqs := all[p]
		if len(seqs) == 0 || seqs[len(seqs)-1] != seq {
			newest := int64(0)
			if len(seqs) > 0 {
				newest = seqs[len(seqs)-1]
			}
			return &FencedError{Reason: fmt.Sprintf("partition %s/%d: claim %d held, the newest is %d (another writer owns it now)", topic, p, seq, newest)}
		}
	}
	return nil
}
