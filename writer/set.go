package writer

// The Set: the open writers of one worker, made of the parts in their own
// files, and its checkpoint state machine (Begin, Finish, Abort, RollIdle,
// Close): which calls are allowed in which state, the sticky local error,
// and what each transition asks of the parts. Its open-file policy is in
// openfiles.go, its write path in write.go, its memory accounting in
// memory.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/parquet-go/parquet-go"
)

// ErrClosed is returned by the methods of a closed Set.
var ErrClosed = errors.New("writer set is closed")

type state int

const (
	stateIdle      state = iota // no checkpoint: Begin
	stateActive                 // Begin called: Write(Batch), RollIdle, FlushLargest, Finish, Abort
	stateFinishing              // Finish called and not yet successful: Finish again or Abort
	stateFinished               // Finish succeeded: Finish (same files), Abort, Begin
	stateAborting               // Abort failed to delete some files: Abort again
	stateClosed
)

var stateNames = [...]string{stateIdle: "idle", stateActive: "active", stateFinishing: "finishing",
	stateFinished: "finished", stateAborting: "aborting", stateClosed: "closed"}

func (s state) String() string { return stateNames[s] }

// Set is the open writers of one worker: one rolling Parquet file per open
// bucket (partition path). Files are written to a local spool directory and
// uploaded to their final key when they roll (target size, max age, the
// open-file bound) or at Finish; they become visible to readers only through
// the commit that lists them.
//
// A checkpoint is Begin, Writes (or WriteBatches), then Finish (whose files
// the caller commits) or Abort. Upload errors are returned and are
// retriable: the files stay spooled, and a later Write, WriteBatch, RollIdle
// or Finish uploads them again.
// Local errors (the Parquet encoder, the spool disk) lose buffered rows: they
// stick, every call but Abort and Close returns them, and the checkpoint must
// be aborted and replayed.
//
// A Set is NOT safe for concurrent use: one worker goroutine owns it.
type Set struct {
	opts options
	log  *slog.Logger

	shape rowShape
	files fileMaker
	up    uploader
	stage stage
	meta  checkpointMeta // the checkpoint being written

	state state
	err   error  // sticky local error
	tick  uint64 // counts writes, for LRU

	open     map[string]*file // by bucket
	last     *file            // the most recently written file (fast path)
	maxOpen  int              // MaxOpenFiles, lowered by WithWriterMemory
	draining bool             // Finish is writing the stage: openFile does not upload

	fill filler // the values the encoders take
}

// NewSet returns an empty Set writing rows of schema to store for worker (a
// non-negative number that goes into the file names and sequence numbers).
// The schema's first five leaf columns must be the Hudi meta columns.
func NewSet(store objstore.Store, schema *parquet.Schema, worker int, opts ...Option) (*Set, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	errs := []error{o.validate()}
	if store == nil {
		errs = append(errs, errors.New("writer: nil object store bucket"))
	}
	if worker < 0 {
		errs = append(errs, fmt.Errorf("writer: worker %d: must not be negative", worker))
	}
	shape, err := newRowShape(schema, o.partitionColumns, o.partitionValues != nil)
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}
	encs, err := newEncoders(schema, &o)
	if err != nil {
		return nil, err
	}
	maxOpen := encs.maxOpen(&o, &shape)
	encs.keep = maxOpen
	sp := &spool{fs: o.spoolFS, dir: o.spoolDir, keep: maxOpen}
	s := &Set{opts: o, log: o.logger, shape: shape, files: newFileMaker(worker, sp, encs, &o), up: newUploader(store, &o),
		stage: newStage(sp, &o), open: make(map[string]*file), maxOpen: maxOpen}
	s.files.shape = &s.shape
	s.fill = newFiller(&s.shape, &s.meta)
	return s, nil
}

// Begin starts a checkpoint: files opened from now on belong to instant
// (a Hudi instant time, digits only) and are named
// <fileId>_<worker>-<checkpointID>-<n>_<instant>.parquet, n counting the
// files of the checkpoint from 0. The previous checkpoint must be finished
// (Finish succeeded: its files are the caller's now) or aborted.
func (s *Set) Begin(instant string, checkpointID int64) error {
	switch s.state {
	case stateIdle, stateFinished:
	case stateClosed:
		return ErrClosed
	default:
		return fmt.Errorf("writer: begin %s: checkpoint %s of instant %s is %s: Finish or Abort it first", instant, strconv.FormatInt(s.meta.id, 10), s.meta.instant, s.state)
	}
	if instant == "" || strings.Trim(instant, "0123456789") != "" {
		return fmt.Errorf("writer: begin: instant %q is not an instant time (digits)", instant)
	}
	if checkpointID < 0 {
		return fmt.Errorf("writer: begin: checkpoint ID %d: must not be negative", checkpointID)
	}
	s.meta.begin(&s.shape, instant, checkpointID, s.files.worker)
	s.files.begin()
	s.stage.begin()
	s.up.begin()
	s.state = stateActive
	return nil
}

// usable reports why the Set cannot take writes, if it cannot.
func (s *Set) usable() error {
	switch {
	case s.state == stateClosed:
		return ErrClosed
	case s.err != nil:
		return s.err
	case s.state != stateActive:
		return fmt.Errorf("writer: no active checkpoint (set is %s): call Begin", s.state)
	}
	return nil
}

// Failed returns the sticky local error that lost buffered rows, if any:
// the checkpoint must be aborted. Other errors of Write and Finish (uploads)
// can be retried.
func (s *Set) Failed() error { return s.err }

// fail records a local error that lost buffered rows.
func (s *Set) fail(err error) error {
	if s.err == nil {
		s.err = err
		s.log.Error("writer failed; the checkpoint must be aborted", "error", err)
	}
	return s.err
}

// Finish closes and uploads every open file and returns every file finished
// since Begin, those rolled earlier included, in upload order. After an
// upload error, call Finish again (it uploads what is missing) or Abort.
// Once Finish succeeded it returns the same files again until the next
// Begin; Abort still deletes them (if the commit fails).
func (s *Set) Finish(ctx context.Context) ([]File, error) {
	switch {
	case s.state == stateClosed:
		return nil, ErrClosed
	case s.err != nil:
		return nil, s.err
	case s.state == stateIdle:
		return nil, errors.New("writer: finish: no checkpoint: call Begin")
	case s.state == stateAborting:
		return nil, errors.New("writer: finish: the checkpoint is being aborted: call Abort")
	}
	if s.state == stateActive {
		s.state = stateFinishing
	}
	if s.state == stateFinishing {
		if err := s.closeAll(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.up.uploadPending(ctx); err != nil {
		return nil, err
	}
	s.state = stateFinished
	return s.up.uploaded(), nil
}

// Abort drops the open and pending files and deletes every file uploaded
// since Begin (and pending ones, whose failed upload may have landed). It
// clears a sticky error. If a delete fails, the error is returned and a
// retried Abort deletes what is left.
func (s *Set) Abort(ctx context.Context) error {
	if s.state == stateClosed {
		return ErrClosed
	}
	errs := s.discardOpen() // local cleanup only: reported, not retried
	s.stage.abort()
	errs = append(errs, s.up.abort(ctx)...)
	s.err = nil
	if s.up.undeleted() {
		s.state = stateAborting // only a retried Abort (or Close) goes on from here
		return errors.Join(errs...)
	}
	s.state = stateIdle
	if len(errs) > 0 {
		s.log.Warn("abort: spool cleanup", "error", errors.Join(errs...))
	}
	return nil
}

// RollIdle rolls the files open for MaxFileAge or longer and uploads every
// rolled file not uploaded yet. The worker calls it on a timer.
func (s *Set) RollIdle(ctx context.Context) error {
	switch {
	case s.state == stateClosed:
		return ErrClosed
	case s.err != nil:
		return s.err
	case s.state != stateActive:
		return nil
	}
	if err := s.rollAged(); err != nil {
		return err
	}
	return s.up.uploadPending(ctx)
}

// Close releases the Set: it removes the spool files of the open and pending
// files. It does not delete uploaded files (Abort does). It is idempotent.
func (s *Set) Close() error {
	if s.state == stateClosed {
		return nil
	}
	errs := append(s.discardOpen(), s.up.close()...)
	if err := s.stage.close(); err != nil {
		errs = append(errs, err)
	}
	s.stage = stage{}
	s.open = nil
	s.files.close()
	s.state = stateClosed
	if len(errs) > 0 {
		return fmt.Errorf("writer: close: %w", errors.Join(errs...))
	}
	return nil
}
