package objstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/objstoretest"
)

func TestMemorySuite(t *testing.T) {
	objstoretest.Run(t, func(*testing.T) objstore.Store { return objstore.NewMemory() })
}

func TestMemoryClock(t *testing.T) {
	ctx := context.Background()
	m := objstore.NewMemory()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m.Now = func() time.Time { return now }
	if err := m.Put(ctx, "k", bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	info, err := m.Stat(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !info.ModTime.Equal(now) {
		t.Fatalf("ModTime = %v, want %v", info.ModTime, now)
	}
}

func TestMemoryCopies(t *testing.T) {
	ctx := context.Background()
	m := objstore.NewMemory()
	data := []byte("original")
	if err := m.Put(ctx, "k", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	copy(data, "MUTATED!")
	got, err := objstore.ReadAll(ctx, m, "k")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "original" {
		t.Fatalf("stored object changed with the caller's buffer: %q", got)
	}
	copy(got, "MUTATED!")
	again, err := objstore.ReadAll(ctx, m, "k")
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != "original" {
		t.Fatalf("stored object changed with a reader's buffer: %q", again)
	}
}
