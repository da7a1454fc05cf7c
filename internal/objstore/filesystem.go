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
	"sync"
	"syscall"
)

// tempPrefix starts the name of every temporary file Filesystem writes before
// publishing it under its key. Listings skip such files, keys may not contain
// a segment that starts with it, and SweepTemp removes stale ones.
const tempPrefix = ".lakestream-tmp-"

// Filesystem is a Store in a directory of the local filesystem. A key
// "a/b/c" is the file root/a/b/c. Writes are atomic and durable: the data goes
// to a temporary file in the target directory, is fsynced and then renamed
// (Put) or hard-linked (PutIfAbsent) into place, and the directory is fsynced.
//
// Because keys are paths, a key cannot be both an object and a directory: with
// an object at "a", putting "a/b" fails, and the other way around.
//
// A Filesystem never follows a symbolic link below its root: an operation
// whose key goes through one, or lands on one, and a listing or sweep that
// meets one where keys of its prefix could be, fails with a *SymlinkError
// (matching ErrSymlink) naming the link. Otherwise an object written through
// a link to a directory outside the root would be committed where a listing,
// which cannot tell such a directory from a loop or another table, does not
// see it. On Linux and the BSDs every operation resolves its key one
// directory at a time from the root with the *at system calls and
// O_NOFOLLOW, so a link swapped in while it runs is refused too. The root
// itself may be a link: NewFilesystem resolves it once. Other non-regular
// files (FIFOs, sockets, devices) are not objects and are ignored.
type Filesystem struct {
	root string

	// pruning orders, within this process, a Put's creation of its
	// directories and temporary file (readers) against a Delete's removal
	// of the directories it left empty (the writer): without it a Put can
	// lose its freshly made directory to a Delete any number of times in a
	// row. Another process on the same root is not ordered by it; Put
	// retries for that (writeTempAttempts).
	pruning sync.RWMutex
}

var _ Store = (*Filesystem)(nil)

// NewFilesystem returns a Filesystem bucket rooted at the directory root,
// creating it if it does not exist. Symbolic links in root itself (/data ->
// /mnt/data) are resolved here, once; Root returns the result.
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
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("new filesystem bucket: %w", err)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return nil, fmt.Errorf("new filesystem bucket: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("new filesystem bucket: %s is not a directory", resolved)
	}
	return &Filesystem{root: resolved}, nil
}

// Root returns the absolute path of the bucket's root directory, with
// symbolic links resolved.
func (f *Filesystem) Root() string { return f.root }

// Location returns the absolute path of the root, for logs.
func (f *Filesystem) Location() string { return f.root }

// String returns the bucket's location as a file URL.
func (f *Filesystem) String() string { return "file://" + filepath.ToSlash(f.root) }

// segments validates key and splits it into its path segments.
func (f *Filesystem) segments(key string) ([]string, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	segs := strings.Split(key, "/")
	for _, seg := range segs {
		if strings.HasPrefix(seg, tempPrefix) {
			return nil, &KeyError{Key: key, Reason: "segment starts with reserved prefix " + tempPrefix}
		}
	}
	return segs, nil
}

// walk opens the root and then each directory of segs below it, creating
// the missing ones if create is set (and fsyncing the parent of each). It
// returns the open directories, the root first; the caller closes them with
// closeAll. A symbolic link on the way is a *SymlinkError.
func (f *Filesystem) walk(segs []string, create bool) ([]*dir, error) {
	root, err := openRoot(f.root)
	if err != nil {
		return nil, err
	}
	dirs := []*dir{root}
	for _, seg := range segs {
		cur := dirs[len(dirs)-1]
		next, err := cur.openDir(seg)
		if create && errors.Is(err, fs.ErrNotExist) {
			switch err := cur.mkdir(seg); {
			case err == nil:
				if err := cur.sync(); err != nil {
					closeAll(dirs)
					return nil, err
				}
			case errors.Is(err, fs.ErrExist):
			default:
				closeAll(dirs)
				return nil, err
			}
			next, err = cur.openDir(seg)
		}
		if err != nil {
			closeAll(dirs)
			return nil, err
		}
		dirs = append(dirs, next)
	}
	return dirs, nil
}

func closeAll(dirs []*dir) {
	for _, d := range dirs {
		d.close()
	}
}

// Put implements Store.
func (f *Filesystem) Put(ctx context.Context, key string, r io.Reader) error {
	segs, err := f.segments(key)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := f.put(ctx, segs, r, false); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// PutIfAbsent implements Store. The hard link that publishes the object
// fails if the name exists, which makes the check and the write one atomic
// step.
func (f *Filesystem) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	segs, err := f.segments(key)
	if err != nil {
		return fmt.Errorf("put if absent: %w", err)
	}
	if err := f.put(ctx, segs, r, true); err != nil {
		return fmt.Errorf("put if absent %s: %w", key, err)
	}
	return nil
}

// inTheWay returns the error for a write of name in d if something that
// forbids it is there: a directory of other keys, a symbolic link, or (for
// PutIfAbsent) an object, which is ErrExists.
func inTheWay(d *dir, name string, ifAbsent bool) error {
	info, err := d.lstat(name)
	switch {
	case err != nil:
		return nil // nothing there; the write itself reports other trouble
	case info.mode&fs.ModeSymlink != 0:
		return d.symlinkError(name)
	case info.mode.IsDir():
		return errors.New("a directory of other keys is in the way")
	case ifAbsent:
		return ErrExists
	}
	return nil
}

// Get implements Store.
func (f *Filesystem) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := f.open(ctx, key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return rc, nil
}

// GetRange implements Store.
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
	segs, err := f.segments(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dirs, err := f.walk(segs[:len(segs)-1], false)
	if err != nil {
		return nil, notExist(err)
	}
	defer closeAll(dirs)
	file, size, err := dirs[len(dirs)-1].openFile(segs[len(segs)-1])
	if err != nil {
		return nil, notExist(err)
	}
	if off == 0 && length == -1 {
		return file, nil
	}
	start, n := clampRange(size, off, length)
	return readCloser{Reader: io.NewSectionReader(file, start, n), Closer: file}, nil
}

// Stat implements Store.
func (f *Filesystem) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	segs, err := f.segments(key)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	dirs, err := f.walk(segs[:len(segs)-1], false)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, notExist(err))
	}
	defer closeAll(dirs)
	parent, name := dirs[len(dirs)-1], segs[len(segs)-1]
	info, err := parent.lstat(name)
	switch {
	case err != nil:
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, notExist(err))
	case info.mode&fs.ModeSymlink != 0:
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, parent.symlinkError(name))
	case info.mode != 0:
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotExist)
	}
	return ObjectInfo{Key: key, Size: info.size, ModTime: info.modTime}, nil
}

// Delete implements Store. It also removes the parent directories that the
// deletion leaves empty, up to but not including the root. A symbolic link
// at the key, or on the way to it, is refused, not removed.
func (f *Filesystem) Delete(ctx context.Context, key string) error {
	segs, err := f.segments(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	dirs, err := f.walk(segs[:len(segs)-1], false)
	if err != nil {
		if errors.Is(notExist(err), ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	defer closeAll(dirs)
	parent, name := dirs[len(dirs)-1], segs[len(segs)-1]
	info, err := parent.lstat(name)
	switch {
	case err != nil:
		if errors.Is(notExist(err), ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	case info.mode&fs.ModeSymlink != 0:
		return fmt.Errorf("delete %s: %w", key, parent.symlinkError(name))
	case info.mode.IsDir():
		// A directory of other keys: there is no object at key.
		return nil
	}
	if err := parent.remove(name); err != nil {
		if errors.Is(notExist(err), ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := parent.sync(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	f.pruning.Lock()
	removeEmptyDirs(dirs, segs)
	f.pruning.Unlock()
	return nil
}

// Close implements Store. A Filesystem holds no resources.
func (f *Filesystem) Close() error { return nil }

// notExist maps the errors of a missing file, including a path through a
// regular file ("a/b" when "a" is an object), to ErrNotExist. A
// *SymlinkError stays what it is.
func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ErrNotExist
	}
	return err
}
