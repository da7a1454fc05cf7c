//go:build unix

package objstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
)

// TestFilesystemIgnoresFIFOs: a FIFO below the root is not an object. Get
// and GetRange say so at once rather than block in open(2) waiting for a
// writer, and List skips it.
func TestFilesystemIgnoresFIFOs(t *testing.T) {
	ctx := context.Background()
	b := newFilesystem(t)
	if err := b.Put(ctx, "d/k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(b.Root(), "d", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "d/fifo"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Get(fifo) = %v, want ErrNotExist", err)
	}
	if _, err := b.GetRange(ctx, "d/fifo", 0, 1); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("GetRange(fifo) = %v, want ErrNotExist", err)
	}
	if _, err := b.Stat(ctx, "d/fifo"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Stat(fifo) = %v, want ErrNotExist", err)
	}
	var keys []string
	if err := b.List(ctx, "", func(info objstore.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"d/k"}) {
		t.Fatalf("List = %q, want [d/k]", keys)
	}
}
