package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/objstoretest"
)

// newFilesystem returns a Filesystem in a fresh temporary directory.
func newFilesystem(t *testing.T) *objstore.Filesystem {
	t.Helper()
	b, err := objstore.NewFilesystem(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// filesUnder returns the paths of every file and directory below root,
// relative to it and sorted.
func filesUnder(t *testing.T, root string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestFilesystemSuite(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		b := newFilesystem(t)
		t.Cleanup(func() {
			// Every operation of the suite cleans up after itself.
			for _, p := range filesUnder(t, b.Root()) {
				if strings.Contains(p, ".lakestream-tmp-") {
					t.Errorf("temporary file left behind: %s", p)
				}
			}
		})
		return b
	})
}

func TestNewFilesystemCreatesRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "b")
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("root not created: %v", err)
	}
	if b.Root() != root {
		t.Fatalf("Root() = %q, want %q", b.Root(), root)
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.NewFilesystem(file); err == nil {
		t.Fatal("NewFilesystem on a regular file succeeded")
	}
	if _, err := objstore.NewFilesystem(""); err == nil {
		t.Fatal("NewFilesystem with an empty root succeeded")
	}
}

func TestFilesystemLayout(t *testing.T) {
	ctx := context.Background()
	b := newFilesystem(t)
	if err := b.Put(ctx, "t/.hoodie/1.commit", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutIfAbsent(ctx, "t/data/part-0.parquet", strings.NewReader("y")); err != nil {
		t.Fatal(err)
	}
	want := []string{"t", "t/.hoodie", "t/.hoodie/1.commit", "t/data", "t/data/part-0.parquet"}
	if got := filesUnder(t, b.Root()); !slices.Equal(got, want) {
		t.Fatalf("files = %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(b.Root(), "t", "data", "part-0.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o644 {
		t.Errorf("object permissions = %v, want 0644", perm)
	}

	// Delete removes the directories it empties, but never the root.
	for _, key := range []string{"t/.hoodie/1.commit", "t/data/part-0.parquet"} {
		if err := b.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if got := filesUnder(t, b.Root()); len(got) != 0 {
		t.Fatalf("files after deleting everything = %q, want none", got)
	}
	if _, err := os.Stat(b.Root()); err != nil {
		t.Fatalf("root removed: %v", err)
	}
}

func TestFilesystemReservedTempPrefix(t *testing.T) {
	ctx := context.Background()
	b := newFilesystem(t)
	for _, key := range []string{".lakestream-tmp-1", "a/.lakestream-tmp-x/b"} {
		var ke *objstore.KeyError
		if err := b.Put(ctx, key, strings.NewReader("x")); !errors.As(err, &ke) {
			t.Errorf("Put(%q) = %v, want a *KeyError", key, err)
		}
	}
}

func TestFilesystemKeyAndDirectoryConflict(t *testing.T) {
	ctx := context.Background()
	b := newFilesystem(t)
	if err := b.Put(ctx, "a/b", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	// "a" is a directory of keys, not an object.
	if err := b.Put(ctx, "a", strings.NewReader("y")); err == nil {
		t.Error("Put over a directory of keys succeeded")
	}
	if err := b.PutIfAbsent(ctx, "a", strings.NewReader("y")); err == nil || errors.Is(err, objstore.ErrExists) {
		t.Errorf("PutIfAbsent over a directory of keys = %v, want a non-ErrExists error", err)
	}
	if err := b.Delete(ctx, "a"); err != nil {
		t.Errorf("Delete of a directory of keys = %v, want nil (no object there)", err)
	}
	// "a/b" is an object, so "a/b/c" cannot be one.
	if err := b.Put(ctx, "a/b/c", strings.NewReader("z")); err == nil {
		t.Error("Put below an object succeeded")
	}
	if got, err := objstore.ReadAll(ctx, b, "a/b"); err != nil || string(got) != "x" {
		t.Fatalf("a/b = %q, %v after conflicting puts", got, err)
	}
	for _, p := range filesUnder(t, b.Root()) {
		if strings.Contains(p, ".lakestream-tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
	}
}

func TestFilesystemListSkipsTempAndEmptyDirs(t *testing.T) {
	ctx := context.Background()
	b := newFilesystem(t)
	if err := b.Put(ctx, "d/k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Root(), "d", ".lakestream-tmp-123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(b.Root(), "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err := b.List(ctx, "", func(info objstore.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"d/k"}) {
		t.Fatalf("List = %q, want [d/k]", keys)
	}
}

func TestFilesystemSweepTemp(t *testing.T) {
	ctx := context.Background()
	b := newFilesystem(t)
	if err := b.Put(ctx, "keep/obj", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Minute)
	write := func(rel string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(b.Root(), filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(".lakestream-tmp-root", old)
	write("keep/.lakestream-tmp-a", old)
	write("gone/deep/.lakestream-tmp-b", old)
	write("keep/.lakestream-tmp-fresh", time.Now())
	oldObj := "keep/old-object"
	write(oldObj, old)

	n, err := b.SweepTemp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("SweepTemp removed %d files, want 3", n)
	}
	want := []string{"keep", "keep/.lakestream-tmp-fresh", "keep/obj", "keep/old-object"}
	if got := filesUnder(t, b.Root()); !slices.Equal(got, want) {
		t.Fatalf("files after SweepTemp = %q, want %q", got, want)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.SweepTemp(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("SweepTemp with a canceled context = %v", err)
	}
}

// TestFilesystemPutDeleteRace checks that Put survives concurrent Deletes
// removing the parent directories it has just created: through the same
// Filesystem without a single retry (the Deletes wait), and through another
// Filesystem on the same root, as from another process, with retries.
func TestFilesystemPutDeleteRace(t *testing.T) {
	ctx := context.Background()
	race := func(t *testing.T, handles ...*objstore.Filesystem) {
		t.Helper()
		var wg sync.WaitGroup
		for w := range 4 {
			b := handles[w%len(handles)]
			wg.Go(func() {
				for i := range 200 {
					key := fmt.Sprintf("p/q/w%d-%d", w, i%3)
					if err := b.Put(ctx, key, strings.NewReader("x")); err != nil {
						t.Errorf("Put: %v", err)
						return
					}
					if err := b.Delete(ctx, key); err != nil {
						t.Errorf("Delete: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		if got := filesUnder(t, handles[0].Root()); len(got) != 0 {
			t.Fatalf("files left = %q", got)
		}
	}
	t.Run("one-handle", func(t *testing.T) {
		defer objstore.SetWriteTempAttempts(1)()
		race(t, newFilesystem(t))
	})
	t.Run("two-handles", func(t *testing.T) {
		b := newFilesystem(t)
		other, err := objstore.NewFilesystem(b.Root())
		if err != nil {
			t.Fatal(err)
		}
		race(t, b, other)
	})
}

// TestFilesystemPutRootGone checks that a Put into a root that has been
// removed fails at once with the error of the missing root.
func TestFilesystemPutRootGone(t *testing.T) {
	b := newFilesystem(t)
	if err := os.Remove(b.Root()); err != nil {
		t.Fatal(err)
	}
	err := b.Put(context.Background(), "a/b", strings.NewReader("x"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), b.Root()) {
		t.Fatalf("Put into a removed root = %v, want a not-exist error naming %s", err, b.Root())
	}
}
