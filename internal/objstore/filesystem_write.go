package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// writeTempAttempts bounds the retries of put when a Delete in another
// process removes a freshly created, still empty parent directory (Deletes
// through the same Filesystem wait for the put instead; see pruning). Each
// retry means that other process made progress, so the bound is generous.
var writeTempAttempts = 100 // a variable for tests

// put writes the object at segs: the body goes to a temporary file in the
// target directory, which is fsynced, then renamed (or, if ifAbsent, hard
// linked) to its name, and the directory is fsynced.
func (f *Filesystem) put(ctx context.Context, segs []string, r io.Reader, ifAbsent bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var (
		dirs    []*dir
		tmp     *os.File
		tmpName string
		err     error
	)
	for range writeTempAttempts {
		var retry bool
		dirs, tmp, tmpName, retry, err = f.createTemp(segs, ifAbsent)
		if !retry {
			break
		}
		if _, rootErr := os.Lstat(f.root); rootErr != nil {
			break // the root itself is gone: no retry brings it back
		}
	}
	if err != nil {
		return err
	}
	defer closeAll(dirs)
	parent, name := dirs[len(dirs)-1], segs[len(segs)-1]
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

// createTemp makes the directories of the object at segs and a temporary
// file in the last one. With the directories open it first checks that
// nothing forbids the write (inTheWay), so that no body is written that
// cannot be published. retry reports a failure caused by a concurrent
// Delete removing a directory on the way.
func (f *Filesystem) createTemp(segs []string, ifAbsent bool) (dirs []*dir, tmp *os.File, tmpName string, retry bool, err error) {
	// Once the temporary file exists its directory is not empty, and no
	// Delete removes it; until then, hold Deletes of this Filesystem off.
	f.pruning.RLock()
	defer f.pruning.RUnlock()
	dirs, err = f.walk(segs[:len(segs)-1], true)
	if err != nil {
		return nil, nil, "", errors.Is(err, fs.ErrNotExist), err
	}
	parent := dirs[len(dirs)-1]
	if err := inTheWay(parent, segs[len(segs)-1], ifAbsent); err != nil {
		closeAll(dirs)
		return nil, nil, "", false, err
	}
	tmp, tmpName, err = parent.createTemp()
	if err != nil {
		closeAll(dirs)
		return nil, nil, "", errors.Is(err, fs.ErrNotExist), fmt.Errorf("create temporary file: %w", err)
	}
	return dirs, tmp, tmpName, false, nil
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
