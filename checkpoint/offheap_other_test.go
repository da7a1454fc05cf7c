//go:build !unix

package checkpoint_test

import "testing"

// offHeap returns n bytes; without mmap they are on the Go heap.
func offHeap(_ testing.TB, n int) []byte { return make([]byte, n) }
