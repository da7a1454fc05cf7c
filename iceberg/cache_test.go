package iceberg

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// TestEncodeMetadata checks that encodeMetadata writes the bytes
// json.Marshal would.
func TestEncodeMetadata(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 3 {
		f.commit(f.events(60, base, 2))
	}
	f.replace(partitionPath(base, false))
	p := f.publisher()
	catchUp(t, f, p)
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(tbl.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeMetadata(tbl.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encodeMetadata differs from json.Marshal:\n%s\n%s", got, want)
	}
}

// TestMetadataCacheRepublished checks that a publisher does not use the
// metadata it cached once the metadata was removed and published again
// by another one up to the same version: it reads the new one.
func TestMetadataCacheRepublished(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 3 {
		f.commit(f.events(60, base, 2))
	}
	p := f.publisher()
	catchUp(t, f, p)
	old, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	removeIcebergMetadata(t, f)
	time.Sleep(10 * time.Millisecond) // another modification time, even on a coarse clock
	q := f.publisher()
	catchUp(t, f, q)
	fresh, err := q.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old.MetadataLocation() != fresh.MetadataLocation() {
		t.Fatalf("republished to %s, not the same version as %s", fresh.MetadataLocation(), old.MetadataLocation())
	}
	got, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata().TableUUID() != fresh.Metadata().TableUUID() {
		t.Fatalf("publisher read table %s, the removed one; want %s", got.Metadata().TableUUID(), fresh.Metadata().TableUUID())
	}
}

// TestCachedVersion checks the cache's rule: the version, its size and
// its modification time must match.
func TestCachedVersion(t *testing.T) {
	f := newFixture(t, "filesystem")
	p := f.publisher()
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	info := func(size int64, mod time.Time) objstore.ObjectInfo {
		return objstore.ObjectInfo{Size: size, ModTime: mod}
	}
	if _, ok := p.cachedVersion(1, info(10, t0)); ok {
		t.Fatal("hit in an empty cache")
	}
	f.commit(f.events(10, t0, 1))
	catchUp(t, f, p) // caches version 2
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.cacheVersion(2, 100, t0, tbl.Metadata())
	for _, c := range []struct {
		version int
		info    objstore.ObjectInfo
		hit     bool
	}{
		{3, info(100, t0), false},
		{2, info(99, t0), false},
		{2, info(100, t0), true},
		{2, info(100, t0.Add(time.Second)), false},
		{2, info(100, time.Time{}), false},
	} {
		if _, ok := p.cachedVersion(c.version, c.info); ok != c.hit {
			t.Errorf("cachedVersion(%d, size %d, %s) hit %v, want %v", c.version, c.info.Size, c.info.ModTime, ok, c.hit)
		}
	}
}
