package hudi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
)

func TestForEach(t *testing.T) {
	ctx := context.Background()
	var running, most atomic.Int32
	var calls atomic.Int32
	err := forEach(ctx, 100, 4, func(ctx context.Context, i int) error {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		return nil
	})
	if err != nil || calls.Load() != 100 || most.Load() > 4 {
		t.Fatalf("err %v, %d calls, %d at once (limit 4)", err, calls.Load(), most.Load())
	}
	// The error of the lowest failing index; no call starts after a
	// failure is seen.
	calls.Store(0)
	err = forEach(ctx, 1000, 2, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 7 || i == 9 {
			return fmt.Errorf("fail %d", i)
		}
		return nil
	})
	if err == nil || (err.Error() != "fail 7" && err.Error() != "fail 9") || calls.Load() > 20 {
		t.Fatalf("err %v after %d calls", err, calls.Load())
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := forEach(cancelled, 10, 2, func(ctx context.Context, i int) error { return nil }); !errors.Is(err, context.Canceled) && err != nil {
		t.Fatalf("cancelled: %v", err)
	}
}

// A put that stops reading part way (a store error) ends the writer of the
// body: nothing blocks, nothing leaks (goleak in TestMain).
func TestPutStreamedStopsTheWriter(t *testing.T) {
	stored := errors.New("store failed")
	err := putStreamed(context.Background(), func(_ context.Context, _ string, r io.Reader) error {
		buf := make([]byte, 10)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		return stored
	}, "k", func(w io.Writer) error {
		for range 1 << 20 {
			if _, err := io.WriteString(w, strings.Repeat("x", 100)); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, stored) {
		t.Fatalf("err %v", err)
	}
	// A writer that fails fails the put.
	bad := errors.New("encode failed")
	err = putStreamed(context.Background(), func(_ context.Context, _ string, r io.Reader) error {
		_, err := io.ReadAll(r)
		return err
	}, "k", func(w io.Writer) error { return bad })
	if !errors.Is(err, bad) {
		t.Fatalf("err %v", err)
	}
}
