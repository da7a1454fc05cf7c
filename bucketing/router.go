package bucketing

// DefaultMaxParallelism is the number of key groups when none is set,
// rounded up to a multiple of the parallelism.
const DefaultMaxParallelism = 128

// Router maps buckets to workers through key groups: a bucket's key group
// is a stable hash of its path modulo maxParallelism, and key group g goes
// to worker g*parallelism/maxParallelism. With maxParallelism a multiple of
// parallelism every worker owns the same number of key groups.
//
// Worker, KeyGroup and the getters are pure and safe for concurrent use.
// Route, which also splits hot buckets over several workers, keeps state and
// must be called from one goroutine only (see Route); HotBuckets is safe to
// call from any goroutine.
type Router struct {
	parallelism    int
	maxParallelism int
	cfg            routerConfig
	hot            *hotness // nil when hot buckets are not split
}

// NewRouter validates the settings: maxParallelism 0 means the default
// (DefaultMaxParallelism rounded up to a multiple of parallelism); any other
// value must be a multiple of parallelism, or workers would get unequal
// numbers of key groups. The options configure the hot-bucket split (see
// RouterOption for their defaults). Every problem is reported at once, as a
// *RouterConfigError.
func NewRouter(parallelism, maxParallelism int, opts ...RouterOption) (*Router, error) {
	cfg, err := newRouterConfig(parallelism, maxParallelism, opts)
	if err != nil {
		return nil, err
	}
	r := &Router{parallelism: cfg.parallelism, maxParallelism: cfg.maxParallelism, cfg: cfg}
	if cfg.splits() {
		r.hot = newHotness(r, &cfg)
	}
	return r, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Parallelism is the number of workers.
func (r *Router) Parallelism() int { return r.parallelism }

// MaxParallelism is the number of key groups.
func (r *Router) MaxParallelism() int { return r.maxParallelism }

// KeyGroup returns the key group of a bucket.
func (r *Router) KeyGroup(bucket string) int {
	return int(hash64(bucket) % uint64(r.maxParallelism))
}

// Worker returns the worker that writes a bucket.
func (r *Router) Worker(bucket string) int {
	return r.KeyGroup(bucket) * r.parallelism / r.maxParallelism
}
