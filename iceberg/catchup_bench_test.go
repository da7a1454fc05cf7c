package iceberg

import (
	"fmt"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// BenchmarkCatchUp publishes a table's whole active timeline of n instants
// (a file in each of two partitions each) to a table without Iceberg
// metadata: the catch-up of a table whose Iceberg publishing is switched
// on late, or whose compactor runs first. One catch-up per iteration, on a
// fresh copy of the same Hudi table.
func BenchmarkCatchUp(b *testing.B) {
	for _, n := range []int{64, 256} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
			f := newFixture(b, "filesystem")
			for range n {
				f.commit(f.events(20, base, 2))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				removeIcebergMetadata(b, f)
				p := f.publisher()
				b.StartTimer()
				res, err := p.CatchUp(f.ctx)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Published) != n {
					b.Fatalf("published %d instants, want %d", len(res.Published), n)
				}
			}
		})
	}
}

// removeIcebergMetadata deletes the table's Iceberg metadata (versions,
// manifest lists, manifests and the version hint).
func removeIcebergMetadata(tb testing.TB, f *fixture) {
	tb.Helper()
	var keys []string
	err := f.bucket.List(f.ctx, MetadataDir+"/", func(info objstore.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, k := range keys {
		if err := f.bucket.Delete(f.ctx, k); err != nil {
			tb.Fatal(err)
		}
	}
}
