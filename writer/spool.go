package writer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SpoolPrefix starts the name of every spool file.
const SpoolPrefix = "lakestream-spool-"

// SweepSpool removes the spool files in dir (files named SpoolPrefix*, not
// recursively) last modified more than olderThan ago: the leftovers of a
// process that crashed. Choose olderThan well above the max file age plus the
// longest upload: a Set keeps its files open, so sweeping a live file only
// frees its name, not its data, but the space is held until that Set is done
// with it. It returns the number of files removed; a file that vanished
// meanwhile is not an error.
func SweepSpool(dir string, olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("sweep spool: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), SpoolPrefix) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		err = os.Remove(filepath.Join(dir, e.Name()))
		switch {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("sweep spool: %w", errors.Join(errs...))
	}
	return removed, nil
}
