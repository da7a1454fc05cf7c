package hudi

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
)

// TestBeginClaimsTimeWhateverTheAction: an ingest commit and a compactor's
// replacecommit begun in the same millisecond by two processes both got
// the time, since their requested files have different names; the
// timeline then had "both commit and replacecommit files" for one instant
// and was unreadable for every reader (seen twice in ~150 compactor runs
// of the torture). The instant claim, which does not depend on the
// action, gives the time to one of them. Archival deletes the claims of
// the instants it archives.
func TestBeginClaimsTimeWhateverTheAction(t *testing.T) {
	stores := map[string]func(t *testing.T) objstore.Store{
		"filesystem": func(t *testing.T) objstore.Store {
			b, err := objstore.NewFilesystem(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"s3": func(t *testing.T) objstore.Store { return s3test.Start(t).NewBucket(t, "tables/t") },
	}
	for name, newBucket := range stores {
		t.Run(name, func(t *testing.T) {
			b := newBucket(t)
			defer b.Close()
			testBeginClaimsTime(t, b)
		})
	}
}

func testBeginClaimsTime(t *testing.T, b objstore.Store) {
	ctx := context.Background()
	if _, err := Create(ctx, b, Config{Name: "t", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 14, 44, 53, 110e6, time.UTC)
	clock := WithClock(func() time.Time { return at })
	// The ingest writer takes its time, then sleeps before it creates
	// anything; the compactor begins in that window, at the same time.
	fps, err := failpoint.Parse(failpoint.BeforeRequested+"=sleep(300ms)", 1)
	if err != nil {
		t.Fatal(err)
	}
	ingest, err := Open(ctx, b, clock, WithFailpoints(fps))
	if err != nil {
		t.Fatal(err)
	}
	compactor, err := Open(ctx, b, clock)
	if err != nil {
		t.Fatal(err)
	}
	var x1 *Txn
	var err1 error
	done := make(chan struct{})
	go func() { x1, err1 = ingest.Begin(ctx, BeginOptions{WriterID: "ingest-0"}); close(done) }()
	time.Sleep(100 * time.Millisecond)
	x2, err2 := compactor.Begin(ctx, BeginOptions{WriterID: "compactor", Action: ActionReplaceCommit})
	<-done
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	defer x1.Close()
	defer x2.Close()
	if x1.Instant() == x2.Instant() {
		t.Errorf("commit and replacecommit share instant time %s", x1.Instant())
	}
	tl, err := ingest.Timeline(ctx)
	if err != nil {
		t.Fatalf("timeline unreadable: %v", err)
	}
	if got := len(tl.Entries); got != 2 {
		t.Fatalf("%d instants on the timeline, want 2: %+v", got, tl.Entries)
	}
	for _, x := range []*Txn{x1, x2} {
		if _, err := b.Stat(ctx, instantClaimKey(x.Instant())); err != nil {
			t.Errorf("claim of %s %s: %v", x.Action(), x.Instant(), err)
		}
	}

	// Settle both, add commits, archive: the archived instants' claims go.
	if err := x2.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if err := x1.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	for c := 1; c <= 3; c++ {
		if err := commitOne(ctx, compactor, 0, c); err != nil {
			t.Fatal(err)
		}
	}
	res, err := compactor.Archive(ctx, ArchiveOptions{KeepCompleted: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Archived) != 2 {
		t.Fatalf("archived %v, want 2 instants", res.Archived)
	}
	for _, ts := range res.Archived {
		if _, err := b.Stat(ctx, instantClaimKey(ts)); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("claim of archived instant %s: %v, want gone", ts, err)
		}
	}
	tl, err = compactor.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := tl.Entries[len(tl.Entries)-1].Time
	if _, err := b.Stat(ctx, instantClaimKey(kept)); err != nil {
		t.Errorf("claim of active instant %s: %v", kept, err)
	}
}

// TestArchiveSweepsUnusedInstantClaims: a writer that died between its
// instant claim and its requested file left a claim no instant uses.
// Archival deletes such claims at or before the archived instants once
// they are older than the heartbeat expiry, and leaves a young one (a
// Begin between its claim and its requested file) and those after the
// cut alone.
func TestArchiveSweepsUnusedInstantClaims(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	mem := objstore.NewMemory()
	mem.Now = clock.Now
	tbl, err := Create(ctx, mem, Config{Name: "t", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}},
		WithClock(clock.Now), WithHeartbeat(10*time.Second, 3))
	if err != nil {
		t.Fatal(err)
	}
	claim := func(ts string) {
		t.Helper()
		if ok, err := tbl.claimInstant(ctx, ts, ActionCommit, "dead"); err != nil || !ok {
			t.Fatalf("claim %s: %v %v", ts, ok, err)
		}
	}
	old := FormatInstantTime(t0.Add(-time.Millisecond))
	claim(old)
	var commits []string
	for c := 1; c <= 3; c++ {
		if err := commitOne(ctx, tbl, 0, c); err != nil {
			t.Fatal(err)
		}
		tl, err := tbl.Timeline(ctx)
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, tl.Entries[len(tl.Entries)-1].Time)
		clock.Advance(time.Second)
	}
	clock.Advance(time.Minute) // old is past the 30 s expiry
	young := FormatInstantTime(t0.Add(500 * time.Millisecond))
	claim(young)
	after := FormatInstantTime(clock.Now().Add(time.Hour))
	claim(after)
	res, err := tbl.Archive(ctx, ArchiveOptions{KeepCompleted: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Archived, commits[:2]) {
		t.Fatalf("archived %v, want %v", res.Archived, commits[:2])
	}
	var left []string
	if err := mem.List(ctx, InstantClaimDir+"/", func(info objstore.ObjectInfo) error {
		left = append(left, strings.TrimPrefix(info.Key, InstantClaimDir+"/"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{young, commits[2], after}; !slices.Equal(left, want) {
		t.Errorf("claims left %v, want %v (young unused, active instant, after the cut)", left, want)
	}
}
