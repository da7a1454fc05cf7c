package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/objstoretest"
)

// recorder counts what Observe reports, by operation and error class.
type recorder struct {
	mu     sync.Mutex
	calls  map[string]int
	counts map[[2]string]int
	last   map[string]error
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, counts: map[[2]string]int{}, last: map[string]error{}}
}

func (r *recorder) observe(op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		panic(fmt.Sprintf("negative duration %v for %s", d, op))
	}
	r.calls[op]++
	r.counts[[2]string{op, objstore.ErrorClass(err)}]++
	r.last[op] = err
}

func (r *recorder) count(op, class string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[[2]string{op, class}]
}

func (r *recorder) total(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[op]
}

// observeOps pairs the operation labels of Observe with the Ops of Faulty.
var observeOps = map[string]objstore.Op{
	objstore.ObservePut:         objstore.OpPut,
	objstore.ObservePutIfAbsent: objstore.OpPutIfAbsent,
	objstore.ObserveGet:         objstore.OpGet,
	objstore.ObserveGetRange:    objstore.OpGetRange,
	objstore.ObserveList:        objstore.OpList,
	objstore.ObserveStat:        objstore.OpStat,
	objstore.ObserveDelete:      objstore.OpDelete,
}

// TestObserveSuite runs the acceptance suite through Observe over a Faulty
// that injects nothing but counts the calls: the wrapper keeps every
// guarantee, and reports every request exactly once.
func TestObserveSuite(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		rec := newRecorder()
		counter := objstore.NewFaulty(objstore.NewMemory())
		t.Cleanup(func() {
			for label, op := range observeOps {
				if got, want := rec.total(label), counter.Calls(op); got != want {
					t.Errorf("%s reported %d times, made %d times", label, got, want)
				}
			}
		})
		return objstore.Observe(counter, rec.observe)
	})
}

// TestObserveFaults reports the calls of a Faulty failing at random, before
// and after the inner call: one report per call, with every injected fault
// classified as such.
func TestObserveFaults(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder()
	faulty := objstore.NewFaulty(objstore.NewMemory(), objstore.WithErrorRate(0.3), objstore.WithAfterRate(0.5), objstore.WithSeed(7))
	b := objstore.Observe(faulty, rec.observe)
	for i := range 200 {
		key := fmt.Sprintf("k%d", i%7)
		_ = b.Put(ctx, key, strings.NewReader("data"))
		_ = b.PutIfAbsent(ctx, key+".c", strings.NewReader("data"))
		if rc, err := b.Get(ctx, key); err == nil {
			_, _ = io.ReadAll(rc)
			rc.Close()
		}
		if rc, err := b.GetRange(ctx, key, 1, 2); err == nil {
			rc.Close() // not read: Close reports it
		}
		_ = b.List(ctx, "k", func(objstore.ObjectInfo) error { return nil })
		_, _ = b.Stat(ctx, key)
		if i%3 == 0 {
			_ = b.Delete(ctx, key)
		}
	}
	for label, op := range observeOps {
		if got, want := rec.total(label), faulty.Calls(op); got != want {
			t.Errorf("%s reported %d times, made %d times", label, got, want)
		}
		if got, want := rec.count(label, "injected"), faulty.Injected(op); got != want || want == 0 {
			t.Errorf("%s: %d reported injected, %d injected", label, got, want)
		}
		if rec.count(label, "ok") == 0 {
			t.Errorf("%s: no successful call reported", label)
		}
	}
	if rec.count(objstore.ObservePutIfAbsent, "exists") == 0 || rec.count(objstore.ObserveGet, "not_found") == 0 {
		t.Errorf("answers not classified: %v", rec.counts)
	}
}

// TestObserveList: a listing stopped by its callback is a success, a
// listing that fails is not, and the time spent in the callback is left out.
func TestObserveList(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder()
	fsb := newFilesystem(t)
	b := objstore.Observe(fsb, rec.observe)
	for _, k := range []string{"a/1", "a/2"} {
		if err := b.Put(ctx, k, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	errStop := errors.New("stop")
	var d time.Duration
	b = objstore.Observe(fsb, func(op string, dd time.Duration, err error) {
		d = dd
		rec.observe(op, dd, err)
	})
	if err := b.List(ctx, "a/", func(objstore.ObjectInfo) error {
		time.Sleep(50 * time.Millisecond)
		return errStop
	}); err != errStop {
		t.Fatalf("List = %v, want the callback's error", err)
	}
	if got := rec.count(objstore.ObserveList, "ok"); got != 1 {
		t.Errorf("a stopped listing reported as %v, want ok", rec.counts)
	}
	if d >= 50*time.Millisecond {
		t.Errorf("list duration %v includes the callback's 50ms", d)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(fsb.Root(), "a", "3")); err != nil {
		t.Fatal(err)
	}
	if err := b.List(ctx, "a/", func(objstore.ObjectInfo) error { return nil }); !errors.Is(err, objstore.ErrSymlink) {
		t.Fatalf("List = %v, want ErrSymlink", err)
	}
	if got := rec.count(objstore.ObserveList, "symlink"); got != 1 {
		t.Errorf("counts %v, want one symlink list", rec.counts)
	}
	if got := objstore.Describe(b); got != fsb.Root() {
		t.Errorf("Describe(observed filesystem) = %q, want %q", got, fsb.Root())
	}
}

func TestErrorClass(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMemory()
	if err := mem.Put(ctx, "k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	_, notFound := mem.Get(ctx, "missing")
	_, canceledErr := mem.Get(canceled, "k")
	_, expiredErr := mem.Get(expired, "k")
	faulty := objstore.NewFaulty(mem)
	faulty.SetFailing(true)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{notFound, "not_found"},
		{mem.PutIfAbsent(ctx, "k", strings.NewReader("y")), "exists"},
		{mem.Put(ctx, "/abs", strings.NewReader("y")), "invalid"},
		{faulty.Put(ctx, "k", strings.NewReader("y")), "injected"},
		{canceledErr, "canceled"},
		{expiredErr, "timeout"},
		{fmt.Errorf("put k: %w", &objstore.SymlinkError{Path: "/r/k", Key: "k"}), "symlink"},
		{fmt.Errorf("put k: %w", &fs.PathError{Op: "write", Path: "/r/k", Err: syscall.ENOSPC}), "no_space"},
		{fmt.Errorf("put k: %w", &fs.PathError{Op: "open", Path: "/r/k", Err: syscall.EACCES}), "permission"},
		{fmt.Errorf("put k: %w", &fs.PathError{Op: "open", Path: "/r/k", Err: syscall.EROFS}), "permission"},
		{fmt.Errorf("get k: read: %w", io.ErrUnexpectedEOF), "network"},
		{errors.New("something else"), "other"},
	} {
		got := objstore.ErrorClass(tc.err)
		if got != tc.want {
			t.Errorf("ErrorClass(%v) = %q, want %q", tc.err, got, tc.want)
		}
		found := false
		for _, c := range objstore.ErrorClasses() {
			found = found || c == got
		}
		if !found {
			t.Errorf("ErrorClass(%v) = %q is not in ErrorClasses", tc.err, got)
		}
	}
}

func TestDescribe(t *testing.T) {
	fsb := newFilesystem(t)
	mem := objstore.NewMemory()
	for _, tc := range []struct {
		b    objstore.Store
		want string
	}{
		{fsb, fsb.Root()},
		{mem, "memory"},
		{objstore.NewFaulty(objstore.Observe(fsb, func(string, time.Duration, error) {})), fsb.Root()},
		{objstore.Observe(objstore.NewFaulty(mem), func(string, time.Duration, error) {}), "memory"},
		{nil, "<nil>"},
	} {
		if got := objstore.Describe(tc.b); got != tc.want {
			t.Errorf("Describe(%T) = %q, want %q", tc.b, got, tc.want)
		}
	}
}
