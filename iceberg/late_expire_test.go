package iceberg

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

// oneHour returns n events of the hour of base, none in the default
// partition: one Hudi partition.
func (f *fixture) oneHour(n int, base time.Time) map[string][]event {
	f.t.Helper()
	out := map[string][]event{}
	for k, v := range f.events(n, base, 1) {
		if k != partitionPath(base, true) {
			out[k] = v
		}
	}
	if len(out) != 1 {
		f.t.Fatalf("events of one hour fill %d partitions", len(out))
	}
	return out
}

// finish writes byPart into the pending instant x and commits it with
// replaced as its replaced file groups (a replacecommit's).
func (f *fixture) finish(x *hudi.Txn, byPart map[string][]event, replaced map[string][]string) string {
	f.t.Helper()
	set := f.newSet()
	if err := set.Begin(x.Instant(), 0); err != nil {
		f.t.Fatal(err)
	}
	for part, evs := range byPart {
		for _, e := range evs {
			if err := set.Write(f.ctx, part, f.row(e), e.eventTime.UnixMicro()); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	files, err := set.Finish(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	req := hudi.CommitRequest{Replaced: replaced}
	for _, fl := range files {
		req.Files = append(req.Files, fl.Stat())
	}
	if _, err := x.Commit(f.ctx, req); err != nil {
		f.t.Fatal(err)
	}
	return x.Instant()
}

func catchUp(t *testing.T, f *fixture, p *Publisher) *Result {
	t.Helper()
	res, err := p.CatchUp(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func tableProps(t *testing.T, f *fixture, p *Publisher) (through, after string) {
	t.Helper()
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	props := tbl.Properties()
	return props[PropExpiredThrough], props[PropExpiredAfter]
}

// checkAllPublished fails unless Published counts every completed instant
// of the active timeline as published.
func checkAllPublished(t *testing.T, f *fixture, p *Publisher) {
	t.Helper()
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	pub := Published(tbl.Metadata())
	for _, ts := range f.completed() {
		if !pub(ts) {
			t.Fatalf("completed instant %s: Published says unpublished", ts)
		}
	}
	if pub("99991231235959999") {
		t.Fatal("Published counts an instant that does not exist")
	}
}

// TestExpireLateCommit: a commit A that completes after a later commit C
// and a later replacecommit R were published is published last; the
// expiry through A removes the snapshots of C and R (committed before
// A's), which must count as published from then on: published again, R's
// snapshot would bring its replaced files back (rows twice) and fail
// ("cannot add files that are already referenced"). Then the instants
// through A and later are archived with publishing off: the catch-up of
// the archived ones must not publish C and R either, and the watermark
// passing them drops them from PropExpiredAfter.
func TestExpireLateCommit(t *testing.T) {
	f := newFixture(t, "filesystem")
	p := f.publisher()
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f.commit(f.oneHour(30, base))
	f.commit(f.oneHour(30, base))
	catchUp(t, f, p)
	// A: opened now, completed last.
	xA, err := f.table.Begin(f.ctx, hudi.BeginOptions{WriterID: "test-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer xA.Close()
	time.Sleep(5 * time.Millisecond)
	c := f.commit(f.oneHour(30, base))
	catchUp(t, f, p)
	r := f.replace(partitionPath(base, false))
	catchUp(t, f, p)
	a := f.finish(xA, f.oneHour(30, base), nil)
	if res := catchUp(t, f, p); !slices.Equal(res.Published, []string{a}) {
		t.Fatalf("published %v, want the late commit %s", res.Published, a)
	}
	if got := published(t, f.ctx, p); len(got) != 5 || got[4] != a || !(a < c && c < r) {
		t.Fatalf("published %v: want A=%s last, after C=%s and R=%s", got, a, c, r)
	}
	f.checkSame(p, testColumns)

	res, err := p.Expire(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if res.Expired != 4 {
		t.Fatalf("expired %d snapshots, want every one before A's (4)", res.Expired)
	}
	if got := published(t, f.ctx, p); !slices.Equal(got, []string{a}) {
		t.Fatalf("snapshots after the expiry %v, want A's only", got)
	}
	if res, err := p.CatchUp(f.ctx); err != nil || len(res.Published) != 0 {
		t.Fatalf("catch-up after the expiry: published %v again, %v", res.Published, err)
	}
	if through, after := tableProps(t, f, p); through != a || after != c+","+r {
		t.Fatalf("%s=%q %s=%q, want %s and %s,%s", PropExpiredThrough, through, PropExpiredAfter, after, a, c, r)
	}
	checkAllPublished(t, f, p)
	if _, err := p.Publish(f.ctx, r); err != nil {
		t.Fatalf("publish of an expired instant: %v", err)
	}
	f.checkSame(p, testColumns)
	checkReferencedExist(t, f, p)

	// Publishing off: two commits, then an archival through the first.
	off := f.publisher(WithEnabled(false))
	d1 := f.commit(f.oneHour(30, base))
	d2 := f.commit(f.oneHour(30, base))
	if _, err := off.CatchUp(f.ctx); err != nil {
		t.Fatal(err)
	}
	ar, err := f.table.Archive(f.ctx, hudi.ArchiveOptions{KeepCompleted: 1, ReplacedRetention: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(ar.Archived) == 0 || ar.Archived[len(ar.Archived)-1] != d1 || ar.FilesRemoved == 0 {
		t.Fatalf("archival %+v: want every instant through %s and R's replaced files", ar, d1)
	}
	res = catchUp(t, f, p)
	if !slices.Equal(res.Published, []string{d1, d2}) {
		t.Fatalf("catch-up of the archived instants published %v, want %s %s", res.Published, d1, d2)
	}
	if through, after := tableProps(t, f, p); through != d1 || after != "" {
		t.Fatalf("%s=%q %s=%q, want %s and none", PropExpiredThrough, through, PropExpiredAfter, after, d1)
	}
	if res := catchUp(t, f, p); len(res.Published) != 0 {
		t.Fatalf("catch-up published %v again", res.Published)
	}
	f.checkSame(p, testColumns)
	checkReferencedExist(t, f, p)
}

// TestExpireLateReplaceClean: a commit X in another partition is
// published before a replacecommit R with an older instant that completed
// late; X's snapshot still lists the files R retires. The compactor
// expires through R (its newest replacecommit) and cleans R's replaced
// files: no retained snapshot may reference one (X's goes, though X is
// newer than R), and X is not published again.
func TestExpireLateReplaceClean(t *testing.T) {
	f := newFixture(t, "filesystem")
	p := f.publisher()
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	part := partitionPath(base, false)
	f.commit(f.oneHour(30, base))
	f.commit(f.oneHour(30, base))
	catchUp(t, f, p)

	// R: planned and begun now, committed last.
	snap, err := f.table.Snapshot(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	xR, err := f.table.Begin(f.ctx, hudi.BeginOptions{WriterID: "compactor", Action: hudi.ActionReplaceCommit})
	if err != nil {
		t.Fatal(err)
	}
	defer xR.Close()
	time.Sleep(5 * time.Millisecond)
	x := f.commit(f.oneHour(30, base.Add(5*time.Hour)))
	catchUp(t, f, p)

	set, err := writer.NewSet(f.bucket, f.schema.Parquet(), 0, writer.WithSpoolDir(t.TempDir()),
		writer.WithPartitionColumns([]string{"dt", "hr"}, partitionColumnValues))
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Begin(xR.Instant(), 0); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, bf := range snap.Files {
		if bf.Partition != part {
			continue
		}
		ids = append(ids, bf.FileID)
		for _, row := range readRows(t, f.ctx, f.bucket, bf.Path) {
			if err := set.Write(f.ctx, part, row, writer.NoEventTime); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(ids) != 2 {
		t.Fatalf("partition %s has %d file groups, want 2", part, len(ids))
	}
	files, err := set.Finish(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := hudi.CommitRequest{Replaced: map[string][]string{part: ids}}
	for _, fl := range files {
		req.Files = append(req.Files, fl.Stat())
	}
	if _, err := xR.Commit(f.ctx, req); err != nil {
		t.Fatal(err)
	}
	r := xR.Instant()
	if res := catchUp(t, f, p); !slices.Equal(res.Published, []string{r}) || r >= x {
		t.Fatalf("published %v: want R=%s, older than X=%s, published after it", res.Published, r, x)
	}
	f.checkSame(p, testColumns)

	// The compactor's clean (compaction.Compactor.clean): expire through
	// the newest replacecommit, then delete the replaced files.
	if _, err := p.Expire(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	cr, err := f.table.CleanReplaced(f.ctx, hudi.CleanOptions{Retention: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if cr.FilesRemoved != 2 {
		t.Fatalf("clean removed %d files, want R's 2 replaced ones", cr.FilesRemoved)
	}
	checkReferencedExist(t, f, p)
	if res, err := p.CatchUp(f.ctx); err != nil || len(res.Published) != 0 {
		t.Fatalf("catch-up after the expiry: published %v again, %v", res.Published, err)
	}
	if through, after := tableProps(t, f, p); through != r || after != x {
		t.Fatalf("%s=%q %s=%q, want %s and %s", PropExpiredThrough, through, PropExpiredAfter, after, r, x)
	}
	checkAllPublished(t, f, p)
	f.checkSame(p, testColumns)

	// The next expiry passes X: the record goes.
	y := f.commit(f.oneHour(30, base))
	if _, err := p.Expire(f.ctx, y); err != nil {
		t.Fatal(err)
	}
	if through, after := tableProps(t, f, p); through != y || after != "" {
		t.Fatalf("%s=%q %s=%q, want %s and none", PropExpiredThrough, through, PropExpiredAfter, after, y)
	}
	if got := published(t, f.ctx, p); !slices.Equal(got, []string{y}) {
		t.Fatalf("snapshots %v, want %s's only", got, y)
	}
	f.checkSame(p, testColumns)
	checkReferencedExist(t, f, p)
}

// TestExpireStaleState: an expiry computed from a metadata version that
// another publisher's expiry has since replaced (the main branch
// unchanged) loses the race, rather than lower PropExpiredThrough or drop
// PropExpiredAfter's instants with its stale properties.
func TestExpireStaleState(t *testing.T) {
	f := newFixture(t, "filesystem")
	p1, p2 := f.publisher(), f.publisher()
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var ts []string
	for range 4 {
		ts = append(ts, f.commit(f.oneHour(20, base)))
	}
	catchUp(t, f, p1)
	s := p1.newSession(f.ctx)
	stale, err := s.state()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Expire(f.ctx, ts[2]); err != nil {
		t.Fatal(err)
	}
	err = p1.expireOnce(f.ctx, s, stale, ts[1], &Result{})
	if !errors.Is(err, errConflict) {
		t.Errorf("expiry on a stale version: %v, want a lost race", err)
	}
	if _, err := p1.Expire(f.ctx, ts[1]); err != nil {
		t.Fatal(err)
	}
	if through, _ := tableProps(t, f, p1); through != ts[2] {
		t.Fatalf("%s=%q, want %s: an older expiry lowered it", PropExpiredThrough, through, ts[2])
	}
	if res := catchUp(t, f, p1); len(res.Published) != 0 {
		t.Fatalf("catch-up published %v again", res.Published)
	}
	f.checkSame(p1, testColumns)
}

// TestParseExpiredAfter: the property's instants newer than the
// watermark, sorted, once each.
func TestParseExpiredAfter(t *testing.T) {
	got := parseExpiredAfter(" 30,10,,20,30 ,40", "15")
	if want := []string{"20", "30", "40"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := parseExpiredAfter("", ""); got != nil {
		t.Fatalf("empty: %v", got)
	}
}

// TestExpireRace: two publishers catch up and expire, through different
// instants (ArchiveThrough(2) and (4)), while commits complete out of
// order (each one begun before the previous completed) and a
// replacecommit lands. No call fails, no instant is published twice,
// every completed instant counts as published, the scan reads the Hudi
// snapshot, and after a last expiry and the compactor's clean every file
// a retained snapshot references exists.
func TestExpireRace(t *testing.T) {
	for _, storage := range storages {
		t.Run(storage, func(t *testing.T) { testExpireRace(t, storage) })
	}
}

func testExpireRace(t *testing.T, storage string) {
	f := newFixture(t, storage)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	pubs := []*Publisher{f.publisher(WithBackoff(time.Millisecond, 20*time.Millisecond)), f.publisher(WithBackoff(time.Millisecond, 20*time.Millisecond))}
	ctx, cancel := context.WithCancel(f.ctx)
	var wg sync.WaitGroup
	errs := make(chan error, len(pubs))
	var expired, rounds [2]atomic.Int64
	for i, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := p.CatchUp(ctx); err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
				tl, err := f.table.Timeline(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				res, err := p.Expire(ctx, tl.ArchiveThrough(2+2*i))
				if err != nil && ctx.Err() == nil && !strings.Contains(err.Error(), "is pending") {
					errs <- err
					return
				}
				if res != nil {
					expired[i].Add(int64(res.Expired))
				}
				rounds[i].Add(1)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	// Each commit is begun before the previous one completes: every
	// instant completes after a later one.
	prev, err := f.table.Begin(f.ctx, hudi.BeginOptions{WriterID: "test-1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		time.Sleep(2 * time.Millisecond)
		next, err := f.table.Begin(f.ctx, hudi.BeginOptions{WriterID: "test-1"})
		if err != nil {
			t.Fatal(err)
		}
		f.commit(f.oneHour(20, base))
		f.finish(prev, f.oneHour(20, base), nil)
		prev.Close()
		prev = next
		if i == 5 {
			f.replace(partitionPath(base, false))
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.finish(prev, f.oneHour(20, base), nil)
	prev.Close()
	// Two more rounds of each publisher, which see every instant
	// completed.
	r0, r1 := rounds[0].Load(), rounds[1].Load()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if rounds[0].Load() >= r0+2 && rounds[1].Load() >= r1+2 || len(errs) > 0 {
			break
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	p := pubs[0]
	catchUp(t, f, p)
	got := published(t, f.ctx, p)
	if len(got) != len(slices.Compact(slices.Sorted(slices.Values(got)))) {
		t.Fatalf("an instant published twice: %v", got)
	}
	checkAllPublished(t, f, p)
	f.checkSame(p, testColumns)
	checkReferencedExist(t, f, p)
	t.Logf("%d completed instants, %d snapshots kept, expired %d and %d in %d and %d rounds", len(f.completed()), len(got),
		expired[0].Load(), expired[1].Load(), rounds[0].Load(), rounds[1].Load())
	if expired[0].Load()+expired[1].Load() == 0 {
		t.Fatal("nothing expired: the test proves nothing")
	}

	// The compactor's clean after an expiry through the newest instant.
	tl, err := f.table.Timeline(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Expire(f.ctx, tl.ArchiveThrough(1)); err != nil {
		t.Fatal(err)
	}
	cr, err := f.table.CleanReplaced(f.ctx, hudi.CleanOptions{Retention: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if cr.FilesRemoved == 0 {
		t.Fatal("the clean removed no replaced file")
	}
	checkReferencedExist(t, f, p)
	if res := catchUp(t, f, pubs[1]); len(res.Published) != 0 {
		t.Fatalf("catch-up published %v again", res.Published)
	}
	checkAllPublished(t, f, p)
	f.checkSame(p, testColumns)
}
