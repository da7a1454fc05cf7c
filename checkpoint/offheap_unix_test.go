//go:build unix

package checkpoint_test

import (
	"syscall"
	"testing"
)

// offHeap returns n bytes of anonymous memory outside the Go heap, unmapped
// when the test ends. Nothing in it may point into the Go heap.
func offHeap(tb testing.TB, n int) []byte {
	tb.Helper()
	if n == 0 {
		return nil
	}
	m, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		tb.Fatalf("map %d bytes: %v", n, err)
	}
	tb.Cleanup(func() { syscall.Munmap(m) })
	return m
}
