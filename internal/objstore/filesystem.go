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
	"syscall"
)

// tempPrefix starts the name of every temporary file Filesystem writes before
// publishing it under its key. Listings skip such files, keys may not contain
// a segment that starts with it, and SweepTemp removes stale ones.
const tempPrefix = ".lakestream-tmp-"

// Filesystem is a Bucket stored in a directory of the local filesystem. A key
// "a/b/c" is the file root/a/b/c. Writes are atomic and durable: the data goes
// to a temporary file in the target directory, is fsynced and then renamed
// (Put) or hard-linked (PutIfAbsent) into place, and the directory is fsynced.
//
// Because keys are paths, a key cannot be both an object and a directory: with
// an object at "a", putting "a/b" fails, and the other way around. Symbolic
// links and other non-regular files under root are ignored.
type Filesystem struct {
	root string
}

var _ Bucket = (*Filesystem)(nil)

// NewFilesystem returns a Filesystem bucket rooted at the directory root,
// creating it if it does not exist.
func NewFilesystem(root string) (*Filesystem, error) {
	if root == "" {
		return nil, errors.New("new filesystem bucket: empty root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("new filesystem bucket: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("new filesystem bucket: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("new filesystem bucket: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("new filesystem bucket: %s is not a directory", abs)
	}
	return &Filesystem{root: abs}, nil
}

// Root returns the absolute path of the bucket's root directory.
func (f *Filesystem) Root() string { return f.root }

// String returns the bucket's location as a file URL.
func (f *Filesystem) String() string { return "file://" + filepath.ToSlash(f.root) }

// path validates key and returns its file path.
func (f *Filesystem) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, tempPrefix) {
			return "", &KeyError{Key: key, Reason: "segment starts with reserved prefix " + tempPrefix}
		}
	}
	return filepath.Join(f.root, filepath.FromSlash(key)), nil
}

// Put implements Bucket.
func (f *Filesystem) Put(ctx context.Context, key string, r io.Reader) error {
	p, err := f.path(key)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	tmp, err := f.writeTemp(ctx, p, r)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// PutIfAbsent implements Bucket. The hard link that publishes the object
// fails if the name exists, which makes the check and the write one atomic
// step.
func (f *Filesystem) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	p, err := f.path(key)
	if err != nil {
		return fmt.Errorf("put if absent: %w", err)
	}
	if _, err := os.Lstat(p); err == nil {
		// Fast path: skip writing a body that cannot be published.
		return fmt.Errorf("put if absent %s: %w", key, existsError(p))
	}
	tmp, err := f.writeTemp(ctx, p, r)
	if err != nil {
		return fmt.Errorf("put if absent %s: %w", key, err)
	}
	linkErr := os.Link(tmp, p)
	if err := os.Remove(tmp); err != nil && linkErr == nil {
		linkErr = err
	}
	if linkErr != nil {
		if errors.Is(linkErr, fs.ErrExist) {
			linkErr = existsError(p)
		}
		return fmt.Errorf("put if absent %s: %w", key, linkErr)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("put if absent %s: %w", key, err)
	}
	return nil
}

// existsError is the error for a PutIfAbsent whose path is taken: ErrExists
// for a file, a plain error for a directory (which holds other keys and is
// not an object).
func existsError(p string) error {
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return errors.New("a directory of other keys is in the way")
	}
	return ErrExists
}

// Get implements Bucket.
func (f *Filesystem) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := f.open(ctx, key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return rc, nil
}

// GetRange implements Bucket.
func (f *Filesystem) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := checkRange(off, length); err != nil {
		return nil, fmt.Errorf("get range %s: %w", key, err)
	}
	rc, err := f.open(ctx, key, off, length)
	if err != nil {
		return nil, fmt.Errorf("get range %s: %w", key, err)
	}
	return rc, nil
}

func (f *Filesystem) open(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := os.Open(p)
	if err != nil {
		return nil, notExist(err)
	}
	fi, err := file.Stat()
	if err != nil {
		_ = file.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		_ = file.Close()
		return nil, ErrNotExist
	}
	if off == 0 && length == -1 {
		return file, nil
	}
	start, n := clampRange(fi.Size(), off, length)
	return readCloser{Reader: io.NewSectionReader(file, start, n), Closer: file}, nil
}

// Stat implements Bucket.
func (f *Filesystem) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	p, err := f.path(key)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, notExist(err))
	}
	if !fi.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotExist)
	}
	return ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements Bucket. It also removes the parent directories that the
// deletion leaves empty, up to but not including the root.
func (f *Filesystem) Delete(ctx context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(notExist(err), ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if fi.IsDir() {
		// A directory of other keys: there is no object at key.
		return nil
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(notExist(err), ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	dir := filepath.Dir(p)
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	f.removeEmptyDirs(dir)
	return nil
}

// Close implements Bucket. A Filesystem holds no resources.
func (f *Filesystem) Close() error { return nil }

// notExist maps the errors of a missing file, including a path through a
// regular file ("a/b" when "a" is an object), to ErrNotExist.
func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ErrNotExist
	}
	return err
}
