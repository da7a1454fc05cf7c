package bucketing

import (
	"cmp"
	"slices"
	"sync/atomic"
)

// HotBucket is a bucket that Route currently splits over several workers.
type HotBucket struct {
	Bucket string
	// Share is the bucket's fraction of the records of the last completed
	// window, or of the current window so far if it turned hot in it.
	Share float64
	// Home is the worker that Worker gives the bucket; Route spreads its
	// records over workers Home, Home+1, ... Home+Spread-1 (mod parallelism).
	Home   int
	Spread int
}

// Route returns the worker for one record of bucket. A cold bucket goes to
// its home worker, Worker(bucket). A hot bucket (more than the hot share of
// the recent records, see HotShare) is split: the record goes to worker
// (home + recordHash%spread) % parallelism, so each of spread workers writes
// its own file group of the bucket. recordHash must be a stable, uniform
// hash of the record: OffsetHash(partition, offset), or RecordHash(key) to
// keep records with the same key in the same file group.
//
// Route counts the records of each bucket, so the routing of a record
// depends on the records routed before it (the same sequence always gives
// the same routing). It is not safe for concurrent use: call it from the one
// goroutine that assigns records to workers. It does not allocate in the
// steady state and costs a few nanoseconds when the bucket is the same as
// the previous record's (the common case: the current hour).
func (r *Router) Route(bucket string, recordHash uint64) int {
	if r.hot == nil {
		return r.Worker(bucket)
	}
	return r.hot.route(bucket, recordHash)
}

// HotBuckets returns the buckets that Route currently splits, hottest first,
// as of the last change or window end. It is safe for concurrent use with
// Route (for an admin endpoint). It returns nil if none is hot or splitting
// is disabled (parallelism 1, HotSpread(1)).
func (r *Router) HotBuckets() []HotBucket {
	if r.hot == nil {
		return nil
	}
	p := r.hot.published.Load()
	if p == nil {
		return nil
	}
	return slices.Clone(*p)
}

// HotSplitSettings are a Router's hot-bucket settings with defaults applied.
type HotSplitSettings struct {
	Enabled        bool // false with parallelism 1 or HotSpread(1)
	HotShare       float64
	CoolShare      float64
	Spread         int
	Window         int
	TrackedBuckets int
}

// HotSplit returns the hot-bucket settings in effect, for logs and status.
func (r *Router) HotSplit() HotSplitSettings {
	c := r.cfg
	return HotSplitSettings{Enabled: r.hot != nil, HotShare: c.hotShare, CoolShare: c.coolShare,
		Spread: c.spread, Window: c.window, TrackedBuckets: c.tracked}
}

// hotness counts records per bucket over windows of consecutive records and
// decides which buckets are hot. Memory is bounded: at most maxCold cold
// buckets are counted at once (Misra-Gries past that), cold buckets are
// forgotten at the end of every window and a hot bucket is forgotten when it
// cools; at most 1/coolShare + 1/hotShare buckets can be hot at once. It is
// not safe for concurrent use, except for published.
type hotness struct {
	router      *Router
	parallelism int
	spread      uint32
	window      int
	heatCount   int // a bucket with more records than this in a window turns hot
	coolCount   int // a hot bucket with fewer records than this in a window cools
	maxCold     int

	seen  int              // records of the current window
	index map[string]int32 // bucket -> slot
	slots []bucketState
	free  []int32 // unused slots
	cold  int     // tracked buckets that are not hot
	hot   int

	// The slot of the last bucket routed, -1 if none: consecutive records
	// of the same bucket skip the map.
	last       int32
	lastBucket string

	published atomic.Pointer[[]HotBucket]
}

// bucketState is one tracked bucket.
type bucketState struct {
	bucket string
	count  int // records this window (a Misra-Gries undercount when full)
	home   int
	share  float64
	hot    bool
	live   bool
}

func newHotness(r *Router, c *routerConfig) *hotness {
	return &hotness{
		router:      r,
		parallelism: c.parallelism,
		spread:      uint32(c.spread),
		window:      c.window,
		heatCount:   int(c.hotShare * float64(c.window)),
		coolCount:   int(c.coolShare * float64(c.window)),
		maxCold:     c.tracked,
		index:       make(map[string]int32, c.tracked),
		last:        -1,
	}
}

func (t *hotness) route(bucket string, recordHash uint64) int {
	i := t.last
	if i < 0 || bucket != t.lastBucket {
		i = t.slotFor(bucket)
		if i < 0 { // not counted: the table is full (Misra-Gries)
			t.tick()
			return t.router.Worker(bucket)
		}
		t.last, t.lastBucket = i, bucket
	}
	s := &t.slots[i]
	s.count++
	if !s.hot && s.count > t.heatCount {
		t.heat(s)
	}
	w := s.home
	if s.hot {
		w += int(uint32(recordHash) % t.spread)
		if w >= t.parallelism {
			w -= t.parallelism
		}
	}
	t.tick()
	return w
}

// slotFor returns the slot of bucket, adding it if the table has room, or
// -1 after a Misra-Gries decrement if it has none.
func (t *hotness) slotFor(bucket string) int32 {
	if i, ok := t.index[bucket]; ok {
		return i
	}
	if t.cold >= t.maxCold {
		t.decrementAll()
		return -1
	}
	var i int32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		i = int32(len(t.slots))
		t.slots = append(t.slots, bucketState{})
	}
	t.slots[i] = bucketState{bucket: bucket, home: t.router.Worker(bucket), live: true}
	t.index[bucket] = i
	t.cold++
	return i
}

// decrementAll is the Misra-Gries step for a new bucket when the table is
// full: every count drops by one (the new bucket's record cancels one of
// each) and cold buckets left at zero are forgotten. Its cost is paid for by
// the increments it undoes.
func (t *hotness) decrementAll() {
	for i := range t.slots {
		s := &t.slots[i]
		if !s.live || s.count == 0 {
			continue
		}
		s.count--
		if s.count == 0 && !s.hot {
			t.forget(int32(i))
		}
	}
}

// tick counts one record and ends the window after its last record.
func (t *hotness) tick() {
	t.seen++
	if t.seen >= t.window {
		t.endWindow()
	}
}

// endWindow cools the hot buckets that fell below the cool share, records
// the share of the others, and forgets every cold bucket.
func (t *hotness) endWindow() {
	changed := t.hot > 0
	for i := range t.slots {
		s := &t.slots[i]
		switch {
		case !s.live:
		case s.hot && s.count >= t.coolCount:
			s.share = float64(s.count) / float64(t.window)
			s.count = 0
		default:
			if s.hot {
				s.hot = false
				t.hot--
				t.cold++
			}
			t.forget(int32(i))
		}
	}
	t.seen = 0
	if changed {
		t.publish()
	}
}

// heat marks s hot.
func (t *hotness) heat(s *bucketState) {
	s.hot = true
	s.share = float64(s.count) / float64(t.seen+1)
	t.hot++
	t.cold--
	t.publish()
}

// forget removes a cold bucket from the table.
func (t *hotness) forget(i int32) {
	s := &t.slots[i]
	delete(t.index, s.bucket)
	*s = bucketState{}
	t.free = append(t.free, i)
	t.cold--
	if i == t.last {
		t.last, t.lastBucket = -1, ""
	}
}

// publish stores the hot buckets for HotBuckets, hottest first.
func (t *hotness) publish() {
	if t.hot == 0 {
		t.published.Store(nil)
		return
	}
	hot := make([]HotBucket, 0, t.hot)
	for i := range t.slots {
		if s := &t.slots[i]; s.live && s.hot {
			hot = append(hot, HotBucket{Bucket: s.bucket, Share: s.share, Home: s.home, Spread: int(t.spread)})
		}
	}
	slices.SortFunc(hot, func(a, b HotBucket) int {
		if c := cmp.Compare(b.Share, a.Share); c != 0 {
			return c
		}
		return cmp.Compare(a.Bucket, b.Bucket)
	})
	t.published.Store(&hot)
}
