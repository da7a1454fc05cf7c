package iceberg

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// TestPublishersRace: two publishers (two ingestd replicas, or one and the
// compactor) catch up over the same timeline, in a loop, while commits and
// a replacecommit land; every instant is published exactly once, and the
// table reads as the Hudi snapshot.
func TestPublishersRace(t *testing.T) {
	for _, storage := range storages {
		t.Run(storage, func(t *testing.T) { testPublishersRace(t, storage) })
	}
}

func testPublishersRace(t *testing.T, storage string) {
	f := newFixture(t, storage)
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	pubs := []*Publisher{f.publisher(WithBackoff(time.Millisecond, 20*time.Millisecond)), f.publisher(WithBackoff(time.Millisecond, 20*time.Millisecond))}
	ctx, cancel := context.WithCancel(f.ctx)
	var wg sync.WaitGroup
	conflicts := make([]int, len(pubs))
	errs := make(chan error, len(pubs))
	for i, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				res, err := p.CatchUp(ctx)
				if err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
				if res != nil {
					conflicts[i] += res.Conflicts
				}
			}
		}()
	}
	for i := range 12 {
		f.commit(f.events(60, base, 2))
		if i == 6 {
			f.replace(partitionPath(base, false))
		}
	}
	// Both publish once more after the last commit, as the hooks would.
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, p := range pubs {
		if _, err := p.CatchUp(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := published(t, f.ctx, pubs[0])
	want := f.completed()
	if !slices.Equal(got, want) {
		t.Fatalf("snapshots publish\n%v\nthe timeline completed\n%v", got, want)
	}
	t.Logf("%d instants, races lost: %v", len(want), conflicts)
	f.checkSame(pubs[1], testColumns)
	checkVersionHint(t, f)
}

// TestLostCreateRace: a publisher that found no Iceberg table plans to
// publish every instant, and loses the race to create the table to one
// that has published them meanwhile. It must start over rather than
// publish an instant a second time (its files twice: the next replace
// snapshot then lists a deleted file twice, and scans read rows twice).
func TestLostCreateRace(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	f.commit(f.events(60, base, 2))
	f.commit(f.events(60, base, 2))
	late := f.publisher()
	s := late.newSession(f.ctx)
	st, err := s.state() // no table yet
	if err != nil {
		t.Fatal(err)
	}
	todo, err := late.unpublished(f.ctx, st)
	if err != nil || len(todo) != 2 || st.tbl != nil {
		t.Fatalf("planned %d instants (table %v), err %v; want 2 and no table", len(todo), st.tbl != nil, err)
	}
	if _, err := f.publisher().CatchUp(f.ctx); err != nil {
		t.Fatal(err)
	}
	err = late.publishOne(f.ctx, s, st, &todo[0])
	if !errors.Is(err, errConflict) {
		t.Fatalf("publishing %s after another publisher did: %v, want a conflict", todo[0].ts, err)
	}
	if _, err := late.CatchUp(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := published(t, f.ctx, late), f.completed(); !slices.Equal(got, want) {
		t.Fatalf("snapshots publish\n%v\nthe timeline completed\n%v", got, want)
	}
	f.checkSame(late, testColumns)
}

// TestCatchUpArchived: publishing was off while the table was archived,
// a replacecommit with it (its replaced files deleted); once on, the
// publisher publishes every archived instant in order, then expires their
// snapshots, and the table reads as the Hudi snapshot.
func TestCatchUpArchived(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	off := f.publisher(WithEnabled(false))
	var all []string
	for i := range 5 {
		all = append(all, f.commit(f.events(80, base, 2)))
		if i == 2 {
			all = append(all, f.replace(partitionPath(base, false)))
		}
		if _, err := off.CatchUp(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.bucket.Stat(f.ctx, VersionHintKey); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("a disabled publisher wrote metadata: %v", err)
	}
	// No retention of the replaced files (the default 1h holds the young
	// replacecommit on the timeline, table/hudi/clean.go).
	ar, err := f.table.Archive(f.ctx, hudi.ArchiveOptions{KeepCompleted: 2, ReplacedRetention: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if ar.FilesRemoved == 0 || len(ar.Archived) != 4 {
		t.Fatalf("archival %+v: want 4 instants and the replaced files removed", ar)
	}
	p := f.publisher()
	res, err := p.CatchUp(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Published, all) {
		t.Fatalf("published %v, want %v", res.Published, all)
	}
	if res.Expired != 4 {
		t.Fatalf("expired %d snapshots, want the 4 archived instants'", res.Expired)
	}
	f.checkSame(p, testColumns)
	checkReferencedExist(t, f, p)
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := tbl.Properties()[PropExpiredThrough]; got != ar.Archived[3] {
		t.Fatalf("expired through %q, want %s", got, ar.Archived[3])
	}
	// Nothing again.
	if res, err := f.publisher().CatchUp(f.ctx); err != nil || len(res.Published) != 0 {
		t.Fatalf("again: %+v %v", res, err)
	}
}

// TestSidecarStats: with a stats sidecar for every instant, the publisher
// reads no Parquet footer, and the metrics are the same as from the
// footers.
func TestSidecarStats(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 3 {
		ts := f.commit(f.events(100, base, 2))
		// What the writer will do before its commit decision: here from
		// the footers, which the writer has in memory.
		m := f.commitMetadata(ts)
		var ws []hudi.WriteStat
		for _, s := range m.PartitionToWriteStats {
			ws = append(ws, s...)
		}
		st, err := FooterStats(f.bucket, 4).InstantStats(f.ctx, ts, ws)
		if err != nil {
			t.Fatal(err)
		}
		if err := filestats.WriteSidecar(f.ctx, f.bucket, ts, st); err != nil {
			t.Fatal(err)
		}
	}
	p := f.publisher(WithStats(SidecarStats(f.bucket, failStats{t})))
	if _, err := p.CatchUp(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.checkSame(p, testColumns)
	checkMetrics(t, f, p)
	// Expire deletes the sidecars of the instants it expires through.
	tl, _ := f.table.Timeline(f.ctx)
	if _, err := p.Expire(f.ctx, tl.Completed()[1].Time); err != nil {
		t.Fatal(err)
	}
	n := 0
	f.bucket.List(f.ctx, filestats.SidecarDir+"/", func(objstore.ObjectInfo) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d sidecars left, want 1", n)
	}
}

// TestSidecarFallback: an instant whose sidecar is missing, does not name
// every file, or is malformed (cut short) is published from its footers,
// with the same metrics; one with a good sidecar reads no footer.
func TestSidecarFallback(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	var instants []string
	for i := range 4 {
		ts := f.commit(f.events(100, base, 2))
		instants = append(instants, ts)
		m := f.commitMetadata(ts)
		var ws []hudi.WriteStat
		for _, s := range m.PartitionToWriteStats {
			ws = append(ws, s...)
		}
		st, err := FooterStats(f.bucket, 4).InstantStats(f.ctx, ts, ws)
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0: // none
			continue
		case 1: // partial
			st.Files = st.Files[:1]
		}
		if err := filestats.WriteSidecar(f.ctx, f.bucket, ts, st); err != nil {
			t.Fatal(err)
		}
		if i == 2 { // cut short
			data, err := objstore.ReadAll(f.ctx, f.bucket, filestats.SidecarKey(ts))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.bucket.Put(f.ctx, filestats.SidecarKey(ts), bytes.NewReader(data[:len(data)-10])); err != nil {
				t.Fatal(err)
			}
		}
	}
	footers := &countStats{inner: FooterStats(f.bucket, 4)}
	p := f.publisher(WithStats(SidecarStats(f.bucket, footers)))
	if _, err := p.CatchUp(f.ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(footers.instants, instants[:3]) {
		t.Fatalf("footers read for %v, want those of %v (no sidecar, partial, cut short)", footers.instants, instants[:3])
	}
	f.checkSame(p, testColumns)
	checkMetrics(t, f, p)
}

// countStats records the instants it is asked about.
type countStats struct {
	inner    Stats
	mu       sync.Mutex
	instants []string
}

func (s *countStats) InstantStats(ctx context.Context, instant string, files []hudi.WriteStat) (*filestats.Instant, error) {
	s.mu.Lock()
	s.instants = append(s.instants, instant)
	s.mu.Unlock()
	return s.inner.InstantStats(ctx, instant, files)
}

type failStats struct{ t *testing.T }

func (s failStats) InstantStats(_ context.Context, instant string, _ []hudi.WriteStat) (*filestats.Instant, error) {
	s.t.Errorf("instant %s: the footers were read despite the sidecar", instant)
	return nil, errors.New("no footer reads")
}

func (f *fixture) commitMetadata(ts string) *hudi.CommitMetadata {
	f.t.Helper()
	tl, err := f.table.Timeline(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	e, ok := tl.Find(ts)
	if !ok {
		f.t.Fatalf("no instant %s", ts)
	}
	m, err := f.table.ReadCommitMetadata(f.ctx, e)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// TestOptionsValidate: every problem at once, each named.
func TestOptionsValidate(t *testing.T) {
	f := newFixture(t, "filesystem")
	_, err := New(f.table, "s3://bucket/x?endpoint=http://secret", WithMaxConflicts(0), WithBackoff(0, -1),
		WithMetadataVersionsKept(0), WithOrphanAge(time.Second), WithFooterConcurrency(0), WithLogger(nil), WithInstantsPerCommit(0), WithManifestMergeCount(1))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"max conflicts 0", "backoff", "metadata versions kept 0", "orphan age 1s", "footer concurrency 0", "logger is nil", "instants per commit 0", "manifest merge count 1", "no credentials, query or fragment"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows a query value", err)
	}
	_ = os.Getenv
}

// TestVersionHintAfterCancel: a publisher whose context is cancelled
// right after it created a metadata version (ingestd shutting down, or
// TestPublishersRace's cancel) still points the version hint at the
// newest version, or the next catch-up does.
func TestVersionHintAfterCancel(t *testing.T) {
	f := newFixture(t, "filesystem")
	p := f.publisher()
	f.commit(f.events(20, time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC), 1))
	if _, err := p.CatchUp(f.ctx); err != nil {
		t.Fatal(err)
	}
	// The hint a publisher of v1 put last, after v2 was created.
	if err := f.bucket.Put(f.ctx, VersionHintKey, strings.NewReader("1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	p.newSession(ctx).writeHint(1)
	checkVersionHint(t, f)

	// A put-if-absent that landed but reported an error (cancelled)
	// writes no hint at all: the next catch-up, with nothing to publish,
	// puts it.
	if err := f.bucket.Put(f.ctx, VersionHintKey, strings.NewReader("1")); err != nil {
		t.Fatal(err)
	}
	if res, err := f.publisher().CatchUp(f.ctx); err != nil || len(res.Published) != 0 {
		t.Fatalf("catch-up: %+v, %v", res, err)
	}
	checkVersionHint(t, f)
}

// TestPublishArchivedUnderIt: another replica archives the instants a
// publisher planned before it reads their commit metadata (the read of
// .hoodie/<t>.commit then finds no object). The publisher reads them from
// the archive and publishes them in the same round.
func TestPublishArchivedUnderIt(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 3 {
		f.commit(f.events(60, base, 2))
	}
	p := f.publisher()
	s, st, todo := plan(t, f, p, 3)
	ar, err := f.table.Archive(f.ctx, hudi.ArchiveOptions{KeepCompleted: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ar.Archived) != 2 {
		t.Fatalf("archival %+v: want the first 2 instants archived", ar)
	}
	var planned []string
	for i := range todo {
		if err := p.publishOne(f.ctx, s, st, &todo[i]); err != nil {
			t.Fatalf("publish %s (archived: %v): %v", todo[i].ts, i < 2, err)
		}
		planned = append(planned, todo[i].ts)
	}
	if got := published(t, f.ctx, p); !slices.Equal(got, planned) {
		t.Fatalf("snapshots publish\n%v\nthe instants planned\n%v", got, planned)
	}
	f.checkSame(p, testColumns)
}

// TestPublishOnExpiredParent checks a publisher whose view of the table is
// older than another publisher's expiry: the snapshot it builds on has
// been expired and its manifest list deleted. Its publish is a lost race
// (re-read and retried), not an error, and CatchUp then publishes what is
// left exactly once.
func TestPublishOnExpiredParent(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 3 {
		f.commit(f.events(60, base, 2))
	}
	stale, other := f.publisher(), f.publisher()
	catchUp(t, f, stale)
	s := stale.newSession(f.ctx)
	st, err := s.state()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		f.commit(f.events(60, base, 2))
	}
	todo, err := stale.unpublished(f.ctx, st)
	if err != nil || len(todo) != 2 {
		t.Fatalf("planned %d instants, err %v; want 2", len(todo), err)
	}
	catchUp(t, f, other)
	res, err := other.Expire(f.ctx, f.completed()[3])
	if err != nil || res.Expired == 0 {
		t.Fatalf("expire: %+v, %v; want snapshots expired", res, err)
	}
	if err := stale.publishOne(f.ctx, s, st, &todo[0]); !errors.Is(err, errConflict) {
		t.Fatalf("publish on an expired parent = %v, want a lost race (errConflict)", err)
	}
	catchUp(t, f, stale)
	got := published(t, f.ctx, stale)
	if len(got) != len(slices.Compact(slices.Sorted(slices.Values(got)))) {
		t.Fatalf("an instant published twice: %v", got)
	}
	checkAllPublished(t, f, stale)
	f.checkSame(stale, testColumns)
	checkReferencedExist(t, f, stale)
}
