package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// tempMaxAge is how old a temporary file must be before SweepTemp takes it
// for the leftover of a crashed writer rather than a write in progress.
const tempMaxAge = time.Minute

// SweepTemp removes the temporary files that writers interrupted by a crash
// left behind, those older than a minute, and the directories that become
// empty. It returns how many files it removed. Call it at start-up: writes
// publish atomically, so a leftover is never part of an object. Like every
// operation, it does not follow symbolic links: it stops at the first one
// with a *SymlinkError naming it, so that start-up reports the problem
// before anything is written.
func (f *Filesystem) SweepTemp(ctx context.Context) (int, error) {
	root, err := openRoot(f.root)
	if err != nil {
		return 0, fmt.Errorf("sweep temporary files: %w", err)
	}
	defer root.close()
	removed := 0
	if err := sweepDir(ctx, root, time.Now().Add(-tempMaxAge), &removed); err != nil {
		return removed, fmt.Errorf("sweep temporary files: %w", err)
	}
	return removed, nil
}

// sweepDir removes the temporary files older than cutoff in d and below it,
// and the directories below d that this empties, counting the files in
// removed.
func sweepDir(ctx context.Context, d *dir, cutoff time.Time, removed *int) error {
	names, err := d.names()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.lstat(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		switch {
		case info.mode&fs.ModeSymlink != 0:
			return d.symlinkError(name)
		case info.mode.IsDir():
			sub, err := d.openDir(name)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return err
			}
			before := *removed
			err = sweepDir(ctx, sub, cutoff, removed)
			sub.close()
			if err != nil {
				return err
			}
			if *removed > before && d.rmdir(name) == nil {
				_ = d.sync()
			}
		case info.mode == 0 && strings.HasPrefix(name, tempPrefix) && info.modTime.Before(cutoff):
			if err := d.remove(name); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return err
			}
			*removed++
		}
	}
	return nil
}
