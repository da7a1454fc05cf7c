package bucketing

import (
	"fmt"
	"math"
	"strings"
)

// Defaults of the hot-bucket split (see RouterOption).
const (
	// DefaultHotWindow is the number of records over which a bucket's share
	// is measured, unless the hot share needs more (see HotWindow).
	DefaultHotWindow = 10_000
	// DefaultTrackedBuckets is the number of cold buckets counted at once,
	// unless the hot share needs more (see TrackedBuckets).
	DefaultTrackedBuckets = 1024
	// minHotRecords is the fewest records of a window a bucket must reach to
	// turn hot: below it, chance alone makes buckets hot.
	minHotRecords = 16
	// trackedPerHotShare: tracking at least this many buckets per unit of
	// 1/hotShare bounds the undercount of a bucket (Misra-Gries: window /
	// (tracked+1)) to a quarter of the hot threshold.
	trackedPerHotShare = 4
)

// RouterOption configures a Router's hot-bucket split. Every option has a
// default; NewRouter reports every invalid setting at once.
type RouterOption func(*routerConfig)

// HotShare sets the share of the records of a window above which a bucket
// turns hot and is split over several workers. Default 1/parallelism: a
// bucket hotter than that would, alone, make its worker the busiest. Must be
// in (0, 1].
func HotShare(share float64) RouterOption { return func(c *routerConfig) { c.hotShare = share } }

// CoolShare sets the share of the records of a whole window below which a
// hot bucket goes back to its one worker. Default HotShare/2; it must be
// below HotShare, so that a bucket near the threshold does not flap.
func CoolShare(share float64) RouterOption { return func(c *routerConfig) { c.coolShare = share } }

// HotSpread sets how many workers a hot bucket is split over, starting at
// its home worker: worker = (home + recordHash%spread) % parallelism. Each
// of them writes its own file group of the bucket. Default parallelism (a
// live stream's current hour is most of the records and needs every
// worker); 1 disables the split. Must be in [1, parallelism].
func HotSpread(workers int) RouterOption { return func(c *routerConfig) { c.spread = workers } }

// HotWindow sets the number of records over which bucket shares are
// measured. A bucket turns hot as soon as its count in the current window
// passes HotShare*window, and cools at the end of a window below
// CoolShare*window; state of cold buckets lives one window. Default
// max(DefaultHotWindow, 64/HotShare). HotShare*window must be at least 16.
func HotWindow(records int) RouterOption { return func(c *routerConfig) { c.window = records } }

// TrackedBuckets bounds how many cold buckets are counted at once (memory is
// O(TrackedBuckets + hot buckets), whatever the number of distinct
// buckets). Past it, counts are kept with the Misra-Gries algorithm, which
// undercounts a bucket by at most window/(TrackedBuckets+1). Default
// max(DefaultTrackedBuckets, 8/HotShare); at least 4/HotShare.
func TrackedBuckets(n int) RouterOption { return func(c *routerConfig) { c.tracked = n } }

// WithoutHotSplit keeps every bucket on its one home worker: Route is then
// Worker. Same as HotSpread(1).
func WithoutHotSplit() RouterOption { return HotSpread(1) }

// routerConfig holds the settings of a Router; zero means default.
type routerConfig struct {
	parallelism    int
	maxParallelism int
	hotShare       float64
	coolShare      float64
	spread         int
	window         int
	tracked        int
}

// RouterConfigError lists every problem with a Router's settings.
type RouterConfigError struct {
	Problems []string // each says what is wrong and what to set
}

// Error joins the problems with "; ", without a prefix: callers name the
// setting (a single problem reads exactly as NewRouter's errors always did).
func (e *RouterConfigError) Error() string { return strings.Join(e.Problems, "; ") }

// ValidateRouter reports every problem with these settings at once, as a
// *RouterConfigError, or nil if NewRouter would accept them.
func ValidateRouter(parallelism, maxParallelism int, opts ...RouterOption) error {
	_, err := newRouterConfig(parallelism, maxParallelism, opts)
	return err
}

// newRouterConfig applies the options, fills in the defaults and validates.
func newRouterConfig(parallelism, maxParallelism int, opts []RouterOption) (routerConfig, error) {
	c := routerConfig{parallelism: parallelism, maxParallelism: maxParallelism}
	for _, o := range opts {
		o(&c)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if parallelism < 1 {
		add("parallelism %d: must be at least 1", parallelism)
	} else {
		c.validateMaxParallelism(add)
		c.validateHotSplit(add)
	}
	if len(problems) > 0 {
		return c, &RouterConfigError{Problems: problems}
	}
	return c, nil
}

func (c *routerConfig) validateMaxParallelism(add func(string, ...any)) {
	p := c.parallelism
	if c.maxParallelism == 0 {
		c.maxParallelism = (DefaultMaxParallelism + p - 1) / p * p
	}
	switch m := c.maxParallelism; {
	case m < p:
		add("max parallelism %d is below parallelism %d: set it to a multiple of %d such as %d", m, p, p, p*DefaultMaxParallelism/gcd(p, DefaultMaxParallelism))
	case m%p != 0:
		lo := m / p * p
		add("max parallelism %d is not a multiple of parallelism %d: workers would own %d or %d key groups; set it to %d or %d",
			m, p, m/p, m/p+1, max(lo, p), lo+p)
	}
}

func (c *routerConfig) validateHotSplit(add func(string, ...any)) {
	p := c.parallelism
	if c.spread == 0 {
		c.spread = p
	}
	if c.spread < 1 || c.spread > p {
		add("hot spread %d: must be between 1 (no split) and the parallelism %d", c.spread, p)
	}
	if c.hotShare == 0 {
		c.hotShare = 1 / float64(p)
	}
	if !(c.hotShare > 0 && c.hotShare <= 1) { // also catches NaN
		add("hot share %v: must be in (0, 1]; the default is 1/parallelism = %v", c.hotShare, 1/float64(p))
		return // the settings below derive from it
	}
	if c.coolShare == 0 {
		c.coolShare = c.hotShare / 2
	}
	if !(c.coolShare > 0 && c.coolShare < c.hotShare) {
		add("cool share %v: must be above 0 and below the hot share %v, or hot buckets flap; the default is half the hot share", c.coolShare, c.hotShare)
	}
	minWindow := int(math.Ceil(minHotRecords / c.hotShare))
	if c.window == 0 {
		c.window = max(DefaultHotWindow, int(math.Ceil(64/c.hotShare)))
	}
	if c.window < minWindow || c.window > math.MaxInt32 {
		add("hot window %d records: a bucket must need at least %d records of a window to turn hot (hot share %v), or chance makes buckets hot; set it between %d and %d",
			c.window, minHotRecords, c.hotShare, minWindow, math.MaxInt32)
	}
	minTracked := int(math.Ceil(trackedPerHotShare / c.hotShare))
	if c.tracked == 0 {
		c.tracked = max(DefaultTrackedBuckets, int(math.Ceil(2*trackedPerHotShare/c.hotShare)))
	}
	if c.tracked < minTracked {
		add("tracked buckets %d: must be at least %d (4/hot share) so that a bucket is undercounted by at most a quarter of the hot threshold; set it to %d or more",
			c.tracked, minTracked, minTracked)
	}
}

// splits reports whether hot buckets are split at all.
func (c *routerConfig) splits() bool { return c.parallelism > 1 && c.spread > 1 }
