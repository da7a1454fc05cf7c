package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// writeTempAttempts bounds the retries of put when a concurrent Delete
// removes a freshly created, still empty parent directory.
const writeTempAttempts = 10

// put writes the object at segs: the body goes to a temporary file in the
// target directory, which is fsynced, then renamed (or, if ifAbsent, hard
// linked) to its name, and the directory is fsynced.
func (f *Filesystem) put(ctx context.Context, segs []string, r io.Reader, ifAbsent bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := segs[len(segs)-1]
	var (
		dirs    []*dir
		tmp     *os.File
		tmpName string
		err     error
	)
	for range writeTempAttempts {
		dirs, err = f.walk(segs[:len(segs)-1], true)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // a concurrent Delete removed a directory on the way
			}
			return err
		}
		parent := dirs[len(dirs)-1]
		// Fail early, without writing a body that cannot be published.
		if err := inTheWay(parent, name, ifAbsent); err != nil {
			closeAll(dirs)
			return err
		}
		tmp, tmpName, err = parent.createTemp()
		if err == nil {
			break
		}
		closeAll(dirs)
		dirs = nil
		if !errors.Is(err, fs.ErrNotExist) {
			break // else: parent was removed by a concurrent Delete
		}
	}
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer closeAll(dirs)
	parent := dirs[len(dirs)-1]
	if err := writeBody(ctx, tmp, r); err != nil {
		_ = parent.remove(tmpName)
		return err
	}
	if ifAbsent {
		linkErr := parent.link(tmpName, name)
		if err := parent.remove(tmpName); err != nil && linkErr == nil {
			linkErr = err
		}
		if linkErr != nil {
			if errors.Is(linkErr, fs.ErrExist) {
				if linkErr = inTheWay(parent, name, true); linkErr == nil {
					linkErr = ErrExists // gone again meanwhile
				}
			}
			return linkErr
		}
	} else if err := parent.rename(tmpName, name); err != nil {
		_ = parent.remove(tmpName)
		return err
	}
	return parent.sync()
}

// writeBody copies r into the temporary file tmp, makes it world-readable,
// fsyncs and closes it.
func writeBody(ctx context.Context, tmp *os.File, r io.Reader) error {
	fail := func(err error) error {
		_ = tmp.Close()
		return err
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
	return tmp.Close()
}

// removeEmptyDirs removes the directories of dirs (opened by walk for segs)
// while they are empty, from the deepest up, never the root. A failure
// (typically a directory that is not empty) ends the climb silently:
// leftover empty directories are harmless.
func removeEmptyDirs(dirs []*dir, segs []string) {
	for i := len(dirs) - 1; i >= 1; i-- {
		if dirs[i-1].rmdir(segs[i-1]) != nil {
			return
		}
		_ = dirs[i-1].sync()
	}
}
