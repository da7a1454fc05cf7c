package bucketing

import (
	"testing"
)

// BenchmarkRoute is the per-record cost of Route at parallelism 8:
//
//	go test -run '^$' -bench 'Route|Worker' -benchmem ./bucketing/
func BenchmarkRoute(b *testing.B) {
	// hot: every record in the current hour (split over 8 workers).
	b.Run("hot", func(b *testing.B) {
		r := mustRouter(b, 8)
		var i uint64
		for b.Loop() {
			r.Route(hourBucket, OffsetHash(3, int64(i)))
			i++
		}
		if len(r.HotBuckets()) != 1 {
			b.Fatal("bucket did not turn hot")
		}
	})
	// cold-same: one bucket, splitting disabled (Route is Worker).
	b.Run("cold-same-bucket-no-split", func(b *testing.B) {
		r := mustRouter(b, 8, WithoutHotSplit())
		var i uint64
		for b.Loop() {
			r.Route(hourBucket, OffsetHash(3, int64(i)))
			i++
		}
	})
	// cold: records cycle over 64 buckets, none hot: a map lookup each.
	b.Run("cold-64-buckets", func(b *testing.B) {
		r := mustRouter(b, 8)
		cold := coldBuckets(64)
		var i int
		for b.Loop() {
			r.Route(cold[i&63], OffsetHash(3, int64(i)))
			i++
		}
		if len(r.HotBuckets()) != 0 {
			b.Fatal("a bucket turned hot")
		}
	})
	// mixed: 15 of 16 records in the hot hour, 1 late one in 64 cold buckets.
	b.Run("mixed-hot-and-late", func(b *testing.B) {
		r := mustRouter(b, 8)
		cold := coldBuckets(64)
		var i int
		for b.Loop() {
			bucket := hourBucket
			if i&15 == 0 {
				bucket = cold[(i>>4)&63]
			}
			r.Route(bucket, OffsetHash(3, int64(i)))
			i++
		}
	})
	// distinct: every record in a new bucket (Misra-Gries churn).
	b.Run("distinct-buckets", func(b *testing.B) {
		r := mustRouter(b, 8)
		cold := coldBuckets(1 << 16)
		var i int
		for b.Loop() {
			r.Route(cold[i&(1<<16-1)], uint64(i))
			i++
		}
	})
}

// BenchmarkWorker is the per-record cost of the stateless Worker, for
// comparison with BenchmarkRoute.
func BenchmarkWorker(b *testing.B) {
	r := mustRouter(b, 8)
	for b.Loop() {
		r.Worker(hourBucket)
	}
}

// BenchmarkOffsetHash and BenchmarkRecordHash are the hashes a caller
// computes per record for Route.
func BenchmarkOffsetHash(b *testing.B) {
	var i int64
	for b.Loop() {
		OffsetHash(3, i)
		i++
	}
}

func BenchmarkRecordHash(b *testing.B) {
	key := []byte("user-1234567890")
	for b.Loop() {
		RecordHash(key)
	}
}
