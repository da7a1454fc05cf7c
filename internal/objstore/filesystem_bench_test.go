package objstore_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
)

// benchKey is a key as deep as a table's data files.
const benchKey = "warehouse/pv/dt=2026-12-07/hr=01/part-0001.parquet"

func BenchmarkFilesystemPut(b *testing.B) {
	ctx := context.Background()
	fsb, err := objstore.NewFilesystem(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := fsb.Put(ctx, benchKey, strings.NewReader("x")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFilesystemGet(b *testing.B) {
	ctx := context.Background()
	fsb, err := objstore.NewFilesystem(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if err := fsb.Put(ctx, benchKey, strings.NewReader("x")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rc, err := fsb.Get(ctx, benchKey)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, rc)
		rc.Close()
	}
}

func BenchmarkFilesystemStat(b *testing.B) {
	ctx := context.Background()
	fsb, err := objstore.NewFilesystem(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if err := fsb.Put(ctx, benchKey, strings.NewReader("x")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := fsb.Stat(ctx, benchKey); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilesystemList lists 240 objects in 24 partition directories.
func BenchmarkFilesystemList(b *testing.B) {
	ctx := context.Background()
	fsb, err := objstore.NewFilesystem(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for hr := range 24 {
		for i := range 10 {
			key := fmt.Sprintf("warehouse/pv/dt=2026-12-07/hr=%02d/part-%04d.parquet", hr, i)
			if err := fsb.Put(ctx, key, strings.NewReader("x")); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		n := 0
		if err := fsb.List(ctx, "warehouse/pv/", func(objstore.ObjectInfo) error { n++; return nil }); err != nil || n != 240 {
			b.Fatal(n, err)
		}
	}
}
