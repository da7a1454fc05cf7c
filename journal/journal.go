package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi"
)

// The journal's errors.
var (
	// ErrClosed: the Journal was closed.
	ErrClosed = errors.New("journal is closed")
	// ErrLocked: another Journal, in this process or another one,
	// holds the directory. Do not reset it.
	ErrLocked = errors.New("journal directory is locked by another user")
	// ErrCorrupt: the directory cannot be opened or read as a
	// journal. Log it, Reset, and open a fresh one.
	ErrCorrupt = errors.New("journal is corrupt or unreadable")
	// ErrFailed: pebble cannot go on: a WAL write or sync failed (its
	// Fatalf), a flush or compaction failed in the background (a full disk,
	// an I/O error), or it found corruption while the journal was open (then
	// the error matches ErrCorrupt too). It sticks until Close: stop
	// uploading, and restart. What the journal acknowledged before a write
	// failure is durable.
	ErrFailed = errors.New("journal failed")
	// ErrUnavailable: the journal cannot be opened now, and its
	// directory is not to blame: the volume is full (or read-only), pebble
	// failed to write while opening it, or the context ended first. Do not
	// reset it: go on without a journal (recovery lists the table) and try
	// again at the next start. The error also matches syscall.ENOSPC when
	// the volume is full, and the context's error when that ended.
	ErrUnavailable = errors.New("journal unavailable")
)

// journalFormat is the layout version stored under keyFormat.
const journalFormat = "1"

// Key layout; see docs/format/journal.md.
const (
	keyFormat     = "meta/format"
	prefixInstant = "cp/" // cp/<instant>/<kind>[<file key>]
	kindBegin     = 'b'   // cp/<instant>/b: the checkpoint began
	kindFile      = 'f'   // cp/<instant>/f/<file key>: an upload may have started
	valueVersion  = 1     // first byte of a begin value
	beginValueLen = 9     // version, checkpoint ID (big-endian int64)
)

// Journal is a local record, kept in a pebble database, of the checkpoints
// begun and not yet committed and of every object key their files were (or
// were about to be) uploaded to. After a crash it tells the next start which
// files an incomplete checkpoint left behind, so that they can be removed
// without listing the table (table.Recoverer.RollbackInstant, Settle).
//
// It is an optimisation, never a dependency: a lost or reset journal means
// the table's own recovery (table.Recoverer.Recover) lists the table.
//
// BeginCheckpoint and AddFile are durable (the WAL is synced) when they
// return. A Journal is safe for concurrent use.
type Journal struct {
	dir    string
	log    *slog.Logger
	lock   *pebble.Lock
	layout table.Layout // finds the instant of a file key

	mu     sync.RWMutex // write-held by Close (and open) only
	db     *pebble.DB
	closed bool

	failMu sync.Mutex
	failed error

	// Opening: see OpenContext and background.go.
	opening   atomic.Bool   // pebble.Open or the read-through is running
	trouble   chan error    // a background error while opening (buffered 1)
	diskFull  atomic.Bool   // a write met ENOSPC (vfs.OnDiskFull)
	openMu    sync.Mutex    // guards openDone, abandoned
	openDone  bool          // the opening goroutine finished
	abandoned bool          // OpenContext returned before it did
	stop      chan struct{} // closed by Close: ends the waits between pebble's retries
	stopOnce  sync.Once
	bg        backgroundErrors
}

// Entry is a checkpoint begun and not committed.
type Entry struct {
	Instant string
	// Checkpoint is the checkpoint ID, -1 if the begin record is missing
	// (a damaged journal).
	Checkpoint int64
	// Files are the object keys recorded by AddFile, in key order. An
	// upload of each may have started; some may never have happened. Never
	// nil (empty when nothing was uploaded), so that it can be passed to
	// hudi.Table.RollbackInstant, for which nil means "list the table".
	Files []string
}

// Option configures Open.
type Option func(*options)

type options struct {
	logger *slog.Logger
	layout table.Layout
	fs     vfs.FS // tests only
	// retryMin and retryMax bound the wait after a background error
	// (background.go); tests shorten them.
	retryMin, retryMax time.Duration
}

// WithLogger sets the logger of the journal and of pebble (pebble's
// information at debug level). Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithLayout sets the table layout whose data file keys the
// journal records (it finds the instant of a key with it). Default
// hudi.BaseFileLayout.
func WithLayout(l table.Layout) Option {
	return func(o *options) { o.layout = l }
}

// withFS runs the journal on fs (fault injection in tests).
func withFS(fs vfs.FS) Option { return func(o *options) { o.fs = fs } }

// withRetry sets the bounds of the wait after a background error.
func withRetry(min, max time.Duration) Option {
	return func(o *options) { o.retryMin, o.retryMax = min, max }
}

// journalMemory is the pebble memtable size and block cache size: the
// journal holds a few keys per file of the open checkpoint.
const journalMemory = 4 << 20

// journalOpenReserve is the free space Open wants on the journal's
// volume before pebble opens it for writing. Opening writes: pebble
// flushes the WAL it replays to an sstable (smaller than the WAL: 2 MB of
// WAL made a 190 KB sstable, 2.8 MB of incompressible keys 2.6 MB), and
// writes an OPTIONS file and a MANIFEST. Without the space, the flush
// fails, pebble retries it at once, forever, and its Open waits for it:
// OpenContext then gives up on the open (see there).
const journalOpenReserve = 1 << 20

// Open is OpenContext without a context: it still returns
// as soon as the volume turns out to be full.
func Open(dir string, opts ...Option) (*Journal, error) {
	return OpenContext(context.Background(), dir, opts...)
}

// OpenContext opens the journal in dir, creating it if needed. It
// reads the whole journal once to check it.
//
// An error matching ErrCorrupt means the directory cannot be used:
// the caller logs it, calls Reset(dir) and opens a fresh journal
// (recovery then relies on the table alone). An error matching
// ErrLocked means another process (or Journal) has the directory
// open: it must not be reset. An error matching ErrUnavailable
// means the journal cannot be opened now (the volume is full, or ctx
// ended): go on without it, and do not reset it.
//
// It returns when ctx ends, or when pebble reports a background error
// (a flush that failed) while opening, even if pebble's Open has not
// returned: pebble's Open cannot be interrupted, and waits for the flush
// of the WAL it replayed, which pebble retries until it succeeds. That
// Open then goes on in a goroutine of its own, which holds the
// directory's lock while pebble retries the flush (after a wait of 1 s,
// doubling up to 30 s), and closes the journal once pebble's Open
// returns (space was freed). It is the only goroutine the journal
// starts; pebble starts its own, which Close ends.
func OpenContext(ctx context.Context, dir string, opts ...Option) (*Journal, error) {
	o := options{logger: slog.New(slog.DiscardHandler), layout: hudi.BaseFileLayout{}, fs: vfs.Default, retryMin: time.Second, retryMax: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if dir == "" {
		return nil, errors.New("journal: empty directory name")
	}
	if o.logger == nil || o.layout == nil {
		return nil, errors.New("journal: nil logger or layout")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("journal %s: %w: %w", dir, ErrUnavailable, err)
	}
	j := &Journal{dir: dir, log: o.logger, layout: o.layout, trouble: make(chan error, 1), stop: make(chan struct{})}
	j.bg.init(o)
	o.fs = vfs.OnDiskFull(o.fs, func() { j.diskFull.Store(true) })
	if err := o.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, j.openError(err)
	}
	lock, err := pebble.LockDirectory(dir, o.fs)
	if err != nil {
		if diskUnusable(err) {
			return nil, fmt.Errorf("journal %s: %w: %w", dir, ErrUnavailable, err)
		}
		return nil, fmt.Errorf("journal %s: %w: %w", dir, ErrLocked, err)
	}
	j.lock = lock
	j.opening.Store(true)
	done := make(chan error, 1)
	openers.Add(1)
	go func() {
		defer openers.Done()
		err := j.open(o)
		j.openMu.Lock()
		j.openDone = true
		abandoned := j.abandoned
		j.openMu.Unlock()
		if abandoned {
			cerr := j.Close()
			j.log.Info("journal: the open given up on has ended; journal closed", "dir", dir, "open_err", err, "close_err", cerr)
			return
		}
		done <- err
	}()
	var stopped error
	select {
	case err := <-done:
		return j.opened(err)
	case <-ctx.Done():
		stopped = ctx.Err()
	case err := <-j.trouble:
		stopped = fmt.Errorf("pebble failed in the background while opening: %w", err)
	}
	j.openMu.Lock()
	if j.openDone {
		j.openMu.Unlock()
		return j.opened(<-done)
	}
	j.abandoned = true
	j.openMu.Unlock()
	return nil, fmt.Errorf("journal %s: %w: %w", dir, ErrUnavailable, stopped)
}

// openers counts the goroutines running pebble's Open, including those
// OpenContext gave up waiting for (tests wait for them).
var openers sync.WaitGroup

// opened finishes OpenContext once the opening goroutine returned
// err.
func (j *Journal) opened(err error) (*Journal, error) {
	j.opening.Store(false)
	if err == nil {
		// A background error while opening, reported just before
		// pebble's Open returned: pebble is retrying a flush.
		select {
		case berr := <-j.trouble:
			err = fmt.Errorf("pebble failed in the background while opening: %w", berr)
		default:
			return j, nil
		}
	}
	_ = j.Close()
	return nil, j.openError(err)
}

// openError classifies an error of opening: the directory is unusable
// (corrupt), or the volume is (full or read-only: unavailable).
func (j *Journal) openError(err error) error {
	if j.diskFull.Load() || diskUnusable(err) {
		return fmt.Errorf("journal %s: %w: %w", j.dir, ErrUnavailable, err)
	}
	return fmt.Errorf("journal %s: %w: %w", j.dir, ErrCorrupt, err)
}

// checkSpace refuses to open the journal for writing on a volume with
// less than journalOpenReserve free. A file system that cannot tell is
// not checked.
func checkSpace(fs vfs.FS, dir string) error {
	u, err := fs.GetDiskUsage(dir)
	if err != nil || u.AvailBytes >= journalOpenReserve {
		return nil
	}
	return fmt.Errorf("%w: its volume has %d KiB free; opening the journal needs %d KiB (pebble writes the WAL it replays to an sstable): free space, or delete the journal directory",
		syscall.ENOSPC, u.AvailBytes>>10, journalOpenReserve>>10)
}

// diskUnusable: err says the volume is full or read-only.
func diskUnusable(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS)
}

// open opens the database and reads it through. A panic in pebble while it
// does (its Fatalf, or a decoder meeting garbage) is an error: a journal
// that cannot be read must not stop the process.
func (j *Journal) open(o options) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(pebbleFatal); ok {
				err = fmt.Errorf("pebble panicked: %w", f)
			} else {
				err = fmt.Errorf("pebble panicked: %v", r)
			}
		}
	}()
	if err := checkSpace(o.fs, j.dir); err != nil {
		return err
	}
	cache := pebble.NewCache(journalMemory)
	defer cache.Unref()
	db, err := pebble.Open(j.dir, &pebble.Options{
		FS:           o.fs,
		Lock:         j.lock,
		Cache:        cache,
		MemTableSize: journalMemory,
		MaxOpenFiles: 64,
		Logger:       pebbleLogger{log: o.logger},
		EventListener: &pebble.EventListener{
			// pebble's default calls Fatalf, even from its own goroutines.
			DataCorruption: func(info pebble.DataCorruptionInfo) {
				j.fail(fmt.Errorf("journal: %w: %w: %s", ErrFailed, ErrCorrupt, info))
			},
			// pebble's default logs every one, and pebble retries a
			// failed flush at once, forever.
			BackgroundError: j.backgroundError,
		},
	})
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.db = db
	j.mu.Unlock()
	if err := j.checkFormat(); err != nil {
		return err
	}
	_, err = j.Pending()
	return err
}

// checkFormat records the layout version in a new journal and checks it in
// an existing one.
func (j *Journal) checkFormat() error {
	v, closer, err := j.db.Get([]byte(keyFormat))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		// A new journal (or one whose first write was lost): it must be
		// empty.
		it, err := j.db.NewIter(nil)
		if err != nil {
			return err
		}
		nonEmpty := it.First()
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return err
		}
		if nonEmpty {
			return fmt.Errorf("no format key, but the journal holds data")
		}
		return j.db.Set([]byte(keyFormat), []byte(journalFormat), pebble.Sync)
	case err != nil:
		return err
	}
	defer closer.Close()
	if string(v) != journalFormat {
		return fmt.Errorf("journal format %q, want %q", v, journalFormat)
	}
	return nil
}

// Reset moves the journal directory aside, to
// <dir>.corrupt-<unix seconds> (with a -<n> suffix if that exists), so that
// the next Open starts a fresh one. A missing dir is not an error.
// The moved directory is kept for inspection; nothing deletes it.
func Reset(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	base := fmt.Sprintf("%s.corrupt-%d", strings.TrimRight(dir, string(os.PathSeparator)), time.Now().Unix())
	to := base
	for n := 1; ; n++ {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
		to = base + "-" + strconv.Itoa(n)
	}
	if err := os.Rename(dir, to); err != nil {
		return fmt.Errorf("reset journal: %w", err)
	}
	return nil
}

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

func instantPrefix(instant string) []byte { return []byte(prefixInstant + instant + "/") }

func beginKey(instant string) []byte { return append(instantPrefix(instant), kindBegin) }

func fileKey(instant, key string) []byte {
	return append(append(instantPrefix(instant), kindFile, '/'), key...)
}

// prefixEnd is the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func checkInstant(instant string) error {
	if instant == "" || strings.Trim(instant, "0123456789") != "" {
		return fmt.Errorf("journal: instant %q is not an instant time (digits)", instant)
	}
	return nil
}

// BeginCheckpoint records that checkpoint began under instant. It is
// durable when it returns; call it before any file of the checkpoint is
// uploaded.
func (j *Journal) BeginCheckpoint(instant string, checkpoint int64) error {
	if err := checkInstant(instant); err != nil {
		return err
	}
	if checkpoint < 0 {
		return fmt.Errorf("journal: checkpoint %d: must not be negative", checkpoint)
	}
	v := make([]byte, beginValueLen)
	v[0] = valueVersion
	binary.BigEndian.PutUint64(v[1:], uint64(checkpoint))
	return j.do("begin "+instant, func(db *pebble.DB) error {
		return db.Set(beginKey(instant), v, pebble.Sync)
	})
}

// AddFile records that key, a base file of instant, is about to be
// uploaded. It is durable when it returns; call it before the upload starts
// (writer.WithBeforeUpload). Adding a key twice is harmless. The instant
// must have been begun.
func (j *Journal) AddFile(instant, key string) error {
	if err := checkInstant(instant); err != nil {
		return err
	}
	if ts, ok := j.layout.FileInstant(key); !ok || ts != instant {
		return fmt.Errorf("journal: %q is not a base file of instant %s", key, instant)
	}
	return j.do("add "+key, func(db *pebble.DB) error {
		_, closer, err := db.Get(beginKey(instant))
		if errors.Is(err, pebble.ErrNotFound) {
			return fmt.Errorf("instant %s was not begun (BeginCheckpoint)", instant)
		}
		if err != nil {
			return err
		}
		closer.Close()
		return db.Set(fileKey(instant, key), nil, pebble.Sync)
	})
}

// BeforeUpload is AddFile for the instant named in key's file name: pass
// it to writer.WithBeforeUpload.
func (j *Journal) BeforeUpload(key string) error {
	instant, ok := j.layout.FileInstant(key)
	if !ok {
		return fmt.Errorf("journal: %q is not a base file", key)
	}
	return j.AddFile(instant, key)
}

// Settled records that instant is settled, committed or rolled back
// (aborted, fenced, or settled at start), and forgets it: its records are
// deleted with one range deletion. The deletion is not synced: if a crash
// loses it, the next start finds the instant settled on the timeline
// (RollbackInstant answers completed or rolled back, and deletes nothing
// that was committed) and calls Settled again.
func (j *Journal) Settled(instant string) error {
	if err := checkInstant(instant); err != nil {
		return err
	}
	p := instantPrefix(instant)
	return j.do("forget "+instant, func(db *pebble.DB) error {
		return db.DeleteRange(p, prefixEnd(p), pebble.NoSync)
	})
}

// Pending returns the instants begun and not settled, oldest first, each
// with the file keys recorded for it.
func (j *Journal) Pending() (out []Entry, err error) {
	err = j.do("read", func(db *pebble.DB) error {
		lower := []byte(prefixInstant)
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			instant, kind, rest, perr := parseJournalKey(it.Key())
			if perr != nil {
				err = perr
				break
			}
			if n := len(out); n == 0 || out[n-1].Instant != instant {
				out = append(out, Entry{Instant: instant, Checkpoint: -1, Files: []string{}})
			}
			e := &out[len(out)-1]
			switch kind {
			case kindBegin:
				v, verr := it.ValueAndErr()
				if verr != nil {
					err = verr
				} else if len(v) != beginValueLen || v[0] != valueVersion {
					err = fmt.Errorf("begin record of %s: malformed value %x", instant, v)
				} else {
					e.Checkpoint = int64(binary.BigEndian.Uint64(v[1:]))
				}
			case kindFile:
				e.Files = append(e.Files, rest)
			}
			if err != nil {
				break
			}
		}
		return errors.Join(err, it.Error(), it.Close())
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseJournalKey splits cp/<instant>/b and cp/<instant>/f/<key>.
func parseJournalKey(k []byte) (instant string, kind byte, rest string, err error) {
	s := strings.TrimPrefix(string(k), prefixInstant)
	instant, tail, ok := strings.Cut(s, "/")
	switch {
	case !ok || checkInstant(instant) != nil:
	case tail == string(kindBegin):
		return instant, kindBegin, "", nil
	case len(tail) > 2 && tail[0] == kindFile && tail[1] == '/':
		return instant, kindFile, tail[2:], nil
	}
	return "", 0, "", fmt.Errorf("malformed journal key %q", k)
}

// Close closes the journal. It is idempotent.
func (j *Journal) Close() error {
	// pebble's Close waits for a failing flush to give up: let its retry
	// go at once.
	j.stopOnce.Do(func() { close(j.stop) })
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	var err error
	if db := j.db; db != nil {
		j.db = nil
		err = j.guard("close", db.Close)
		if j.failure() != nil {
			// pebble reports again what it could not write, and that
			// was reported already.
			err = nil
		}
	}
	return errors.Join(err, j.lock.Close())
}

// do runs fn on the open database.
func (j *Journal) do(what string, fn func(db *pebble.DB) error) error {
	j.mu.RLock()
	defer j.mu.RUnlock()
	if j.closed || j.db == nil {
		return fmt.Errorf("journal: %s: %w", what, ErrClosed)
	}
	if err := j.failure(); err != nil {
		return err
	}
	return j.guard(what, func() error { return fn(j.db) })
}

// guard turns pebble's Fatalf (see pebbleLogger) into the sticky
// ErrFailed: pebble's commit pipeline is unusable after one, so the
// database is not written again.
func (j *Journal) guard(what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(pebbleFatal)
			if !ok {
				panic(r)
			}
			err = j.fail(fmt.Errorf("journal: %s: %w: %w", what, ErrFailed, f))
		}
	}()
	if err := fn(); err != nil {
		return fmt.Errorf("journal: %s: %w", what, err)
	}
	return nil
}

func (j *Journal) failure() error {
	j.failMu.Lock()
	defer j.failMu.Unlock()
	return j.failed
}

func (j *Journal) fail(err error) error {
	j.failMu.Lock()
	defer j.failMu.Unlock()
	if j.failed == nil {
		j.failed = err
		j.log.Error("journal failed: it takes no more writes until reopened", "dir", j.dir, "err", err)
	}
	return j.failed
}

// pebbleFatal is the panic value of pebbleLogger.Fatalf: its message, and
// the error among its arguments (a write's, which may be ENOSPC).
type pebbleFatal struct {
	msg string
	err error
}

func (f pebbleFatal) Error() string { return "pebble: " + f.msg }

func (f pebbleFatal) Unwrap() error { return f.err }

// pebbleLogger sends pebble's logs to slog. pebble calls Fatalf when it
// cannot go on (a WAL or MANIFEST write failed) and expects it not to
// return; it panics with pebbleFatal, which the Journal's methods recover
// into ErrFailed. A Fatalf in one of pebble's background goroutines
// (a flush or compaction) ends the process, as pebble's default logger
// would.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Warn("pebble: " + strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := strings.TrimSuffix(fmt.Sprintf(format, args...), "\n")
	l.log.Error("pebble: fatal: " + msg)
	f := pebbleFatal{msg: msg}
	for _, a := range args {
		if err, ok := a.(error); ok {
			f.err = err
		}
	}
	panic(f)
}
