package fence

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// TestOffsetsRoundTrip: the checkpoint key and the partition list parse
// back to what was formatted; malformed ones are refused.
func TestOffsetsRoundTrip(t *testing.T) {
	o := Offsets{Topic: "pv", Next: map[int32]int64{2: 7, 0: 5, 10: 0}}
	if s := o.String(); s != "pv,0:5,2:7,10:0" {
		t.Fatalf("String = %q", s)
	}
	back, err := ParseOffsets(o.String())
	if err != nil || back.String() != o.String() {
		t.Fatalf("ParseOffsets = %v, %v", back, err)
	}
	for _, bad := range []string{"", "pv,0", "pv,0:-1", "pv,-1:3", "pv,0:1,0:2", "p v,0:1"} {
		if _, err := ParseOffsets(bad); err == nil {
			t.Errorf("ParseOffsets(%q) succeeded", bad)
		}
	}
	spec := FormatPartitions("pv", []int32{3, 1})
	if spec != "pv,1,3" {
		t.Fatalf("FormatPartitions = %q", spec)
	}
	parts, err := ParsePartitions(spec)
	if err != nil || parts.Topic != "pv" || len(parts.Next) != 2 {
		t.Fatalf("ParsePartitions = %v, %v", parts, err)
	}
	if _, err := ParsePartitions("pv,x"); err == nil {
		t.Fatal("ParsePartitions of a bad list succeeded")
	}
}

// TestClaimsFence: a second claim of a partition fences the first
// claimant's commit, and only for that partition.
func TestClaimsFence(t *testing.T) {
	ctx := context.Background()
	c := Claims{Bucket: objstore.NewMemory(), Dir: "owners", Logger: slog.New(slog.DiscardHandler)}
	a, err := c.Claim(ctx, "a", "pv", []int32{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx, "pv", map[int32]int64{0: 1, 1: 1}, a); err != nil {
		t.Fatalf("the owner is fenced: %v", err)
	}
	b, err := c.Claim(ctx, "b", "pv", []int32{1})
	if err != nil || b[1] != a[1]+1 {
		t.Fatalf("second claim %v, %v", b, err)
	}
	err = c.Check(ctx, "pv", map[int32]int64{0: 1, 1: 1}, a)
	if !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), "pv/1") {
		t.Fatalf("the former owner's check: %v, want fenced on pv/1", err)
	}
	if err := c.Check(ctx, "pv", map[int32]int64{0: 1}, a); err != nil {
		t.Fatalf("partition 0 is still a's: %v", err)
	}
	owners, err := c.Owners(ctx, "pv")
	if err != nil || owners[0].WriterID != "a" || owners[1].WriterID != "b" {
		t.Fatalf("owners %v, %v", owners, err)
	}
}

type payload struct {
	Files []string `json:"files"`
}

// TestDecideOnce: the first decision wins; the second decider gets it.
func TestDecideOnce(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	won, err := Decide(ctx, b, "d/1", Decision[payload]{Decision: DecisionCommit, Instant: "1", By: "a", Metadata: &payload{Files: []string{"f"}}})
	if err != nil || won.By != "a" {
		t.Fatalf("first decision %v, %v", won, err)
	}
	got, err := Decide(ctx, b, "d/1", Decision[payload]{Decision: DecisionRollback, Instant: "1", By: "b"})
	if err != nil || got.Decision != DecisionCommit || got.By != "a" || got.Metadata == nil || got.Metadata.Files[0] != "f" {
		t.Fatalf("second decision got %+v, %v; want a's commit", got, err)
	}
	if _, found, err := ReadDecision[payload](ctx, b, "d/2"); found || err != nil {
		t.Fatalf("ReadDecision of none: %v, %v", found, err)
	}
	if err := b.Put(ctx, "d/3", strings.NewReader(`{"decision":"maybe"}`)); err != nil {
		t.Fatal(err)
	}
	var fe *FileError
	if _, _, err := ReadDecision[payload](ctx, b, "d/3"); !errors.As(err, &fe) {
		t.Fatalf("unknown decision: %v, want a FileError", err)
	}
}

// TestHeartbeatLive: a fresh heartbeat is live, an old one is not; without
// one, the instant's opening time stands in.
func TestHeartbeatLive(t *testing.T) {
	ctx := context.Background()
	h := Heartbeats{Bucket: objstore.NewMemory(), Dir: "hb", Interval: time.Second, Misses: 3}
	now := time.Now()
	if live, err := h.Live(ctx, "1", now.Add(-time.Second), now); err != nil || !live {
		t.Fatalf("just opened, no heartbeat yet: %v, %v", live, err)
	}
	if live, err := h.Live(ctx, "1", time.Time{}, now); err != nil || live {
		t.Fatalf("no heartbeat, opening unknown: %v, %v", live, err)
	}
	if err := h.Beat(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if live, err := h.Live(ctx, "1", time.Time{}, time.Now()); err != nil || !live {
		t.Fatalf("fresh heartbeat: %v, %v", live, err)
	}
	if live, err := h.Live(ctx, "1", time.Time{}, time.Now().Add(h.Expiry())); err != nil || live {
		t.Fatalf("expired heartbeat: %v, %v", live, err)
	}
}
