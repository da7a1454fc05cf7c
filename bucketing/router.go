package bucketing

import (
	"fmt"
)

// DefaultMaxParallelism is the number of key groups when none is set,
// rounded up to a multiple of the parallelism.
const DefaultMaxParallelism = 128

// Router maps buckets to workers through key groups: a bucket's key group
// is a stable hash of its path modulo maxParallelism, and key group g goes
// to worker g*parallelism/maxParallelism. With maxParallelism a multiple of
// parallelism every worker owns the same number of key groups.
type Router struct {
	parallelism    int
	maxParallelism int
}

// NewRouter validates the settings: maxParallelism 0 means the default
// (DefaultMaxParallelism rounded up to a multiple of parallelism); any other
// value must be a multiple of parallelism, or workers would get unequal
// numbers of key groups.
func NewRouter(parallelism, maxParallelism int) (*Router, error) {
	if parallelism < 1 {
		return nil, fmt.Errorf("parallelism %d: must be at least 1", parallelism)
	}
	if maxParallelism == 0 {
		maxParallelism = (DefaultMaxParallelism + parallelism - 1) / parallelism * parallelism
	}
	if maxParallelism < parallelism {
		return nil, fmt.Errorf("max parallelism %d is below parallelism %d: set it to a multiple of %d such as %d", maxParallelism, parallelism, parallelism, parallelism*DefaultMaxParallelism/gcd(parallelism, DefaultMaxParallelism))
	}
	if maxParallelism%parallelism != 0 {
		lo := maxParallelism / parallelism * parallelism
		return nil, fmt.Errorf("max parallelism %d is not a multiple of parallelism %d: workers would own %d or %d key groups; set it to %d or %d",
			maxParallelism, parallelism, maxParallelism/parallelism, maxParallelism/parallelism+1, max(lo, parallelism), lo+parallelism)
	}
	return &Router{parallelism: parallelism, maxParallelism: maxParallelism}, nil
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

// hash64 is FNV-1a with a murmur3 finalizer: stable across processes and
// versions, allocation-free, and well mixed in its low bits.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
