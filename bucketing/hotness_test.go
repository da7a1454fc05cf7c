package bucketing

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

const hourBucket = "dt=2026-11-21/hr=13"

func mustRouter(t testing.TB, parallelism int, opts ...RouterOption) *Router {
	t.Helper()
	r, err := NewRouter(parallelism, 0, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// coldBuckets returns n distinct bucket paths.
func coldBuckets(n int) []string {
	b := make([]string, n)
	for i := range b {
		b[i] = fmt.Sprintf("dt=2026-11-21/hr=13/x=%d", i)
	}
	return b
}

// TestHashIsStable pins the hash: changing it would move every bucket to
// another worker on upgrade.
func TestHashIsStable(t *testing.T) {
	for s, want := range map[string]uint64{"": 0xefd01f60ba992926, hourBucket: 0xa4fd50ffa4a9f87d, "a": 0x82a2a958a9bece5b} {
		if got := hash64(s); got != want {
			t.Errorf("hash64(%q) = %#x, want %#x", s, got, want)
		}
		if got := RecordHash([]byte(s)); got != want {
			t.Errorf("RecordHash(%q) = %#x, want %#x", s, got, want)
		}
	}
}

// TestHotBucketSpreadsEvenly: one bucket takes every record; after it turns
// hot, each of the spread workers starting at its home gets 1/spread
// (within 5 standard deviations of a binomial draw).
func TestHotBucketSpreadsEvenly(t *testing.T) {
	for _, tc := range []struct{ parallelism, spread int }{{2, 0}, {3, 0}, {8, 0}, {16, 0}, {32, 0}, {8, 3}, {5, 4}} {
		r := mustRouter(t, tc.parallelism, HotSpread(tc.spread))
		spread := r.HotSplit().Spread
		home := r.Worker(hourBucket)
		const n = 400_000
		load := make([]int, tc.parallelism)
		for i := range n {
			load[r.Route(hourBucket, OffsetHash(int32(i%7), int64(i)))]++
		}
		// The first heatCount records go home before the bucket turns hot.
		warm := int(r.HotSplit().HotShare * float64(r.HotSplit().Window))
		load[home] -= warm
		for w, got := range load {
			want := 0
			if (w-home+tc.parallelism)%tc.parallelism < spread {
				want = (n - warm) / spread
			}
			if d := math.Abs(float64(got - want)); d > 5*math.Sqrt(float64(n/spread)) { // 5 sigma
				t.Errorf("parallelism %d spread %d: worker %d got %d records, want ~%d (home %d)", tc.parallelism, spread, w, got, want, home)
			}
		}
		hot := r.HotBuckets()
		if len(hot) != 1 || hot[0].Bucket != hourBucket || hot[0].Spread != spread || hot[0].Home != home || hot[0].Share != 1 {
			t.Errorf("parallelism %d: HotBuckets() = %+v", tc.parallelism, hot)
		}
	}
}

// TestColdBucketsStayHome: with no bucket above the hot share, Route is
// Worker for every record, also alongside a hot bucket.
func TestColdBucketsStayHome(t *testing.T) {
	r := mustRouter(t, 8)
	cold := coldBuckets(1000)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 200_000 {
		b := cold[rng.IntN(len(cold))]
		if got, want := r.Route(b, rng.Uint64()), r.Worker(b); got != want {
			t.Fatalf("record %d of cold bucket %s: Route = %d, Worker = %d", i, b, got, want)
		}
	}
	if hot := r.HotBuckets(); hot != nil {
		t.Fatalf("HotBuckets() = %+v with no hot bucket", hot)
	}
	// 60% of the records in the current hour, the rest spread thin.
	spreadHot := map[int]bool{}
	for i := range 200_000 {
		if rng.IntN(10) < 6 {
			spreadHot[r.Route(hourBucket, rng.Uint64())] = true
			continue
		}
		b := cold[rng.IntN(len(cold))]
		if got, want := r.Route(b, rng.Uint64()), r.Worker(b); got != want {
			t.Fatalf("record %d of cold bucket %s next to a hot one: Route = %d, Worker = %d", i, b, got, want)
		}
	}
	if len(spreadHot) != 8 {
		t.Errorf("hot bucket went to %d workers, want 8", len(spreadHot))
	}
	if hot := r.HotBuckets(); len(hot) != 1 || hot[0].Share < 0.55 || hot[0].Share > 0.65 {
		t.Errorf("HotBuckets() = %+v, want only %s at ~0.6", hot, hourBucket)
	}
}

// TestHotBucketCools: when the hour turns, the old hour gets a trickle of
// late records and goes back to its one worker within two windows, and
// the new hour turns hot.
func TestHotBucketCools(t *testing.T) {
	r := mustRouter(t, 8)
	window := r.HotSplit().Window
	const next = "dt=2026-11-21/hr=14"
	for i := range 5 * window {
		r.Route(hourBucket, uint64(i))
	}
	for i := range 5 * window {
		b := next
		if i%100 == 0 { // 1% late records
			b = hourBucket
		}
		got := r.Route(b, uint64(i))
		if b == hourBucket && i >= 2*window && got != r.Worker(b) {
			t.Fatalf("record %d: late record of the cooled bucket went to %d, home is %d", i, got, r.Worker(b))
		}
	}
	if hot := r.HotBuckets(); len(hot) != 1 || hot[0].Bucket != next {
		t.Errorf("HotBuckets() = %+v, want only %s", hot, next)
	}
}

// TestHotBucketHysteresis: a bucket between the cool and the hot share
// stays as it is: hot if it was hot, cold if it was cold.
func TestHotBucketHysteresis(t *testing.T) {
	r := mustRouter(t, 8) // hot above 1/8, cool below 1/16
	cold := coldBuckets(1000)
	rng := rand.New(rand.NewPCG(5, 6))
	feed := func(share float64, records int) (home, elsewhere int) {
		for range records {
			if rng.Float64() < share {
				if r.Route(hourBucket, rng.Uint64()) == r.Worker(hourBucket) {
					home++
				} else {
					elsewhere++
				}
				continue
			}
			r.Route(cold[rng.IntN(len(cold))], rng.Uint64())
		}
		return home, elsewhere
	}
	window := r.HotSplit().Window
	if _, elsewhere := feed(0.10, 20*window); elsewhere != 0 {
		t.Errorf("a bucket at 10%% turned hot (%d records away from home)", elsewhere)
	}
	feed(0.30, 2*window)
	if _, elsewhere := feed(0.10, 20*window); elsewhere == 0 || len(r.HotBuckets()) != 1 {
		t.Errorf("a hot bucket at 10%% cooled: HotBuckets() = %+v", r.HotBuckets())
	}
	feed(0.03, 2*window)
	if _, elsewhere := feed(0.10, 20*window); elsewhere != 0 {
		t.Errorf("a cooled bucket at 10%% turned hot again")
	}
}

// TestHotnessBoundedMemory: a million distinct buckets, every fourth record
// in one hot bucket: the table stays bounded and the hot bucket is found.
func TestHotnessBoundedMemory(t *testing.T) {
	r := mustRouter(t, 8)
	h := r.hot
	maxTracked := 0
	buf := []byte("dt=2026-11-21/hr=13/x=")
	n := len(buf)
	for i := range 1_000_000 {
		if i%4 == 0 {
			r.Route(hourBucket, uint64(i))
			continue
		}
		b := string(fmt.Appendf(buf[:n], "%d", i))
		if got, want := r.Route(b, uint64(i)), r.Worker(b); got != want {
			t.Fatalf("cold bucket %s: Route = %d, Worker = %d", b, got, want)
		}
		maxTracked = max(maxTracked, len(h.index))
	}
	if limit := h.maxCold + 1; maxTracked > limit || len(h.slots) > limit {
		t.Errorf("tracked up to %d buckets in %d slots, limit %d", maxTracked, len(h.slots), limit)
	}
	if hot := r.HotBuckets(); len(hot) != 1 || hot[0].Bucket != hourBucket {
		t.Errorf("HotBuckets() = %+v, want %s", hot, hourBucket)
	}
}

// TestRouteDeterministic: the same records give the same workers.
func TestRouteDeterministic(t *testing.T) {
	run := func() []int {
		r := mustRouter(t, 6)
		cold := coldBuckets(3000)
		rng := rand.New(rand.NewPCG(7, 8))
		out := make([]int, 0, 300_000)
		for i := range cap(out) {
			b := cold[rng.IntN(len(cold))]
			switch hour := i / 50_000; {
			case rng.IntN(3) > 0:
				b = fmt.Sprint("hr=", hour)
			case rng.IntN(10) == 0:
				b = fmt.Sprint("hr=", hour-1)
			}
			out = append(out, r.Route(b, OffsetHash(int32(i%5), int64(i))))
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("record %d: worker %d then %d", i, a[i], b[i])
		}
	}
}

// TestRouteWithoutSplit: parallelism 1 and HotSpread(1) never split.
func TestRouteWithoutSplit(t *testing.T) {
	for _, r := range []*Router{mustRouter(t, 1), mustRouter(t, 4, WithoutHotSplit())} {
		for i := range 50_000 {
			if got, want := r.Route(hourBucket, uint64(i)), r.Worker(hourBucket); got != want {
				t.Fatalf("parallelism %d: Route = %d, want %d", r.Parallelism(), got, want)
			}
		}
		if r.HotBuckets() != nil || r.HotSplit().Enabled {
			t.Errorf("parallelism %d: HotBuckets() = %v, HotSplit() = %+v", r.Parallelism(), r.HotBuckets(), r.HotSplit())
		}
	}
}

// TestRouteAllocs: no allocation per record, hot or cold.
func TestRouteAllocs(t *testing.T) {
	r := mustRouter(t, 8)
	cold := coldBuckets(64)
	for i := range 100_000 {
		r.Route(hourBucket, uint64(i))
		r.Route(cold[i%len(cold)], uint64(i))
	}
	i := 0
	if n := testing.AllocsPerRun(10_000, func() {
		r.Route(hourBucket, uint64(i))
		r.Route(cold[i%len(cold)], uint64(i))
		i++
	}); n != 0 {
		t.Errorf("Route allocates %v times per pair of records", n)
	}
}

// TestHotBucketsConcurrent: HotBuckets may be read while Route runs (run
// with -race).
func TestHotBucketsConcurrent(t *testing.T) {
	r := mustRouter(t, 4)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				for _, h := range r.HotBuckets() {
					_ = h.Bucket
				}
			}
		}
	})
	for i := range 200_000 {
		r.Route(fmt.Sprint("hr=", i/30_000), uint64(i))
	}
	close(stop)
	wg.Wait()
}

func TestRouterOptionsReportEveryProblem(t *testing.T) {
	err := ValidateRouter(4, 6, HotShare(1.5), HotSpread(9), TrackedBuckets(1))
	var ce *RouterConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("ValidateRouter = %v, want a *RouterConfigError", err)
	}
	for _, want := range []string{"not a multiple of parallelism 4", "hot spread 9", "hot share 1.5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if len(ce.Problems) != 3 {
		t.Errorf("%d problems, want 3: %q", len(ce.Problems), ce.Problems)
	}
	err = ValidateRouter(8, 0, CoolShare(0.2), HotWindow(10), TrackedBuckets(3))
	for _, want := range []string{"cool share 0.2", "hot window 10", "tracked buckets 3"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if err := ValidateRouter(0, 0, HotSpread(-1)); err == nil || !strings.Contains(err.Error(), "parallelism 0") {
		t.Errorf("ValidateRouter(0, 0) = %v", err)
	}
	r := mustRouter(t, 8)
	want := HotSplitSettings{Enabled: true, HotShare: 0.125, CoolShare: 0.0625, Spread: 8, Window: DefaultHotWindow, TrackedBuckets: DefaultTrackedBuckets}
	if got := r.HotSplit(); got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	if got := mustRouter(t, 2000).HotSplit(); got.Window != 128_000 || got.TrackedBuckets != 16_000 {
		t.Errorf("defaults at parallelism 2000: %+v", got)
	}
}

// FuzzRoute: any sequence of buckets and hashes routes every record to a
// worker in range, a cold bucket to its home and a hot one within its
// spread.
func FuzzRoute(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 0, 0, 0, 0}, uint8(4), uint8(2))
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaabcabcabc"), uint8(3), uint8(0))
	f.Fuzz(func(t *testing.T, seq []byte, parallelism, spread uint8) {
		p := int(parallelism%16) + 1
		r, err := NewRouter(p, 0, HotSpread(int(spread)%(p+1)), HotShare(0.25), HotWindow(64), TrackedBuckets(16))
		if err != nil {
			t.Fatal(err)
		}
		s := r.HotSplit().Spread
		for i, c := range seq {
			b := string(rune('a' + c%32))
			w, home := r.Route(b, RecordHash(seq[:i])), r.Worker(b)
			if d := (w - home + p) % p; w < 0 || w >= p || d >= s {
				t.Fatalf("record %d bucket %s: worker %d, home %d, spread %d, parallelism %d", i, b, w, home, s, p)
			}
		}
	})
}
