package journal

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// fullDisk is a volume that fills up when switched on: writes fail with
// ENOSPC as the OS reports it (creating, syncing and removing files still
// work, as on a full tmpfs). With suffix set, only writes to files named
// so fail.
type fullDisk struct {
	on      atomic.Bool
	suffix  string
	refused atomic.Int64 // writes refused
	ssts    atomic.Int64 // sstables created while on: pebble's flush attempts
}

func (d *fullDisk) String() string { return "full disk" }

func (d *fullDisk) MaybeError(op errorfs.Op) error {
	if !d.on.Load() {
		return nil
	}
	if op.Kind == errorfs.OpCreate && strings.HasSuffix(op.Path, ".sst") {
		d.ssts.Add(1)
	}
	if op.Kind != errorfs.OpFileWrite && op.Kind != errorfs.OpFileWriteAt && op.Kind != errorfs.OpFilePreallocate {
		return nil
	}
	if d.suffix != "" && !strings.HasSuffix(op.Path, d.suffix) {
		return nil
	}
	d.refused.Add(1)
	return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
}

// logBuffer is a slog sink a test reads while the journal writes to it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), `"msg":"`+msg+`"`)
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

// within runs fn and fails the test if it does not return within d: the
// defects these tests catch are hangs. (A hung fn goes on running; the
// package's leak check then fails too.)
func within[T any](t *testing.T, d time.Duration, what string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		panic("unreachable")
	}
}

// waitOpeners waits for the goroutines running pebble's Open, including
// those OpenContext gave up on.
func waitOpeners(t *testing.T) {
	t.Helper()
	within(t, 10*time.Second, "the abandoned open", func() struct{} { openers.Wait(); return struct{}{} })
}

type openResult struct {
	j   *Journal
	err error
}

// fillJournal writes n checkpoints of 4 files into a journal on fs and
// closes it.
func fillJournal(t *testing.T, fs vfs.FS, n int) []Entry {
	t.Helper()
	j, err := Open("/journal", withFS(fs))
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	for i := 1; i <= n; i++ {
		want = append(want, writeCheckpoint(t, j, jInstant(i), int64(i), 4))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestJournalOpenFullDisk is issue 12 item 1: a restart on a full volume
// hung in pebble's Open, which flushes the WAL it replays and retried the
// failed flush at once, forever (50,000 log lines in 8 s, 124% CPU). Now
// Open gives up with ErrUnavailable (and ENOSPC) at once,
// the retries are spaced and logged once per interval, and when space is
// back the abandoned open ends and the journal holds everything.
func TestJournalOpenFullDisk(t *testing.T) {
	mem := vfs.NewMem()
	disk := &fullDisk{}
	fs := errorfs.Wrap(mem, disk)
	want := fillJournal(t, fs, 20)

	disk.on.Store(true)
	var logs logBuffer
	r := within(t, 10*time.Second, "Open on a full disk", func() openResult {
		j, err := Open("/journal", withFS(fs), WithLogger(logs.logger()), withRetry(50*time.Millisecond, 200*time.Millisecond))
		return openResult{j, err}
	})
	if r.err == nil {
		r.j.Close()
		t.Fatal("Open on a full disk succeeded")
	}
	if !errors.Is(r.err, ErrUnavailable) || !errors.Is(r.err, syscall.ENOSPC) || errors.Is(r.err, ErrCorrupt) {
		t.Fatalf("Open on a full disk: %v, want ErrUnavailable and ENOSPC, not ErrCorrupt", r.err)
	}
	t.Logf("full disk: %v", r.err)

	// pebble's Open goes on, retrying its flush every 50 ms, then 100,
	// then 200: a handful of attempts in a second, not thousands.
	time.Sleep(time.Second)
	if n := disk.ssts.Load(); n > 12 {
		t.Errorf("pebble tried %d flushes in a second on a full disk, want its retries spaced", n)
	}
	if n := logs.count("journal: pebble background error"); n != 1 {
		t.Errorf("%d logs of the background error in a second, want 1", n)
	}
	if _, err := Open("/journal", withFS(fs)); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while the abandoned open goes on: %v, want ErrLocked", err)
	}

	disk.on.Store(false) // space freed
	waitOpeners(t)
	if n := logs.count("journal: the open given up on has ended; journal closed"); n != 1 {
		t.Errorf("%d logs of the abandoned open's end, want 1", n)
	}
	j := openTestJournal(t, "/journal", withFS(fs))
	checkPending(t, j, want)
}

// TestJournalOpenVolumeFull: on a volume that says it is full, Open
// refuses at once, before pebble writes anything, and names the free
// space; the journal is intact when space is back.
func TestJournalOpenVolumeFull(t *testing.T) {
	mem := vfs.NewMem()
	disk := &fullDisk{}
	fs := errorfs.Wrap(mem, disk)
	want := fillJournal(t, fs, 20)

	disk.on.Store(true)
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 4 << 10, TotalBytes: 2 << 20, UsedBytes: 2<<20 - 4<<10})
	r := within(t, 10*time.Second, "Open on a full volume", func() openResult {
		j, err := Open("/journal", withFS(fs))
		return openResult{j, err}
	})
	if r.err == nil {
		r.j.Close()
		t.Fatal("Open on a full volume succeeded")
	}
	if !errors.Is(r.err, ErrUnavailable) || !errors.Is(r.err, syscall.ENOSPC) || !strings.Contains(r.err.Error(), "4 KiB free") {
		t.Fatalf("Open on a full volume: %v, want ErrUnavailable, ENOSPC and the free space", r.err)
	}
	t.Logf("full volume: %v", r.err)
	if n := disk.refused.Load() + disk.ssts.Load(); n != 0 {
		t.Errorf("pebble tried to write %d times on a full volume", n)
	}
	waitOpeners(t) // none left

	disk.on.Store(false)
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 2 << 30, UsedBytes: 1 << 30})
	j := openTestJournal(t, "/journal", withFS(fs))
	checkPending(t, j, want)
}

// blockingDisk blocks reads of the MANIFEST until released.
type blockingDisk struct {
	blocked chan struct{} // closed when the first read blocks
	once    sync.Once
	release chan struct{}
}

func (d *blockingDisk) String() string { return "blocking disk" }

func (d *blockingDisk) MaybeError(op errorfs.Op) error {
	if op.Kind == errorfs.OpOpen && strings.Contains(op.Path, "MANIFEST-") {
		d.once.Do(func() { close(d.blocked) })
		<-d.release
	}
	return nil
}

// TestJournalOpenContext: OpenContext returns when its context
// ends, even while pebble's Open is stuck (here on a disk that does not
// answer); that Open closes the journal when it ends.
func TestJournalOpenContext(t *testing.T) {
	mem := vfs.NewMem()
	want := fillJournal(t, mem, 3)
	disk := &blockingDisk{blocked: make(chan struct{}), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-disk.blocked
		cancel()
	}()
	r := within(t, 10*time.Second, "OpenContext with a cancelled context", func() openResult {
		j, err := OpenContext(ctx, "/journal", withFS(errorfs.Wrap(mem, disk)))
		return openResult{j, err}
	})
	if r.err == nil {
		r.j.Close()
		t.Fatal("OpenContext succeeded")
	}
	if !errors.Is(r.err, context.Canceled) || !errors.Is(r.err, ErrUnavailable) {
		t.Fatalf("OpenContext: %v, want context.Canceled and ErrUnavailable", r.err)
	}
	close(disk.release)
	waitOpeners(t)
	j := openTestJournal(t, "/journal", withFS(mem))
	checkPending(t, j, want)

	if _, err := OpenContext(ctx, "/other", withFS(mem)); !errors.Is(err, context.Canceled) {
		t.Fatalf("OpenContext with an ended context: %v", err)
	}
}

// TestJournalBackgroundFailure: the disk fills while the journal is open
// and a flush fails (the WAL still has room). The journal fails, sticky,
// instead of pebble retrying the flush at once, forever (it did: 100% CPU
// and a log line each time); Close returns; what was acknowledged is there
// when it is reopened.
func TestJournalBackgroundFailure(t *testing.T) {
	mem := vfs.NewMem()
	disk := &fullDisk{suffix: ".sst"}
	fs := errorfs.Wrap(mem, disk)
	var logs logBuffer
	j, err := Open("/journal", withFS(fs), WithLogger(logs.logger()), withRetry(time.Second, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{writeCheckpoint(t, j, jInstant(1), 1, 4)}
	disk.on.Store(true)
	if err := j.do("flush", func(db *pebble.DB) error { _, err := db.AsyncFlush(); return err }); err != nil {
		t.Fatal(err)
	}
	in := jInstant(2)
	err = within(t, 10*time.Second, "the journal failing", func() error {
		for {
			if err := j.BeginCheckpoint(in, 2); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
	})
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("BeginCheckpoint after a failed flush: %v, want ErrFailed and ENOSPC", err)
	}
	// The next retry is a second away.
	time.Sleep(300 * time.Millisecond)
	if n := disk.ssts.Load(); n > 2 {
		t.Errorf("pebble tried %d flushes in 300 ms, want its retries spaced", n)
	}
	if n := logs.count("journal: pebble background error"); n != 1 {
		t.Errorf("%d logs of the background error, want 1", n)
	}
	if n := logs.count("journal failed: it takes no more writes until reopened"); n != 1 {
		t.Errorf("%d logs of the failure, want 1", n)
	}
	if err := j.AddFile(in, jFile(in, "p", 1)); !errors.Is(err, ErrFailed) {
		t.Fatalf("AddFile after the failure: %v, want ErrFailed", err)
	}
	if err := within(t, 10*time.Second, "Close", j.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
	disk.on.Store(false)
	j2 := openTestJournal(t, "/journal", withFS(fs))
	got, err := j2.Pending()
	if err != nil {
		t.Fatal(err)
	}
	// The begin of instant 2 may or may not have reached the WAL (it was
	// accepted before the failure was seen, or not); no upload depended
	// on it.
	if len(got) < 1 || !equalEntry(got[0], want[0]) || len(got) > 2 || (len(got) == 2 && got[1].Instant != in) {
		t.Fatalf("after reopening: %+v, want %+v (and maybe %s)", got, want, in)
	}
}

func equalEntry(a, b Entry) bool {
	return a.Instant == b.Instant && a.Checkpoint == b.Checkpoint && strings.Join(a.Files, ",") == strings.Join(b.Files, ",")
}

// TestJournalBackgroundLogLimit: a background error is logged at once,
// then at most once per interval, with the number not logged in between.
func TestJournalBackgroundLogLimit(t *testing.T) {
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var b backgroundErrors
	b.init(options{retryMin: time.Second, retryMax: 4 * time.Second})
	b.now = func() time.Time { return now }
	type logged struct {
		ok bool
		n  int
	}
	var got []logged
	step := func(d time.Duration) {
		now = now.Add(d)
		ok, n := b.logNow()
		got = append(got, logged{ok, n})
	}
	step(0)                                // logged
	step(time.Second)                      // suppressed
	step(time.Second)                      // suppressed
	step(backgroundLogEvery - time.Second) // 10 s after the first: logged, 2 suppressed
	step(backgroundLogEvery)               // logged, none suppressed
	want := []logged{{true, 0}, {false, 0}, {false, 0}, {true, 2}, {true, 0}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("log decisions %v, want %v", got, want)
		}
	}
	var waits []time.Duration
	for range 4 {
		waits = append(waits, b.nextWait())
	}
	if waits[0] != time.Second || waits[1] != 2*time.Second || waits[2] != 4*time.Second || waits[3] != 4*time.Second {
		t.Fatalf("waits %v, want 1s 2s 4s 4s", waits)
	}
}
