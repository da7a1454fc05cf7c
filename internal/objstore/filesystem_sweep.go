package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tempMaxAge is how old a temporary file must be before SweepTemp takes it
// for the leftover of a crashed writer rather than a write in progress.
const tempMaxAge = time.Minute

// SweepTemp removes the temporary files that writers interrupted by a crash
// left behind, those older than a minute, and the directories that become
// empty. It returns how many files it removed. Call it at start-up: writes
// publish atomically, so a leftover is never part of an object.
func (f *Filesystem) SweepTemp(ctx context.Context) (int, error) {
	cutoff := time.Now().Add(-tempMaxAge)
	removed := 0
	err := filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !fi.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed++
		f.removeEmptyDirs(filepath.Dir(p))
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("sweep temporary files: %w", err)
	}
	return removed, nil
}
