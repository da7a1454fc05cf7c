package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeTempAttempts bounds the retries of writeTemp when a concurrent Delete
// removes a freshly created, still empty parent directory.
const writeTempAttempts = 10

// writeTemp copies r into a new temporary file in the directory of the final
// path p, creating missing parent directories, and fsyncs and closes it. It
// returns the temporary file's path; on error nothing is left behind.
func (f *Filesystem) writeTemp(ctx context.Context, p string, r io.Reader) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dir := filepath.Dir(p)
	var (
		tmp *os.File
		err error
	)
	for range writeTempAttempts {
		if err = f.mkdirs(dir); err == nil {
			tmp, err = os.CreateTemp(dir, tempPrefix+"*")
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("create temporary file: %w", err)
	}
	name := tmp.Name()
	fail := func(err error) (string, error) {
		_ = tmp.Close()
		_ = os.Remove(name)
		return "", err
	}
	if _, err := io.Copy(tmp, contextReader{ctx: ctx, r: r}); err != nil {
		return fail(fmt.Errorf("write: %w", err))
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}

// mkdirs creates dir and its missing parents below the root, fsyncing the
// parent of every directory it creates so that the new entries are durable.
func (f *Filesystem) mkdirs(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	rel, err := filepath.Rel(f.root, dir)
	if err != nil {
		return err
	}
	if rel == "." {
		return nil
	}
	cur := f.root
	for seg := range strings.SplitSeq(filepath.ToSlash(rel), "/") {
		next := filepath.Join(cur, seg)
		switch err := os.Mkdir(next, 0o755); {
		case err == nil:
			if err := syncDir(cur); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
		default:
			return err
		}
		cur = next
	}
	return nil
}

// removeEmptyDirs removes dir and then its parents while they are empty,
// stopping below the root. Failures (typically a directory that is not empty)
// end the climb silently: leftover empty directories are harmless.
func (f *Filesystem) removeEmptyDirs(dir string) {
	for dir != f.root && len(dir) > len(f.root) {
		if err := os.Remove(dir); err != nil {
			return
		}
		parent := filepath.Dir(dir)
		_ = syncDir(parent)
		dir = parent
	}
}

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a crash. A directory that a concurrent Delete has removed meanwhile
// needs no sync: what it held is gone anyway.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return d.Close()
}
