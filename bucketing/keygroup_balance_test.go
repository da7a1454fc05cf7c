package bucketing

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"
)

// flinkDefaultMaxParallelism is Flink's KeyGroupRangeAssignment
// .computeDefaultMaxParallelism: roundUpToPowerOfTwo(p + p/2), at least 128,
// at most 32768.
func flinkDefaultMaxParallelism(parallelism int) int {
	n := parallelism + parallelism/2
	pow := 1 << bits.Len(uint(n-1))
	return min(max(pow, 128), 32768)
}

// balanceWorkload is 1M records over 100k random bucket paths: the index of
// each record's bucket, and each bucket's hash.
type balanceWorkload struct {
	buckets []string
	hashes  []uint64
	records []int32
}

var balanceWorkloadOnce = sync.OnceValue(func() *balanceWorkload {
	rng := rand.New(rand.NewPCG(11, 12))
	w := &balanceWorkload{buckets: make([]string, 100_000), records: make([]int32, 1_000_000)}
	w.hashes = make([]uint64, len(w.buckets))
	for i := range w.buckets {
		w.buckets[i] = fmt.Sprintf("dt=2026-11-21/hr=13/x=%d", rng.Uint32())
		w.hashes[i] = hash64(w.buckets[i])
	}
	for i := range w.records {
		w.records[i] = int32(rng.IntN(len(w.buckets)))
	}
	return w
})

// busiestOverIdlest counts the records each worker gets when bucket i goes
// to worker workerOf(i), and returns max/min.
func (w *balanceWorkload) busiestOverIdlest(parallelism int, workerOf func(i int) int) float64 {
	workers := make([]int, len(w.buckets))
	for i := range workers {
		workers[i] = workerOf(i)
	}
	load := make([]int, parallelism)
	for _, b := range w.records {
		load[workers[b]]++
	}
	lo, hi := load[0], load[0]
	for _, n := range load {
		lo, hi = min(lo, n), max(hi, n)
	}
	return float64(hi) / float64(lo)
}

// keyGroupBalance returns busiest/idlest worker in records for our routing
// (default max parallelism) and for Flink's default max parallelism with
// Flink's key group -> operator mapping, on the same bucket hashes.
func keyGroupBalance(t testing.TB, parallelism int) (ours, flink float64, flinkMax int) {
	w := balanceWorkloadOnce()
	r, err := NewRouter(parallelism, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours = w.busiestOverIdlest(parallelism, func(i int) int { return r.Worker(w.buckets[i]) })
	flinkMax = flinkDefaultMaxParallelism(parallelism)
	flink = w.busiestOverIdlest(parallelism, func(i int) int {
		keyGroup := int(w.hashes[i] % uint64(flinkMax))
		return keyGroup * parallelism / flinkMax
	})
	return ours, flink, flinkMax
}

func TestFlinkDefaultMaxParallelism(t *testing.T) {
	for p, want := range map[int]int{1: 128, 32: 128, 85: 128, 86: 256, 100: 256, 1000: 2048, 30000: 32768} {
		if got := flinkDefaultMaxParallelism(p); got != want {
			t.Errorf("flinkDefaultMaxParallelism(%d) = %d, want %d", p, got, want)
		}
	}
}

// TestKeyGroupBalanceRecords: 1M records over 100k random buckets, for
// parallelism 1..32: our default keeps the busiest worker within 10% of the
// idlest; Flink's default (128 key groups whatever the parallelism) does
// not once workers own 4 or 5, 5 or 6 key groups.
func TestKeyGroupBalanceRecords(t *testing.T) {
	for p := 1; p <= 32; p++ {
		ours, flink, flinkMax := keyGroupBalance(t, p)
		if ours > 1.1 {
			t.Errorf("parallelism %d: ours busiest/idlest %.3f > 1.1", p, ours)
		}
		if p >= 22 && flinkMax%p != 0 && flink < 1.1 {
			t.Errorf("parallelism %d: Flink's default (max parallelism %d) busiest/idlest %.3f; expected its uneven key groups to show", p, flinkMax, flink)
		}
	}
}

// BenchmarkKeyGroupBalance reports, per parallelism, busiest/idlest worker
// in records for our default max parallelism (a multiple of parallelism)
// and for Flink's default (a power of two, at least 128). Run it once:
//
//	go test -run '^$' -bench KeyGroupBalance -benchtime 1x ./bucketing/
func BenchmarkKeyGroupBalance(b *testing.B) {
	balanceWorkloadOnce()
	table := "parallelism | ours: max par | ours: busiest/idlest | Flink: max par | Flink: key groups per worker | Flink: busiest/idlest\n"
	for p := 1; p <= 32; p++ {
		b.Run(fmt.Sprintf("parallelism=%02d", p), func(b *testing.B) {
			var ours, flink float64
			var flinkMax int
			for b.Loop() {
				ours, flink, flinkMax = keyGroupBalance(b, p)
			}
			b.ReportMetric(ours, "ours-busiest/idlest")
			b.ReportMetric(flink, "flink-busiest/idlest")
			b.ReportMetric(float64(flinkMax), "flink-maxpar")
			groups := fmt.Sprint(flinkMax / p)
			if flinkMax%p != 0 {
				groups = fmt.Sprintf("%d or %d", flinkMax/p, flinkMax/p+1)
			}
			r, _ := NewRouter(p, 0)
			table += fmt.Sprintf("%d | %d | %.3f | %d | %s | %.3f\n", p, r.MaxParallelism(), ours, flinkMax, groups, flink)
		})
	}
	b.Logf("1M records over 100k random buckets:\n%s", table)
}
