package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrInjected is matched (errors.Is) by every error a Faulty injects.
var ErrInjected = errors.New("injected fault")

// Op names a Store operation, for fault matching and counting.
type Op string

// The operations of a Store that a Faulty can fail. Close is never faulted.
const (
	OpPut         Op = "put"
	OpPutIfAbsent Op = "put if absent"
	OpGet         Op = "get"
	OpGetRange    Op = "get range"
	OpList        Op = "list"
	OpStat        Op = "stat"
	OpDelete      Op = "delete"
)

// Ops lists every Op.
func Ops() []Op {
	return []Op{OpPut, OpPutIfAbsent, OpGet, OpGetRange, OpList, OpStat, OpDelete}
}

// Injection says whether and when a Faulty fails a call.
type Injection int

const (
	// InjectNone lets the call through.
	InjectNone Injection = iota
	// InjectBefore fails the call without running it on the inner bucket.
	InjectBefore
	// InjectAfter runs the call on the inner bucket and then fails it even
	// though it succeeded: an ambiguous outcome, like a timeout after S3
	// accepted a write.
	InjectAfter
)

// FaultError is an injected error. It matches ErrInjected.
type FaultError struct {
	Op  Op
	Key string // the key, or the prefix for OpList
	// After is set when the inner operation ran and succeeded before the
	// fault, so its effect is visible.
	After bool
}

func (e *FaultError) Error() string {
	if e.After {
		return fmt.Sprintf("%s %s: injected fault after the operation succeeded", e.Op, e.Key)
	}
	return fmt.Sprintf("%s %s: injected fault", e.Op, e.Key)
}

// Unwrap returns ErrInjected.
func (e *FaultError) Unwrap() error { return ErrInjected }

// Faulty wraps a Store and injects errors and latency into its calls, for
// tests. Faults come from, in order: SetFailing (every call fails before
// running), the matcher, and the per-operation random error rates. The random
// source is seeded (WithSeed), so a single-goroutine test is reproducible.
type Faulty struct {
	inner Store

	mu        sync.Mutex
	rng       *rand.Rand
	rates     map[Op]float64
	afterRate float64
	latency   map[Op]time.Duration
	matcher   func(op Op, key string) Injection
	failing   bool
	calls     map[Op]int
	injected  map[Op]int
}

var _ Store = (*Faulty)(nil)

// FaultOption configures a Faulty.
type FaultOption func(*Faulty)

// WithSeed seeds the random source of the error rates. The default seed is 1.
func WithSeed(seed uint64) FaultOption {
	return func(f *Faulty) { f.rng = rand.New(rand.NewPCG(seed, seed)) }
}

// WithErrorRate makes the calls of the given operations, or of every
// operation if none is given, fail with probability rate (0 to 1).
func WithErrorRate(rate float64, ops ...Op) FaultOption {
	return func(f *Faulty) {
		if len(ops) == 0 {
			ops = Ops()
		}
		for _, op := range ops {
			f.rates[op] = rate
		}
	}
}

// WithAfterRate makes the given fraction (0 to 1) of the randomly injected
// faults happen after the inner call succeeded (InjectAfter) instead of
// before it.
func WithAfterRate(rate float64) FaultOption {
	return func(f *Faulty) { f.afterRate = rate }
}

// WithLatency delays the calls of the given operations, or of every
// operation if none is given, by d before they run. The delay ends early,
// with the context's error, if the context is done.
func WithLatency(d time.Duration, ops ...Op) FaultOption {
	return func(f *Faulty) {
		if len(ops) == 0 {
			ops = Ops()
		}
		for _, op := range ops {
			f.latency[op] = d
		}
	}
}

// WithMatcher decides the fault of specific calls: fn gets the operation and
// key (the prefix for OpList) of every call and returns InjectNone to leave
// it to the error rates. For example, to fail the commits of a timeline:
//
//	WithMatcher(func(op Op, key string) Injection {
//		if op == OpPutIfAbsent && strings.HasSuffix(key, ".commit") {
//			return InjectBefore
//		}
//		return InjectNone
//	})
//
// fn may be called concurrently.
func WithMatcher(fn func(op Op, key string) Injection) FaultOption {
	return func(f *Faulty) { f.matcher = fn }
}

// NewFaulty wraps inner. Without options it injects nothing.
func NewFaulty(inner Store, opts ...FaultOption) *Faulty {
	f := &Faulty{
		inner:    inner,
		rng:      rand.New(rand.NewPCG(1, 1)),
		rates:    make(map[Op]float64),
		latency:  make(map[Op]time.Duration),
		calls:    make(map[Op]int),
		injected: make(map[Op]int),
	}
	for _, opt := range opts {
		opt(f)
	}
	return f
}

// Inner returns the wrapped bucket.
func (f *Faulty) Inner() Store { return f.inner }

// SetFailing makes every call fail before it runs, simulating storage that is
// down, until SetFailing(false).
func (f *Faulty) SetFailing(failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = failing
}

// SetMatcher replaces the matcher (see WithMatcher); nil removes it.
func (f *Faulty) SetMatcher(fn func(op Op, key string) Injection) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.matcher = fn
}

// SetErrorRate changes the error rate of the given operations, or of every
// operation if none is given.
func (f *Faulty) SetErrorRate(rate float64, ops ...Op) {
	f.mu.Lock()
	defer f.mu.Unlock()
	WithErrorRate(rate, ops...)(f)
}

// Calls returns how many calls of op the Faulty has seen, faulted or not.
func (f *Faulty) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Injected returns how many faults the Faulty has injected into calls of op.
func (f *Faulty) Injected(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected[op]
}

// TotalInjected returns how many faults the Faulty has injected in all.
func (f *Faulty) TotalInjected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.injected {
		n += c
	}
	return n
}

// decide counts a call and picks its fault. The matcher runs outside the
// lock so that it may call back into the Faulty.
func (f *Faulty) decide(op Op, key string) (Injection, time.Duration) {
	f.mu.Lock()
	f.calls[op]++
	failing, matcher, delay := f.failing, f.matcher, f.latency[op]
	f.mu.Unlock()

	inj := InjectNone
	switch {
	case failing:
		inj = InjectBefore
	case matcher != nil:
		inj = matcher(op, key)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if inj == InjectNone {
		if rate := f.rates[op]; rate > 0 && f.rng.Float64() < rate {
			inj = InjectBefore
			if f.afterRate > 0 && f.rng.Float64() < f.afterRate {
				inj = InjectAfter
			}
		}
	}
	return inj, delay
}

// inject counts and returns an injected fault.
func (f *Faulty) inject(op Op, key string, after bool) error {
	f.mu.Lock()
	f.injected[op]++
	f.mu.Unlock()
	return &FaultError{Op: op, Key: key, After: after}
}

// call runs one operation through the fault machinery: latency, then a fault
// before, or the inner call and maybe a fault after.
func (f *Faulty) call(ctx context.Context, op Op, key string, run func() error) error {
	inj, delay := f.decide(op, key)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s: %w", op, key, ctx.Err())
		}
	}
	if inj == InjectBefore {
		return f.inject(op, key, false)
	}
	if err := run(); err != nil {
		return err
	}
	if inj == InjectAfter {
		return f.inject(op, key, true)
	}
	return nil
}

// Put implements Store.
func (f *Faulty) Put(ctx context.Context, key string, r io.Reader) error {
	return f.call(ctx, OpPut, key, func() error { return f.inner.Put(ctx, key, r) })
}

// PutIfAbsent implements Store.
func (f *Faulty) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	return f.call(ctx, OpPutIfAbsent, key, func() error { return f.inner.PutIfAbsent(ctx, key, r) })
}

// Get implements Store.
func (f *Faulty) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return f.open(ctx, OpGet, key, func() (io.ReadCloser, error) { return f.inner.Get(ctx, key) })
}

// GetRange implements Store.
func (f *Faulty) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	return f.open(ctx, OpGetRange, key, func() (io.ReadCloser, error) { return f.inner.GetRange(ctx, key, off, length) })
}

func (f *Faulty) open(ctx context.Context, op Op, key string, run func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := f.call(ctx, op, key, func() error {
		var err error
		rc, err = run()
		return err
	})
	if err != nil {
		if rc != nil {
			_ = rc.Close() // opened, then faulted after
		}
		return nil, err
	}
	return rc, nil
}

// List implements Store. A fault after the call comes once the whole
// listing was delivered to fn.
func (f *Faulty) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	return f.call(ctx, OpList, prefix, func() error { return f.inner.List(ctx, prefix, fn) })
}

// Stat implements Store.
func (f *Faulty) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	var info ObjectInfo
	err := f.call(ctx, OpStat, key, func() error {
		var err error
		info, err = f.inner.Stat(ctx, key)
		return err
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	return info, nil
}

// Delete implements Store.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	return f.call(ctx, OpDelete, key, func() error { return f.inner.Delete(ctx, key) })
}

// Close closes the inner bucket. It is never faulted.
func (f *Faulty) Close() error { return f.inner.Close() }
