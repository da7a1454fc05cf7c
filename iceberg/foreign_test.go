package iceberg

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// TestForeignMetadataRefused: Iceberg metadata written for another location
// (a table copied or moved with its metadata/) is refused with
// ErrForeignMetadata, naming both locations, instead of built on (its
// manifests are the original's); once metadata/ is removed, the table is
// published again for its own location.
func TestForeignMetadataRefused(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	f.commit(f.events(100, base, 1))
	if _, err := f.publisher().CatchUp(f.ctx); err != nil {
		t.Fatal(err)
	}
	moved := f.location + "-moved"
	p, err := New(f.table, moved)
	if err != nil {
		t.Fatal(err)
	}
	f.commit(f.events(100, base, 1))
	_, err = p.CatchUp(f.ctx)
	if !errors.Is(err, ErrForeignMetadata) || !strings.Contains(err.Error(), f.location) || !strings.Contains(err.Error(), moved) {
		t.Fatalf("catch-up over another location's metadata: %v, want ErrForeignMetadata naming both", err)
	}
	var keys []string
	if err := f.bucket.List(context.Background(), MetadataDir+"/", func(o objstore.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := f.bucket.Delete(f.ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	p, err = New(f.table, moved)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CatchUp(f.ctx); err != nil {
		t.Fatalf("catch-up after metadata/ was removed: %v", err)
	}
	if got := published(t, f.ctx, p); len(got) != 2 {
		t.Fatalf("republished %v, want both instants", got)
	}
}
