package writer

// The Set: the open writers of one worker, its checkpoint state machine
// (Begin, Finish, Abort, Close) and the open-file policy (which bucket gets
// a file, which file rolls, which rows are staged). The write path is in
// write.go, the parts it uses in their own files.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lakestream/lakestream/commitlog"
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

func (s state) String() string {
	switch s {
	case stateIdle:
		return "idle"
	case stateActive:
		return "active"
	case stateFinishing:
		return "finishing"
	case stateFinished:
		return "finished"
	case stateAborting:
		return "aborting"
	default:
		return "closed"
	}
}

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
	worker int
	opts   options
	log    *slog.Logger

	shape rowShape
	encs  *encoders
	spool *spool
	up    uploader
	stage stage
	meta  checkpointMeta

	state        state
	err          error // sticky local error
	instant      string
	checkpointID int64
	fileSeq      int // files opened since Begin (the <n> of the write token)
	tick         uint64

	open     map[string]*file // by bucket
	last     *file            // the most recently written file (fast path)
	maxOpen  int              // MaxOpenFiles, lowered by WithWriterMemory
	draining bool             // Finish is writing the stage: openFile does not upload

	scratch writeScratch
}

// NewSet returns an empty Set writing rows of schema to store for worker (a
// non-negative number that goes into the file names and sequence numbers).
// The schema's first five leaf columns must be the Hudi meta columns.
func NewSet(store objstore.Bucket, schema *parquet.Schema, worker int, opts ...Option) (*Set, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if err := o.validate(); err != nil {
		errs = append(errs, err)
	}
	if store == nil {
		errs = append(errs, errors.New("writer: nil object store bucket"))
	}
	if worker < 0 {
		errs = append(errs, fmt.Errorf("writer: worker %d: must not be negative", worker))
	}
	var shape rowShape
	if schema == nil {
		errs = append(errs, errors.New("writer: nil schema"))
	} else if sh, err := newRowShape(schema, o.partitionColumns, o.partitionValues != nil); err != nil {
		errs = append(errs, err)
	} else {
		shape = sh
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	encs, err := newEncoders(schema, &o)
	if err != nil {
		return nil, err
	}
	maxOpen := o.maxOpenFiles
	if o.writerMemory > 0 && !encs.flat {
		// parquet-go reserves a page buffer per required column of an open
		// writer, whatever it holds. parquetfile reserves nothing: its
		// memory is in BufferedBytes, which the memory budget bounds.
		perWriter := int64(o.pageBufferSize) * int64(max(shape.requiredColumns(), 1))
		maxOpen = int(min(int64(o.maxOpenFiles), max(1, o.writerMemory/perWriter)))
	}
	encs.keep = maxOpen
	sp := &spool{fs: o.spoolFS, dir: o.spoolDir, keep: maxOpen}
	s := &Set{worker: worker, opts: o, log: o.logger, shape: shape, encs: encs, spool: sp,
		up:    uploader{store: store, hook: o.beforeUpload, concurrency: o.uploadConcurrency, log: o.logger},
		stage: stage{spool: sp, limit: o.stageMemory, log: o.logger},
		open:  make(map[string]*file), maxOpen: maxOpen}
	s.scratch.init(shape.numColumns)
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
		return fmt.Errorf("writer: begin %s: checkpoint %s of instant %s is %s: Finish or Abort it first", instant, strconv.FormatInt(s.checkpointID, 10), s.instant, s.state)
	}
	if instant == "" || strings.Trim(instant, "0123456789") != "" {
		return fmt.Errorf("writer: begin: instant %q is not an instant time (digits)", instant)
	}
	if checkpointID < 0 {
		return fmt.Errorf("writer: begin: checkpoint ID %d: must not be negative", checkpointID)
	}
	s.instant, s.checkpointID = instant, checkpointID
	s.fileSeq = 0
	s.stage.begin()
	s.up.begin()
	s.meta.begin(&s.shape, instant, s.worker)
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
		// Staged rows first (resumed after an upload error), then every
		// file still open. Closing does not upload: it cannot fail
		// retriably, so a retried Finish finds no open file.
		if err := s.drainStage(ctx); err != nil {
			return nil, err
		}
		for _, f := range s.openByAge() {
			if err := s.closeFile(f, "finish"); err != nil {
				return nil, err
			}
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
	var errs []error
	for _, f := range s.open {
		if err := f.discard(); err != nil {
			errs = append(errs, err) // local cleanup only: reported, not retried
		}
	}
	clear(s.open)
	s.last = nil
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
	now := s.opts.now().UnixNano()
	for _, f := range s.openByAge() {
		if time.Duration(now-f.openedAt) < s.opts.maxFileAge {
			break
		}
		if err := s.closeFile(f, "age"); err != nil {
			return err
		}
	}
	return s.up.uploadPending(ctx)
}

// OpenFiles returns the number of open files.
func (s *Set) OpenFiles() int { return len(s.open) }

// MaxOpenFiles returns the most files the Set keeps open: MaxOpenFiles, or
// fewer under WithWriterMemory.
func (s *Set) MaxOpenFiles() int { return s.maxOpen }

// StagedBuckets returns the number of buckets with staged rows now and
// the number of rows staged since Begin (written by Finish or not).
func (s *Set) StagedBuckets() (buckets int, rows int64) { return s.stage.count() }

// BufferedBytes estimates the memory the Set holds for its open files and
// staged rows. With parquetfile's encoder (flat schemas) it is the capacity
// of each open file's page buffers, encoded pages and dictionary arrays,
// plus the dictionary tables the files share while any is open. With
// parquet-go's (schemas with lists or maps) it is the length of each open
// file's buffered row group, which undercounts the heap (buffer capacity
// beyond length, parquet-go's buffer pools, dictionary hash tables):
// measured with 8 open files of a 16-column schema, the live heap was 1.4
// to 2 times BufferedBytes. Neither counts the zstd encoder (one per Set)
// or the spool buffers (256 KiB per open file).
func (s *Set) BufferedBytes() int64 {
	var n int64
	for _, f := range s.open {
		n += f.bufferedBytes()
	}
	return n + s.encs.sharedBytes(len(s.open)) + s.stage.mem
}

// FlushLargest frees the largest buffer: the row group of the open file
// with the most buffered bytes, written to its spool file (and its
// buffers released), or the staged rows, spilled to the spool, or the
// shared dictionary tables, dropped, if they hold more. It does nothing if
// nothing is buffered.
func (s *Set) FlushLargest(ctx context.Context) error {
	switch {
	case s.state == stateClosed:
		return ErrClosed
	case s.err != nil:
		return s.err
	}
	var largest *file
	var most int64
	for _, f := range s.open {
		if n := f.bufferedBytes(); n > most {
			largest, most = f, n
		}
	}
	if s.stage.mem > most {
		return s.spillStage()
	}
	if s.encs.sharedBytes(len(s.open)) > most {
		s.encs.shared.Release()
		s.log.Debug("dictionary tables dropped for the memory budget", "bytes", most)
		return nil
	}
	if largest == nil {
		return nil
	}
	if err := largest.enc.flush(); err != nil {
		return s.fail(fmt.Errorf("writer: flush row group of %s: %w", largest.key, err))
	}
	largest.enc.release()
	s.log.Debug("row group flushed for the memory budget", "key", largest.key, "bytes", most)
	return nil
}

// Close releases the Set: it removes the spool files of the open and pending
// files. It does not delete uploaded files (Abort does). It is idempotent.
func (s *Set) Close() error {
	if s.state == stateClosed {
		return nil
	}
	var errs []error
	for _, f := range s.open {
		if err := f.discard(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.up.close()...)
	if err := s.stage.close(); err != nil {
		errs = append(errs, err)
	}
	s.stage = stage{}
	s.open, s.last = nil, nil
	s.encs.free, s.spool.bufs = nil, nil
	s.state = stateClosed
	if len(errs) > 0 {
		return fmt.Errorf("writer: close: %w", errors.Join(errs...))
	}
	return nil
}

// The open-file policy.

// shouldStage reports whether a row of bucket should be staged: the bucket
// has staged rows already (it stays staged until Finish, so its rows keep
// their order), or it has no open file, MaxOpenFiles are open, and the
// least recently written file is below the minimum file size (rolling it
// would cut a small file).
func (s *Set) shouldStage(bucket string) bool {
	if s.stage.has(bucket) {
		return true
	}
	if len(s.open) < s.maxOpen || s.opts.minFileSize == 0 {
		return false
	}
	if s.last != nil && s.last.bucket == bucket {
		return false
	}
	if s.open[bucket] != nil {
		return false
	}
	return s.lru().enc.size() < min(s.opts.minFileSize, s.opts.targetFileSize)
}

// stageRows stages rows (valid, all of bucket), spilling the stage past its
// memory bound.
func (s *Set) stageRows(bucket string, rows []parquet.Row, eventTimes []int64) error {
	if !s.stage.has(bucket) {
		if err := ValidatePartition(bucket); err != nil {
			return err
		}
	}
	if s.stage.add(bucket, rows, eventTimes) {
		return s.spillStage()
	}
	return nil
}

// spillStage spills the staged rows. A failure is sticky: staged rows are
// lost.
func (s *Set) spillStage() error {
	if err := s.stage.spill(); err != nil {
		return s.fail(err)
	}
	return nil
}

// drainStage writes the staged buckets to their files, in the order they
// were staged, each into a new file closed once the bucket is written (a
// staged bucket never has an open file: shouldStage keeps it staged; Finish
// closes every file anyway, closing at once bounds the writers). Files are
// uploaded between buckets, never in the middle of one, so after an upload
// error (returned, and retriable) a later call resumes with the first
// bucket not written.
func (s *Set) drainStage(ctx context.Context) error {
	s.draining = true
	defer func() { s.draining = false }()
	for b := s.stage.nextBucket(); b != nil; b = s.stage.nextBucket() {
		// Closed files wait until a batch of them can be uploaded at once.
		if s.up.waiting() >= s.opts.uploadConcurrency {
			if err := s.up.uploadPending(ctx); err != nil {
				return err
			}
		}
		// Any error in the middle of a bucket sticks (a file may already
		// hold part of it): a retried Finish must not write it again.
		if err := s.stage.replay(b, func(rows []parquet.Row, eventTimes []int64) error {
			return s.writeRows(ctx, b.bucket, rows, eventTimes)
		}); err != nil {
			return s.fail(err)
		}
		if f := s.open[b.bucket]; f != nil {
			if err := s.closeFile(f, "finish"); err != nil {
				return err
			}
		}
		s.stage.drained(b)
	}
	s.stage.reset()
	return nil
}

// fileFor returns the open file of bucket, opening one if needed.
func (s *Set) fileFor(ctx context.Context, bucket string) (*file, error) {
	f := s.last
	if f == nil || f.bucket != bucket {
		f = s.open[bucket]
		if f == nil {
			var err error
			if f, err = s.openFile(ctx, bucket); err != nil {
				return nil, err
			}
		}
		s.last = f
	}
	return f, nil
}

// openFile starts a new file for bucket, first rolling the least recently
// written file if MaxOpenFiles are open.
func (s *Set) openFile(ctx context.Context, bucket string) (*file, error) {
	if err := ValidatePartition(bucket); err != nil {
		return nil, err
	}
	if len(s.open) >= s.maxOpen {
		if err := s.closeFile(s.lru(), "open-file bound"); err != nil {
			return nil, err
		}
		if !s.draining {
			if err := s.up.uploadPending(ctx); err != nil {
				return nil, err
			}
		}
	}
	f, err := s.newFile(bucket)
	if err != nil {
		return nil, err
	}
	s.open[bucket] = f
	s.log.Debug("file opened", "key", f.key, "spool", f.spool.path)
	return f, nil
}

// newFile makes the file of bucket: its name, its spool file, its encoder
// and the values of the columns fixed for it.
func (s *Set) newFile(bucket string) (*file, error) {
	fileID := commitlog.NewFileID()
	name := commitlog.BaseFileName(fileID, commitlog.WriteToken(s.worker, s.checkpointID, s.fileSeq), s.instant)
	if _, _, _, ok := commitlog.ParseBaseFileName(name); !ok {
		return nil, fmt.Errorf("writer: base file name %q is not valid", name) // unreachable
	}
	f := &file{
		bucket:      bucket,
		fileID:      fileID,
		name:        name,
		key:         commitlog.BaseFilePath(bucket, name),
		openedAt:    s.opts.now().UnixNano(),
		bucketValue: parquet.ByteArrayValue([]byte(bucket)).Level(0, 1, s.shape.metaIdx[3]),
		nameValue:   parquet.ByteArrayValue([]byte(name)).Level(0, 1, s.shape.metaIdx[4]),
	}
	if err := s.spool.open(&f.spool); err != nil {
		return nil, fmt.Errorf("writer: create spool file: %w", err)
	}
	s.fileSeq++
	if partCols := s.shape.partCols; len(partCols) > 0 {
		values, err := s.opts.partitionValues(bucket)
		if err == nil && len(values) != len(partCols) {
			err = fmt.Errorf("%d values for %d partition columns", len(values), len(partCols))
		}
		if err != nil {
			_ = f.discard()
			return nil, fmt.Errorf("writer: bucket %s: %w", bucket, err)
		}
		for i, v := range values {
			pv := parquet.Value{}.Level(0, 0, partCols[i])
			if v != nil {
				pv = parquet.ByteArrayValue(v).Level(0, 1, partCols[i])
			}
			f.partColValues = append(f.partColValues, pv)
		}
	}
	var err error
	if f.enc, err = s.encs.get(); err != nil {
		_ = f.discard()
		return nil, fmt.Errorf("writer: new encoder: %w", err)
	}
	f.enc.reset(&f.spool.count)
	if f.generated, err = f.enc.generate(s.shape.metaIdx, s.meta.instant, f.bucketValue, f.nameValue, s.meta.seqnoPrefix(), s.shape.partCols, f.partColValues); err != nil {
		_ = f.discard()
		return nil, fmt.Errorf("writer: %s: %w", f.key, err)
	}
	return f, nil
}

// lru returns the least recently written open file (nil if none).
func (s *Set) lru() *file {
	var lru *file
	for _, f := range s.open {
		if lru == nil || f.lastWrite < lru.lastWrite {
			lru = f
		}
	}
	return lru
}

// openByAge returns the open files, oldest first (a deterministic order).
func (s *Set) openByAge() []*file {
	files := make([]*file, 0, len(s.open))
	for _, f := range s.open {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b *file) int {
		return cmp.Or(cmp.Compare(a.openedAt, b.openedAt), strings.Compare(a.name, b.name))
	})
	return files
}

// closeFile finishes f's Parquet file in its spool file and queues it for
// upload. A failure is sticky: the file's rows are lost.
func (s *Set) closeFile(f *file, reason string) error {
	delete(s.open, f.bucket)
	if s.last == f {
		s.last = nil
	}
	enc, err := f.close()
	if err != nil {
		return s.fail(fmt.Errorf("writer: close %s (spool %s): %w", f.key, f.spool.path, err))
	}
	s.encs.put(enc)
	s.up.add(f)
	s.log.Debug("file rolled", "key", f.key, "reason", reason, "records", f.records, "bytes", f.size)
	return nil
}
