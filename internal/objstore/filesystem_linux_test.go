package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/lakestream/lakestream/internal/objstore"
)

// TestFilesystemSymlinkSwapRace swaps a partition directory with a symbolic
// link to a directory outside the root (renameat2 RENAME_EXCHANGE, atomic)
// over and over while objects are written, read, listed and deleted under
// it. Every operation either works on the real directory or fails with
// ErrSymlink; nothing ever lands outside the root. A check of the path
// before using it would lose this race.
func TestFilesystemSymlinkSwapRace(t *testing.T) {
	ctx := context.Background()
	b := newFilesystem(t)
	outside := t.TempDir()
	if err := b.Put(ctx, "t/p/seed", strings.NewReader("seed")); err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(b.Root(), "t", "p")
	link := filepath.Join(b.Root(), "t", "q")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}

	var done atomic.Bool
	swapped := make(chan int)
	go func() {
		n := 0
		for ; !done.Load(); n++ {
			if err := unix.Renameat2(unix.AT_FDCWD, part, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
					break
				}
				t.Errorf("renameat2: %v", err)
				break
			}
		}
		swapped <- n
	}()
	allowed := func(what string, err error) {
		if err != nil && !errors.Is(err, objstore.ErrSymlink) {
			t.Errorf("%s = %v, want nil or ErrSymlink", what, err)
		}
	}
	var refused, written int
	for i := range 300 {
		key := fmt.Sprintf("t/p/k%d", i%5)
		err := b.Put(ctx, key, strings.NewReader("x"))
		if errors.Is(err, objstore.ErrSymlink) {
			refused++
		} else if err == nil {
			written++
		}
		allowed("Put", err)
		allowed("PutIfAbsent", ignoreExists(b.PutIfAbsent(ctx, key+".c", strings.NewReader("x"))))
		_, err = objstore.ReadAll(ctx, b, "t/p/seed")
		allowed("Get", err)
		_, err = b.Stat(ctx, "t/p/seed")
		allowed("Stat", err)
		allowed("List", b.List(ctx, "t/", func(objstore.ObjectInfo) error { return nil }))
		allowed("Delete", b.Delete(ctx, key))
	}
	done.Store(true)
	n := <-swapped
	if n == 0 {
		t.Skip("renameat2 RENAME_EXCHANGE is not supported here")
	}
	t.Logf("%d swaps; of 300 puts %d refused, %d written", n, refused, written)
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("%d entries written outside the root, e.g. %s", len(entries), entries[0].Name())
	}
}

func ignoreExists(err error) error {
	if errors.Is(err, objstore.ErrExists) {
		return nil
	}
	return err
}
