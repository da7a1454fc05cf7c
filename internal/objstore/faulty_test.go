package objstore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/objstoretest"
)

func TestFaultySuite(t *testing.T) {
	objstoretest.Run(t, func(*testing.T) objstore.Store {
		return objstore.NewFaulty(objstore.NewMemory(), objstore.WithErrorRate(0), objstore.WithSeed(42))
	})
}

func TestFaultyFailsCommitsBefore(t *testing.T) {
	ctx := context.Background()
	inner := objstore.NewMemory()
	f := objstore.NewFaulty(inner, objstore.WithMatcher(func(op objstore.Op, key string) objstore.Injection {
		if op == objstore.OpPutIfAbsent && strings.HasSuffix(key, ".commit") {
			return objstore.InjectBefore
		}
		return objstore.InjectNone
	}))

	err := f.PutIfAbsent(ctx, "t/.hoodie/1.commit", strings.NewReader("c"))
	if !errors.Is(err, objstore.ErrInjected) {
		t.Fatalf("PutIfAbsent(.commit) = %v, want ErrInjected", err)
	}
	var fe *objstore.FaultError
	if !errors.As(err, &fe) || fe.Op != objstore.OpPutIfAbsent || fe.Key != "t/.hoodie/1.commit" || fe.After {
		t.Fatalf("error = %#v, want a FaultError before put if absent of t/.hoodie/1.commit", err)
	}
	if _, err := inner.Stat(ctx, "t/.hoodie/1.commit"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("inner Stat = %v: the faulted write reached the inner bucket", err)
	}
	// Other calls pass.
	if err := f.PutIfAbsent(ctx, "t/.hoodie/1.inflight", strings.NewReader("i")); err != nil {
		t.Fatal(err)
	}
	if err := f.Put(ctx, "t/.hoodie/2.commit", strings.NewReader("c")); err != nil {
		t.Fatal(err)
	}
	if got := f.Injected(objstore.OpPutIfAbsent); got != 1 {
		t.Errorf("Injected(put if absent) = %d, want 1", got)
	}
	if got := f.Calls(objstore.OpPutIfAbsent); got != 2 {
		t.Errorf("Calls(put if absent) = %d, want 2", got)
	}
	if got := f.TotalInjected(); got != 1 {
		t.Errorf("TotalInjected = %d, want 1", got)
	}
}

func TestFaultyFailsAfterSuccess(t *testing.T) {
	ctx := context.Background()
	inner := objstore.NewMemory()
	f := objstore.NewFaulty(inner, objstore.WithMatcher(func(op objstore.Op, key string) objstore.Injection {
		if key == "ambiguous" {
			return objstore.InjectAfter
		}
		return objstore.InjectNone
	}))
	err := f.PutIfAbsent(ctx, "ambiguous", strings.NewReader("written"))
	var fe *objstore.FaultError
	if !errors.As(err, &fe) || !fe.After {
		t.Fatalf("PutIfAbsent = %v, want a FaultError after success", err)
	}
	if !strings.Contains(err.Error(), "after") {
		t.Errorf("error %q does not say the operation succeeded", err)
	}
	// The write happened.
	got, err := objstore.ReadAll(ctx, inner, "ambiguous")
	if err != nil || string(got) != "written" {
		t.Fatalf("inner object = %q, %v; want the write to have happened", got, err)
	}
	// A Get faulted after opening returns no reader, and leaks none.
	if rc, err := f.Get(ctx, "ambiguous"); !errors.Is(err, objstore.ErrInjected) || rc != nil {
		t.Fatalf("Get = %v, %v; want nil, ErrInjected", rc, err)
	}
	// An inner error wins over a fault after: there was no success.
	if err := f.PutIfAbsent(ctx, "ambiguous", strings.NewReader("again")); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("PutIfAbsent on an existing key = %v, want ErrExists", err)
	}
	if got := f.Injected(objstore.OpPutIfAbsent); got != 1 {
		t.Errorf("Injected(put if absent) = %d, want 1", got)
	}
}

func TestFaultySetFailing(t *testing.T) {
	ctx := context.Background()
	f := objstore.NewFaulty(objstore.NewMemory())
	if err := f.Put(ctx, "k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	f.SetFailing(true)
	calls := map[objstore.Op]error{
		objstore.OpPut:         f.Put(ctx, "k", strings.NewReader("y")),
		objstore.OpPutIfAbsent: f.PutIfAbsent(ctx, "n", strings.NewReader("y")),
		objstore.OpList:        f.List(ctx, "", func(objstore.ObjectInfo) error { return nil }),
		objstore.OpDelete:      f.Delete(ctx, "k"),
	}
	_, calls[objstore.OpGet] = f.Get(ctx, "k")
	_, calls[objstore.OpGetRange] = f.GetRange(ctx, "k", 0, 1)
	_, calls[objstore.OpStat] = f.Stat(ctx, "k")
	for _, op := range objstore.Ops() {
		if err := calls[op]; !errors.Is(err, objstore.ErrInjected) {
			t.Errorf("%s while failing = %v, want ErrInjected", op, err)
		}
		if got := f.Injected(op); got != 1 {
			t.Errorf("Injected(%s) = %d, want 1", op, got)
		}
	}
	f.SetFailing(false)
	got, err := objstore.ReadAll(ctx, f, "k")
	if err != nil || string(got) != "x" {
		t.Fatalf("after recovery: %q, %v; want the object untouched", got, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// faultPattern records which of n Stat calls fail.
func faultPattern(f *objstore.Faulty, n int) []bool {
	var failed []bool
	for range n {
		_, err := f.Stat(context.Background(), "k")
		failed = append(failed, errors.Is(err, objstore.ErrInjected))
	}
	return failed
}

func TestFaultyErrorRateIsSeeded(t *testing.T) {
	newFaulty := func(seed uint64) *objstore.Faulty {
		m := objstore.NewMemory()
		if err := m.Put(context.Background(), "k", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		return objstore.NewFaulty(m, objstore.WithSeed(seed), objstore.WithErrorRate(0.3, objstore.OpStat))
	}
	a, b, c := newFaulty(7), newFaulty(7), newFaulty(8)
	pa, pb, pc := faultPattern(a, 200), faultPattern(b, 200), faultPattern(c, 200)
	if !slices.Equal(pa, pb) {
		t.Error("the same seed gave different fault patterns")
	}
	if slices.Equal(pa, pc) {
		t.Error("different seeds gave the same fault pattern")
	}
	n := a.Injected(objstore.OpStat)
	if n < 30 || n > 90 {
		t.Errorf("%d of 200 calls failed at rate 0.3", n)
	}
	// The rate is per operation: Get is not affected.
	for range 50 {
		if _, err := objstore.ReadAll(context.Background(), a, "k"); err != nil {
			t.Fatalf("Get: %v", err)
		}
	}
	a.SetErrorRate(1)
	if _, err := objstore.ReadAll(context.Background(), a, "k"); !errors.Is(err, objstore.ErrInjected) {
		t.Fatalf("Get at rate 1 = %v", err)
	}
}

func TestFaultyAfterRate(t *testing.T) {
	ctx := context.Background()
	inner := objstore.NewMemory()
	f := objstore.NewFaulty(inner, objstore.WithErrorRate(1, objstore.OpPut), objstore.WithAfterRate(1))
	err := f.Put(ctx, "k", strings.NewReader("x"))
	var fe *objstore.FaultError
	if !errors.As(err, &fe) || !fe.After {
		t.Fatalf("Put = %v, want a fault after success", err)
	}
	if _, err := inner.Stat(ctx, "k"); err != nil {
		t.Fatalf("the write did not happen: %v", err)
	}
}

func TestFaultyLatency(t *testing.T) {
	ctx := context.Background()
	f := objstore.NewFaulty(objstore.NewMemory(), objstore.WithLatency(30*time.Millisecond, objstore.OpPut))
	start := time.Now()
	if err := f.Put(ctx, "k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("Put took %v, want at least the 30ms latency", d)
	}
	// The delay gives way to the context.
	f = objstore.NewFaulty(objstore.NewMemory(), objstore.WithLatency(time.Hour))
	ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := f.Stat(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stat with an hour of latency = %v, want DeadlineExceeded", err)
	}
}

func TestFaultyMatcherCanChange(t *testing.T) {
	ctx := context.Background()
	f := objstore.NewFaulty(objstore.NewMemory())
	f.SetMatcher(func(op objstore.Op, key string) objstore.Injection {
		if op == objstore.OpDelete {
			return objstore.InjectBefore
		}
		return objstore.InjectNone
	})
	if err := f.Delete(ctx, "k"); !errors.Is(err, objstore.ErrInjected) {
		t.Fatalf("Delete = %v, want ErrInjected", err)
	}
	f.SetMatcher(nil)
	if err := f.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete after removing the matcher = %v", err)
	}
}
