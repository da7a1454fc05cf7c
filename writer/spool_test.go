package writer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/lakestream/lakestream/internal/objstore"
)

// TestSpoolOnAnyFS: every spool file, the stage's spill file among them,
// goes through the spool filesystem: on an in-memory one, two checkpoints
// that stage and spill write every row, the spooled files are in it
// meanwhile, and none is left after Close. Its files have no Truncate: the
// spill file is replaced after each checkpoint.
func TestSpoolOnAnyFS(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	mem := vfs.NewMem()
	if err := mem.MkdirAll("/spool", 0o755); err != nil {
		t.Fatal(err)
	}
	s := newTestSet(t, b, WithSpoolFS(mem), WithSpoolDir("/spool"), WithMaxOpenFiles(2), WithMinFileSize(1<<20), WithStageMemory(2<<10))
	for cp := range 2 {
		if err := s.Begin(testInstant, int64(cp)); err != nil {
			t.Fatal(err)
		}
		writeAll(t, s, 1000, 64, manyParts)
		names, err := mem.List("/spool")
		if err != nil {
			t.Fatal(err)
		}
		var parquet, stage int
		for _, n := range names {
			switch {
			case strings.HasPrefix(n, SpoolPrefix+"stage-"):
				stage++
			case strings.HasPrefix(n, SpoolPrefix) && strings.HasSuffix(n, ".parquet"):
				parquet++
			}
		}
		if parquet != 2 || stage != 1 {
			t.Fatalf("checkpoint %d: spool holds %v; want 2 open files and a spill file", cp, names)
		}
		files, err := s.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkAllRows(t, b, files, 1000, manyParts)
		if err := objstoreClear(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if names, err := mem.List("/spool"); err != nil || len(names) != 0 {
		t.Errorf("spool after Close: %v, %v", names, err)
	}
}

// objstoreClear deletes every object of b.
func objstoreClear(ctx context.Context, b objstore.Store) error {
	var keys []string
	if err := b.List(ctx, "", func(o objstore.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// TestSpoolFilesArePrivate: the default spool filesystem creates the
// spooled files and the spill file readable by their owner only, as
// os.CreateTemp did (vfs.Default would make them 0666 less the umask).
func TestSpoolFilesArePrivate(t *testing.T) {
	spool := t.TempDir()
	s := newTestSet(t, objstore.NewMemory(), WithSpoolDir(spool), WithMaxOpenFiles(1), WithMinFileSize(1<<20), WithStageMemory(1<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, 200, 20, manyParts)
	names := spoolFiles(t, spool)
	if len(names) != 2 {
		t.Fatalf("spool holds %v, want an open file and a spill file", names)
	}
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(spool, n))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", n, perm)
		}
	}
}

// TestStageSpillErrorsStick: the disk failing under the stage's spill file,
// when it is written (a spill) or read back (at Finish), loses staged rows:
// the error sticks until Abort, which leaves no object and no spooled file
// (the spill file is kept for the next checkpoint), the next checkpoint
// writes every row, and Close leaves nothing.
func TestStageSpillErrorsStick(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		kind errorfs.OpKind
	}{{"spill", errorfs.OpFileWriteAt}, {"read-back", errorfs.OpFileReadAt}} {
		kind := tc.kind
		t.Run(tc.name, func(t *testing.T) {
			b := objstore.NewMemory()
			spool := t.TempDir()
			disk := &faultyDisk{}
			s := newTestSet(t, b, WithSpoolDir(spool), disk.option(), WithMaxOpenFiles(2), WithMinFileSize(1<<20), WithStageMemory(2<<10))
			if err := s.Begin(testInstant, 1); err != nil {
				t.Fatal(err)
			}
			disk.setFail(func(op errorfs.Op, _ []string) bool {
				return op.Kind == kind && strings.Contains(op.Path, SpoolPrefix+"stage-")
			})
			var err error
			for lo := 0; lo < 1000 && err == nil; lo += 64 {
				parts, rows, times := batchOf(lo, min(lo+64, 1000), manyParts)
				_, err = s.WriteBatch(ctx, parts, rows, times)
			}
			if err == nil {
				_, err = s.Finish(ctx)
			}
			if !errors.Is(err, errorfs.ErrInjected) || s.Failed() == nil {
				t.Fatalf("error %v, Failed() = %v; want the disk's error, sticky", err, s.Failed())
			}
			if _, err := s.Finish(ctx); err == nil {
				t.Fatal("a retried Finish succeeded after a sticky error")
			}
			disk.setFail(nil)
			if err := s.Abort(ctx); err != nil {
				t.Fatal(err)
			}
			if keys, left := listKeys(t, b), spooledParquet(t, spool); len(keys) != 0 || len(left) != 0 {
				t.Fatalf("after Abort: objects %v, spooled files %v", keys, left)
			}
			if err := s.Begin(testInstant, 2); err != nil {
				t.Fatal(err)
			}
			writeAll(t, s, 1000, 64, manyParts)
			files, err := s.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checkAllRows(t, b, files, 1000, manyParts)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if left := spoolFiles(t, spool); len(left) != 0 {
				t.Errorf("spool files left after Close: %v", left)
			}
		})
	}
}
