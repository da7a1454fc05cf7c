package journal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/lakestream/lakestream/table/hudi"
)

func jInstant(i int) string { return fmt.Sprintf("20261101%09d", i) }

func jFile(instant, part string, n int) string {
	return hudi.BaseFilePath(part, hudi.BaseFileName(fmt.Sprintf("fg%04d-0", n), hudi.WriteToken(0, 1, n), instant))
}

func openTestJournal(t testing.TB, dir string, opts ...Option) *Journal {
	t.Helper()
	j, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := j.Close(); err != nil {
			t.Error(err)
		}
	})
	return j
}

func checkPending(t *testing.T, j *Journal, want []Entry) {
	t.Helper()
	got, err := j.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Pending:\n got %+v\nwant %+v", got, want)
	}
}

// writeCheckpoint begins checkpoint cp under instant and adds n files.
func writeCheckpoint(t testing.TB, j *Journal, instant string, cp int64, n int) Entry {
	t.Helper()
	if err := j.BeginCheckpoint(instant, cp); err != nil {
		t.Fatal(err)
	}
	e := Entry{Instant: instant, Checkpoint: cp, Files: []string{}}
	for i := range n {
		f := jFile(instant, fmt.Sprintf("dt=2026-11-%02d", i%3+1), i)
		if err := j.AddFile(instant, f); err != nil {
			t.Fatal(err)
		}
		e.Files = append(e.Files, f)
	}
	slices.Sort(e.Files)
	return e
}

func TestJournalRoundTrip(t *testing.T) {
	j := openTestJournal(t, t.TempDir())
	checkPending(t, j, nil)
	i1, i2, i3 := jInstant(1), jInstant(2), jInstant(3)
	if err := j.BeginCheckpoint(i1, 7); err != nil {
		t.Fatal(err)
	}
	files := []string{jFile(i1, "dt=2026-11-01/hr=10", 1), jFile(i1, "dt=2026-11-01/hr=09", 2), jFile(i1, "", 3)}
	for _, f := range files {
		if err := j.AddFile(i1, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.AddFile(i1, files[0]); err != nil { // a retried upload
		t.Fatal(err)
	}
	if err := j.BeginCheckpoint(i3, 9); err != nil { // no file yet
		t.Fatal(err)
	}
	if err := j.BeginCheckpoint(i2, 8); err != nil {
		t.Fatal(err)
	}
	e2 := writeCheckpoint(t, j, i2, 8, 2)
	checkPending(t, j, []Entry{
		{Instant: i1, Checkpoint: 7, Files: []string{files[1], files[0], files[2]}}, // key order
		e2,
		{Instant: i3, Checkpoint: 9, Files: []string{}},
	})

	for _, bad := range []struct {
		name string
		err  error
	}{
		{"file of another instant", j.AddFile(i1, jFile(i2, "p", 0))},
		{"not a base file", j.AddFile(i1, "p/"+i1+".parquet")},
		{"empty key", j.AddFile(i1, "")},
		{"instant not begun", j.AddFile(jInstant(4), jFile(jInstant(4), "p", 0))},
		{"bad instant", j.BeginCheckpoint("2026-11-01", 1)},
		{"negative checkpoint", j.BeginCheckpoint(jInstant(5), -1)},
		{"bad instant to forget", j.Settled("")},
	} {
		if bad.err == nil {
			t.Errorf("%s: accepted", bad.name)
		}
	}
	// BeforeUpload takes the instant from the file name.
	if err := j.BeforeUpload(jFile(i3, "p", 1)); err != nil {
		t.Fatal(err)
	}
	if err := j.BeforeUpload("p/x.parquet"); err == nil {
		t.Error("BeforeUpload accepted a key that is not a base file")
	}
	if err := j.BeforeUpload(jFile(jInstant(6), "p", 1)); err == nil {
		t.Error("BeforeUpload accepted a file of an instant not begun")
	}
	checkPending(t, j, []Entry{
		{Instant: i1, Checkpoint: 7, Files: []string{files[1], files[0], files[2]}},
		e2,
		{Instant: i3, Checkpoint: 9, Files: []string{jFile(i3, "p", 1)}},
	})
	if len(j.Dir()) == 0 {
		t.Error("no Dir")
	}
}

func TestJournalSettledForgets(t *testing.T) {
	j := openTestJournal(t, t.TempDir())
	e1 := writeCheckpoint(t, j, jInstant(1), 1, 3)
	e2 := writeCheckpoint(t, j, jInstant(2), 2, 2)
	e3 := writeCheckpoint(t, j, jInstant(3), 3, 0)
	if err := j.Settled(e2.Instant); err != nil {
		t.Fatal(err)
	}
	checkPending(t, j, []Entry{e1, e3})
	if err := j.Settled(e2.Instant); err != nil { // again: harmless
		t.Fatal(err)
	}
	if err := j.Settled(jInstant(99)); err != nil { // never begun
		t.Fatal(err)
	}
	// Forgetting an instant whose time is a prefix of others' (14 digits,
	// as older Hudi wrote) forgets only that instant.
	if err := j.Settled(e1.Instant[:14]); err != nil {
		t.Fatal(err)
	}
	checkPending(t, j, []Entry{e1, e3})
	if err := j.Settled(e1.Instant); err != nil {
		t.Fatal(err)
	}
	if err := j.Settled(e3.Instant); err != nil {
		t.Fatal(err)
	}
	checkPending(t, j, nil)
}

// TestJournalReopen: what was written is there after Close and Open.
func TestJournalReopen(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e1 := writeCheckpoint(t, j, jInstant(1), 41, 4)
	e2 := writeCheckpoint(t, j, jInstant(2), 42, 1)
	if err := j.Settled(e1.Instant); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, err := range []error{j.BeginCheckpoint(jInstant(3), 1), j.AddFile(e2.Instant, e2.Files[0]), j.Settled(e2.Instant), func() error { _, err := j.Pending(); return err }()} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	}
	j2 := openTestJournal(t, dir)
	checkPending(t, j2, []Entry{e2})
}

// TestJournalManyCheckpoints: a long run of checkpoints, most committed,
// through memtable flushes; the pending ones are all there, before and
// after a reopen.
func TestJournalManyCheckpoints(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	const n = 400
	for i := range n {
		e := writeCheckpoint(t, j, jInstant(i), int64(i), 1+i%5)
		if i%37 == 0 || i == n-1 {
			want = append(want, e)
			continue
		}
		if err := j.Settled(e.Instant); err != nil {
			t.Fatal(err)
		}
	}
	checkPending(t, j, want)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openTestJournal(t, dir)
	checkPending(t, j, want)
}

// TestJournalConcurrentAddFile: the workers add their files at once.
func TestJournalConcurrentAddFile(t *testing.T) {
	j := openTestJournal(t, t.TempDir())
	in := jInstant(1)
	if err := j.BeginCheckpoint(in, 1); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	want := Entry{Instant: in, Checkpoint: 1, Files: []string{}}
	for w := range workers {
		for i := range each {
			want.Files = append(want.Files, jFile(in, fmt.Sprintf("w=%d", w), i))
		}
		wg.Go(func() {
			for i := range each {
				errs <- j.AddFile(in, jFile(in, fmt.Sprintf("w=%d", w), i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want.Files)
	checkPending(t, j, []Entry{want})
}

// TestJournalSurvivesPowerLoss: BeginCheckpoint and AddFile are synced
// when they return. The crash clone of the file system keeps only what was
// synced.
func TestJournalSurvivesPowerLoss(t *testing.T) {
	fs := vfs.NewCrashableMem()
	j := openTestJournal(t, "/journal", withFS(fs))
	e0 := writeCheckpoint(t, j, jInstant(0), 10, 2)
	if err := j.Settled(e0.Instant); err != nil { // not synced by itself...
		t.Fatal(err)
	}
	e1 := writeCheckpoint(t, j, jInstant(1), 11, 3) // ...but synced with these
	e2 := writeCheckpoint(t, j, jInstant(2), 12, 0)

	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	j2 := openTestJournal(t, "/journal", withFS(crashed))
	checkPending(t, j2, []Entry{e1, e2})

	// A Settled lost in a crash brings the whole entry back, never part
	// of it: the next start then finds the instant settled on the table.
	if err := j.Settled(e2.Instant); err != nil {
		t.Fatal(err)
	}
	crashed = fs.CrashClone(vfs.CrashCloneCfg{})
	j3 := openTestJournal(t, "/journal", withFS(crashed))
	got, err := j3.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []Entry{e1}) && !reflect.DeepEqual(got, []Entry{e1, e2}) {
		t.Fatalf("after a crash following Settled: %+v", got)
	}
}

// TestJournalProcessCrash: a process killed (SIGKILL) without closing its
// journal leaves every acknowledged record behind; pebble replays its WAL.
func TestJournalProcessCrash(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LAKESTREAM_JOURNAL_CRASH_DIR="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper: %v, want killed\n%s", err, out)
	}
	if !strings.Contains(string(out), "journal written") {
		t.Fatalf("helper did not write its journal:\n%s", out)
	}
	j := openTestJournal(t, dir)
	checkPending(t, j, crashEntries())
}

func crashEntries() []Entry {
	var out []Entry
	for i := range 3 {
		in := jInstant(100 + i)
		e := Entry{Instant: in, Checkpoint: int64(i), Files: []string{}}
		for f := range i * 2 {
			e.Files = append(e.Files, jFile(in, "p", f))
		}
		out = append(out, e)
	}
	return out
}

// TestJournalCrashHelper runs in the child process of TestJournalProcessCrash.
func TestJournalCrashHelper(t *testing.T) {
	dir := os.Getenv("LAKESTREAM_JOURNAL_CRASH_DIR")
	if dir == "" {
		t.Skip("the child process of TestJournalProcessCrash")
	}
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range crashEntries() {
		if err := j.BeginCheckpoint(e.Instant, e.Checkpoint); err != nil {
			t.Fatal(err)
		}
		for _, f := range e.Files {
			if err := j.AddFile(e.Instant, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	fmt.Println("journal written")
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestJournalLocked: a directory in use is reported as locked, not corrupt.
func TestJournalLocked(t *testing.T) {
	dir := t.TempDir()
	openTestJournal(t, dir)
	_, err := Open(dir)
	if !errors.Is(err, ErrLocked) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

// TestResetJournal: a journal that cannot be opened is reported as corrupt;
// Reset moves it aside and a fresh one opens.
func TestResetJournal(t *testing.T) {
	garbage := func(pattern string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			names, err := filepath.Glob(filepath.Join(dir, pattern))
			if err != nil || len(names) == 0 {
				t.Fatalf("no %s in %s: %v", pattern, dir, err)
			}
			for _, name := range names {
				if err := os.WriteFile(name, []byte("\x00garbage\xff not a pebble file [Version]\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// sameSize overwrites the files with garbage of their own size, which
	// pebble only finds when it reads them.
	sameSize := func(pattern string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			names, _ := filepath.Glob(filepath.Join(dir, pattern))
			if len(names) == 0 {
				t.Fatalf("no %s in %s", pattern, dir)
			}
			for _, name := range names {
				fi, err := os.Stat(name)
				if err != nil {
					t.Fatal(err)
				}
				b := make([]byte, fi.Size())
				for i := range b {
					b[i] = byte(i * 7)
				}
				if err := os.WriteFile(name, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	withPebble := func(key, value string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{log: slog.New(slog.DiscardHandler)}})
			if err != nil {
				t.Fatal(err)
			}
			if err := errors.Join(db.Set([]byte(key), []byte(value), pebble.Sync), db.Close()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, dir string)
	}{
		{"manifest", garbage("MANIFEST-*")},
		{"options", garbage("OPTIONS-*")},
		{"sstable", garbage("*.sst")},
		{"sstable, same size", sameSize("*.sst")},
		{"manifest missing", func(t *testing.T, dir string) {
			names, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			for _, name := range names {
				if err := os.Remove(name); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"format", withPebble(keyFormat, "9")},
		{"key", withPebble(prefixInstant+"x/y", "")},
		{"begin value", withPebble(string(beginKey(jInstant(1))), "\x07")},
		{"not a directory", func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dir, []byte("a file"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "journal")
			j, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			writeCheckpoint(t, j, jInstant(1), 1, 2)
			// Into an sstable, so that there is one to corrupt.
			if err := j.do("flush", func(db *pebble.DB) error { return db.Flush() }); err != nil {
				t.Fatal(err)
			}
			writeCheckpoint(t, j, jInstant(2), 2, 2)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			tc.corrupt(t, dir)

			_, err = Open(dir)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open of a corrupt journal: %v, want ErrCorrupt", err)
			}
			t.Logf("corrupt journal: %v", err)
			if err := Reset(dir); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("%s still there after Reset: %v", dir, err)
			}
			moved, _ := filepath.Glob(dir + ".corrupt-*")
			if len(moved) != 1 {
				t.Fatalf("moved aside: %v, want one", moved)
			}
			j = openTestJournal(t, dir)
			checkPending(t, j, nil)
		})
	}
	t.Run("twice in a second", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "journal")
		for range 2 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := Reset(dir); err != nil {
				t.Fatal(err)
			}
		}
		if moved, _ := filepath.Glob(dir + ".corrupt-*"); len(moved) != 2 {
			t.Fatalf("moved aside: %v, want two", moved)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if err := Reset(filepath.Join(t.TempDir(), "none")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestJournalWriteFailure: a WAL write error, on which pebble gives up
// (Fatalf), is an error of the call, not the end of the process; the
// journal refuses writes from then on, and what it acknowledged before is
// there when it is reopened.
func TestJournalWriteFailure(t *testing.T) {
	mem := vfs.NewMem()
	toggle := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return errorfs.ErrInjected
		}
		return nil
	})}
	j, err := Open("/journal", withFS(errorfs.Wrap(mem, toggle)))
	if err != nil {
		t.Fatal(err)
	}
	e1 := writeCheckpoint(t, j, jInstant(1), 1, 2)
	toggle.On()
	in := e1.Instant
	if err := j.AddFile(in, jFile(in, "q", 9)); !errors.Is(err, ErrFailed) {
		t.Fatalf("AddFile on a failing disk: %v, want ErrFailed", err)
	}
	toggle.Off()
	if err := j.AddFile(in, jFile(in, "q", 10)); !errors.Is(err, ErrFailed) {
		t.Fatalf("AddFile after a failure: %v, want ErrFailed", err)
	}
	if _, err := j.Pending(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Pending after a failure: %v, want ErrFailed", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close after a failure: %v", err)
	}
	j2 := openTestJournal(t, "/journal", withFS(mem))
	got, err := j2.Pending()
	if err != nil {
		t.Fatal(err)
	}
	// The failed record may or may not have reached the disk; the upload
	// it guarded never started.
	withFailed := e1
	withFailed.Files = append(slices.Clone(e1.Files), jFile(in, "q", 9))
	if !reflect.DeepEqual(got, []Entry{e1}) && !reflect.DeepEqual(got, []Entry{withFailed}) {
		t.Fatalf("after reopening: %+v, want %+v", got, e1)
	}
}

// BenchmarkJournalAddFile measures one durable AddFile (a WAL fsync) on the
// disk of the temporary directory ($TMPDIR): the cost added before each
// upload. Run it with -cpu 1.
func BenchmarkJournalAddFile(b *testing.B) {
	j := openTestJournal(b, b.TempDir())
	in := jInstant(1)
	if err := j.BeginCheckpoint(in, 1); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if err := j.AddFile(in, jFile(in, "dt=2026-11-01/hr=09", i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkJournalAddFileConcurrent: 8 workers adding files at once share
// WAL syncs (pebble's group commit).
func BenchmarkJournalAddFileConcurrent(b *testing.B) {
	j := openTestJournal(b, b.TempDir())
	in := jInstant(1)
	if err := j.BeginCheckpoint(in, 1); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := j.AddFile(in, jFile(in, "dt=2026-11-01/hr=09", int(next.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestJournalGarbageWAL documents a limit: pebble takes garbage at the end
// of its newest WAL for a write torn by a crash and drops it, so the
// journal opens without those records. Nothing is lost for the table: the
// instants they named are still pending on its timeline, and
// hudi.Table.Recover settles them by listing.
func TestJournalGarbageWAL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeCheckpoint(t, j, jInstant(1), 1, 2)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, name := range names {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, make([]byte, fi.Size()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j = openTestJournal(t, dir)
	checkPending(t, j, nil)
	writeCheckpoint(t, j, jInstant(2), 2, 1) // and it works on
}
