package iceberg

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// countingStore counts the calls of each operation, and the GETs of
// Iceberg metadata versions.
type countingStore struct {
	objstore.Store
	mu           sync.Mutex
	ops          map[string]int
	metadataGets int
}

func (c *countingStore) inc(op, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops[op]++
	if op == "get" && strings.HasSuffix(key, ".metadata.json") {
		c.metadataGets++
	}
}

func (c *countingStore) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops, c.metadataGets = map[string]int{}, 0
}

func (c *countingStore) Get(ctx context.Context, k string) (io.ReadCloser, error) {
	c.inc("get", k)
	return c.Store.Get(ctx, k)
}

func (c *countingStore) GetRange(ctx context.Context, k string, o, l int64) (io.ReadCloser, error) {
	c.inc("get", k)
	return c.Store.GetRange(ctx, k, o, l)
}

func (c *countingStore) Stat(ctx context.Context, k string) (objstore.ObjectInfo, error) {
	c.inc("stat", k)
	return c.Store.Stat(ctx, k)
}

func (c *countingStore) Put(ctx context.Context, k string, r io.Reader) error {
	c.inc("put", k)
	return c.Store.Put(ctx, k, r)
}

func (c *countingStore) PutIfAbsent(ctx context.Context, k string, r io.Reader) error {
	c.inc("put", k)
	return c.Store.PutIfAbsent(ctx, k, r)
}

func (c *countingStore) List(ctx context.Context, p string, fn func(objstore.ObjectInfo) error) error {
	c.inc("list", p)
	return c.Store.List(ctx, p, fn)
}

func (c *countingStore) Delete(ctx context.Context, k string) error {
	c.inc("delete", k)
	return c.Store.Delete(ctx, k)
}

// TestPublishRequests checks what the publish after a commit costs in
// store requests on a table of 30 snapshots: no metadata version is read
// (the publisher's own newest one is reused), and the timeline is listed
// once (one round: nothing was lost to another publisher).
func TestPublishRequests(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 30 {
		f.commit(f.events(20, base, 2))
	}
	cs := &countingStore{Store: f.bucket}
	cs.reset()
	tbl, err := hudi.Open(f.ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(tbl, f.location)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, f, p)
	for range 3 {
		ts := f.commit(f.events(20, base, 2))
		cs.reset()
		if _, err := p.Publish(f.ctx, ts); err != nil {
			t.Fatal(err)
		}
		cs.mu.Lock()
		ops, metadataGets := cs.ops, cs.metadataGets
		cs.mu.Unlock()
		t.Logf("publish of %s: %v", ts, ops)
		if metadataGets != 0 {
			t.Errorf("publish of %s read %d metadata versions, want 0", ts, metadataGets)
		}
		if ops["list"] > 2 { // the active timeline and the archive, once
			t.Errorf("publish of %s listed %d times, want 2", ts, ops["list"])
		}
	}
}
