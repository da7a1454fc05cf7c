package objstore_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// symlinkTable lays out the reproduction of issue 12 item 3 in a fresh
// Filesystem: partition t/dt=2026-12-07/hr=00 is a real directory holding an
// object and a symbolic link to a file outside the root, and
// t/dt=2026-12-07/hr=01 is a symbolic link to a directory outside the root
// that holds one file.
func symlinkTable(t *testing.T) (b *objstore.Filesystem, outside, dirLink, fileLink string) {
	t.Helper()
	b = newFilesystem(t)
	if err := b.Put(context.Background(), "t/dt=2026-12-07/hr=00/a.parquet", strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	outside = t.TempDir()
	for _, name := range []string{"b.parquet", "f"} {
		if err := os.WriteFile(filepath.Join(outside, name), []byte("outside"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dirLink = filepath.Join(b.Root(), "t", "dt=2026-12-07", "hr=01")
	if err := os.Symlink(outside, dirLink); err != nil {
		t.Fatal(err)
	}
	fileLink = filepath.Join(b.Root(), "t", "dt=2026-12-07", "hr=00", "link.parquet")
	if err := os.Symlink(filepath.Join(outside, "f"), fileLink); err != nil {
		t.Fatal(err)
	}
	return b, outside, dirLink, fileLink
}

// checkSymlinkError fails the test unless err refuses the symbolic link at
// path: an error naming it that does not match ErrNotExist (which means a
// missing object to the commit protocol).
func checkSymlinkError(t *testing.T, what string, err error, path string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s succeeded through the symbolic link %s", what, path)
	case errors.Is(err, objstore.ErrNotExist):
		t.Errorf("%s = %v, matches ErrNotExist", what, err)
	case !strings.Contains(err.Error(), path):
		t.Errorf("%s = %v, want an error naming %s", what, err, path)
	case !errors.Is(err, objstore.ErrSymlink) || errors.Is(err, objstore.ErrExists):
		t.Errorf("%s = %v, want an error matching ErrSymlink only", what, err)
	}
	var se *objstore.SymlinkError
	if errors.As(err, &se) {
		root := path[:strings.Index(path, "/root/")+len("/root/")]
		if se.Path != path || se.Key != filepath.ToSlash(strings.TrimPrefix(path, root)) {
			t.Errorf("%s: SymlinkError{Path: %q, Key: %q}, want the path %s and its key", what, se.Path, se.Key, path)
		}
	} else if err != nil {
		t.Errorf("%s = %v, not a *SymlinkError", what, err)
	}
}

// TestFilesystemRefusesSymlinks: no operation follows a symbolic link below
// the root, for reads or writes; each refuses with an error naming the link
// (issue 12 item 3: 100 rows were committed through a symlinked partition
// directory that no listing saw).
func TestFilesystemRefusesSymlinks(t *testing.T) {
	ctx := context.Background()
	b, outside, dirLink, fileLink := symlinkTable(t)
	read := func(rc io.ReadCloser, err error) error {
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
			if err == nil {
				return nil
			}
		}
		return err
	}
	for _, tc := range []struct {
		key  string
		link string
	}{
		{"t/dt=2026-12-07/hr=01/new.parquet", dirLink},
		{"t/dt=2026-12-07/hr=01/b.parquet", dirLink},
		{"t/dt=2026-12-07/hr=01/sub/new.parquet", dirLink},
		{"t/dt=2026-12-07/hr=00/link.parquet", fileLink},
	} {
		checkSymlinkError(t, "Put "+tc.key, b.Put(ctx, tc.key, strings.NewReader("100 rows")), tc.link)
		checkSymlinkError(t, "PutIfAbsent "+tc.key, b.PutIfAbsent(ctx, tc.key, strings.NewReader("100 rows")), tc.link)
		checkSymlinkError(t, "Get "+tc.key, read(b.Get(ctx, tc.key)), tc.link)
		checkSymlinkError(t, "GetRange "+tc.key, read(b.GetRange(ctx, tc.key, 1, 2)), tc.link)
		_, err := b.Stat(ctx, tc.key)
		checkSymlinkError(t, "Stat "+tc.key, err, tc.link)
		checkSymlinkError(t, "Delete "+tc.key, b.Delete(ctx, tc.key), tc.link)
	}
	// The listing meets both links: it stops with an error naming the
	// first, rather than skipping rows a reader following links would see.
	for _, tc := range []struct{ prefix, link string }{
		{"", fileLink},
		{"t/", fileLink},
		{"t/dt=2026-12-07/hr=0", fileLink},
		{"t/dt=2026-12-07/hr=01", dirLink},
		{"t/dt=2026-12-07/hr=01/", dirLink},
		{"t/dt=2026-12-07/hr=01/b", dirLink},
		{"t/dt=2026-12-07/hr=00/link", fileLink},
	} {
		err := b.List(ctx, tc.prefix, func(objstore.ObjectInfo) error { return nil })
		checkSymlinkError(t, "List "+tc.prefix, err, tc.link)
	}
	// Listings that cannot contain a link are not disturbed by it.
	for _, prefix := range []string{"t/dt=2026-12-07/hr=00/a", "t/dt=2026-12-07/hr=02", "u/"} {
		var keys []string
		err := b.List(ctx, prefix, func(info objstore.ObjectInfo) error {
			keys = append(keys, info.Key)
			return nil
		})
		if err != nil {
			t.Errorf("List(%q) = %v", prefix, err)
		}
		if want := "t/dt=2026-12-07/hr=00/a.parquet"; prefix == "t/dt=2026-12-07/hr=00/a" && !slices.Equal(keys, []string{want}) {
			t.Errorf("List(%q) = %q, want [%s]", prefix, keys, want)
		}
	}

	// Nothing was written, replaced or removed outside the root, and the
	// links are still there.
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"b.parquet", "f"}) {
		t.Errorf("outside the root: %q, want [b.parquet f]", names)
	}
	for _, name := range names {
		if data, err := os.ReadFile(filepath.Join(outside, name)); err != nil || string(data) != "outside" {
			t.Errorf("outside/%s = %q, %v", name, data, err)
		}
	}
	for _, link := range []string{dirLink, fileLink} {
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("link %s: %v, %v", link, fi, err)
		}
	}
	// The real partition still works.
	if got, err := objstore.ReadAll(ctx, b, "t/dt=2026-12-07/hr=00/a.parquet"); err != nil || string(got) != "a" {
		t.Errorf("a.parquet = %q, %v", got, err)
	}
}

// TestFilesystemSweepRefusesSymlinks: the start-up sweep of temporary files
// neither follows a symbolic link nor skips it silently.
func TestFilesystemSweepRefusesSymlinks(t *testing.T) {
	b, outside, dirLink, _ := symlinkTable(t)
	if err := os.Remove(filepath.Join(b.Root(), "t", "dt=2026-12-07", "hr=00", "link.parquet")); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(outside, ".lakestream-tmp-old")
	if err := os.WriteFile(tmp, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := mustParseTime(t, "2020-01-01T00:00:00Z")
	if err := os.Chtimes(tmp, old, old); err != nil {
		t.Fatal(err)
	}
	_, err := b.SweepTemp(context.Background())
	checkSymlinkError(t, "SweepTemp", err, dirLink)
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("the sweep removed a file outside the root: %v", err)
	}
}

// TestFilesystemRootMayBeASymlink: the root itself may be a link (/data ->
// /mnt/data); it is resolved once, when the bucket is made.
func TestFilesystemRootMayBeASymlink(t *testing.T) {
	ctx := context.Background()
	real := filepath.Join(t.TempDir(), "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(real)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	b, err := objstore.NewFilesystem(link)
	if err != nil {
		t.Fatal(err)
	}
	if b.Root() != real {
		t.Errorf("Root() = %q, want the resolved %q", b.Root(), real)
	}
	if err := b.Put(ctx, "t/k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if got, err := objstore.ReadAll(ctx, b, "t/k"); err != nil || string(got) != "x" {
		t.Fatalf("t/k = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(real, "t", "k")); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := b.List(ctx, "", func(info objstore.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	}); err != nil || !slices.Equal(keys, []string{"t/k"}) {
		t.Fatalf("List = %q, %v", keys, err)
	}
}

func mustParseTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
