package iceberg

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// TestBatchAfterReload checks a batch planned on a stale view: another
// publisher created the table and published an instant in the middle of
// the batch. The reload at the table's creation shows it published; the
// batch ends before it instead of publishing its files twice.
func TestBatchAfterReload(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 3 {
		f.commit(f.events(60, base, 2))
	}
	p, q := f.publisher(), f.publisher()
	s, st, todo := plan(t, f, p, 3)
	// q creates the table and publishes the second instant alone.
	qs, qst, _ := plan(t, f, q, 3)
	if err := q.publishOne(f.ctx, qs, qst, &todo[1]); err != nil {
		t.Fatal(err)
	}
	n, err := p.publishBatch(f.ctx, s, st, todo)
	if err != nil || n != 1 {
		t.Fatalf("batch published %d instants, err %v; want the first alone", n, err)
	}
	catchUp(t, f, p)
	got := published(t, f.ctx, p)
	if want := []string{todo[1].ts, todo[0].ts, todo[2].ts}; !slices.Equal(got, want) {
		t.Fatalf("snapshots publish %v, want %v", got, want)
	}
	f.checkSame(p, testColumns)
}

// TestBatchAdvancesVersion checks that a committed batch leaves the state
// at the version it created: a later read failure is judged against it.
func TestBatchAdvancesVersion(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 2 {
		f.commit(f.events(20, base, 2))
	}
	p := f.publisher()
	s, st, todo := plan(t, f, p, 2)
	if _, err := p.publishBatch(f.ctx, s, st, todo); err != nil {
		t.Fatal(err)
	}
	_, v, err := s.load()
	if err != nil {
		t.Fatal(err)
	}
	if st.version != v || v != 2 {
		t.Fatalf("state at version %d after the batch, newest %d; want 2 and 2", st.version, v)
	}
}

// TestBatchStageFailure checks an instant whose files cannot be mapped
// (a write stat's partition path the table's partition fields do not
// fit) in the middle of a batch: the instants before it are published in
// one version, its error is returned, nothing after it is published.
func TestBatchStageFailure(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 4 {
		f.commit(f.events(20, base, 2))
	}
	p := f.publisher()
	s, st, todo := plan(t, f, p, 4)
	bad := &todo[2]
	meta, err := f.table.ReadCompletedMetadata(f.ctx, bad.entry)
	if err != nil {
		t.Fatal(err)
	}
	for part, stats := range meta.PartitionToWriteStats {
		wrong := "a/b/c"
		stats[0].PartitionPath = &wrong
		meta.PartitionToWriteStats[part] = stats
		break
	}
	bad.meta = meta
	n, err := p.publishBatch(f.ctx, s, st, todo)
	if n != 2 || err == nil || !strings.Contains(err.Error(), bad.ts) || !strings.Contains(err.Error(), "a/b/c") {
		t.Fatalf("batch published %d, error %v; want 2 and an error naming %s and its partition path", n, err, bad.ts)
	}
	if got, want := published(t, f.ctx, p), []string{todo[0].ts, todo[1].ts}; !slices.Equal(got, want) {
		t.Fatalf("snapshots publish %v, want %v", got, want)
	}
	checkReferencedExist(t, f, p)
}

// ownRetryStore makes the first put-if-absent of a metadata version land
// and then report ErrExists, as the S3 client's retry of a put whose
// response was lost does.
type ownRetryStore struct {
	objstore.Store
	done atomic.Bool
}

func (s *ownRetryStore) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	if !strings.HasSuffix(key, ".metadata.json") || s.done.Swap(true) {
		return s.Store.PutIfAbsent(ctx, key, r)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.Store.PutIfAbsent(ctx, key, bytes.NewReader(data)); err != nil {
		return err
	}
	return s.Store.PutIfAbsent(ctx, key, bytes.NewReader(data)) // the retry: ErrExists
}

// TestPutVersionOwnRetry checks that a metadata version whose put landed
// but was reported as existing (the retry of a put whose response was
// lost) counts as this publisher's, not as a lost race whose manifests
// would be deleted under the version that names them.
func TestPutVersionOwnRetry(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	f.commit(f.events(20, base, 2))
	p := f.publisher()
	catchUp(t, f, p) // creates the table
	f.commit(f.events(20, base, 2))
	store := &ownRetryStore{Store: f.bucket}
	tbl, err := hudi.Open(f.ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	retried, err := New(tbl, f.location)
	if err != nil {
		t.Fatal(err)
	}
	res, err := retried.CatchUp(f.ctx)
	if err != nil || len(res.Published) != 1 || res.Conflicts != 0 {
		t.Fatalf("catch-up %+v, %v; want one instant published, no conflict", res, err)
	}
	if !store.done.Load() {
		t.Fatal("the put was not retried")
	}
	checkReferencedExist(t, f, p)
	f.checkSame(p, testColumns)
}
