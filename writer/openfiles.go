package writer

// The open-file policy: which bucket gets a file (at most MaxOpenFiles are
// open; opening one more rolls the least recently written), which rows are
// staged instead (when that file is below the minimum size) and written at
// Finish, the closing of a file for its upload (by size, age, the bound or
// Finish), and the dropping of the open files on Abort and Close.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lakestream/lakestream/table"
	"github.com/parquet-go/parquet-go"
)

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
		if err := table.ValidatePartitionPath(bucket); err != nil {
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
	if err := table.ValidatePartitionPath(bucket); err != nil {
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
	f, err := s.files.make(bucket, &s.meta)
	if err != nil {
		return nil, err
	}
	s.open[bucket] = f
	s.log.Debug("file opened", "key", f.key, "spool", f.spool.path)
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
	began := time.Now()
	if err := s.files.finish(f); err != nil {
		return s.fail(fmt.Errorf("writer: close %s (spool %s): %w", f.key, f.spool.path, err))
	}
	s.logSlowRoll(f, reason, time.Since(began))
	s.up.add(f)
	s.log.Debug("file rolled", "key", f.key, "reason", reason, "records", f.records, "bytes", f.size)
	return nil
}

// closeAll writes the staged rows (resumed after an upload error), then
// closes every file still open, for Finish. Closing does not upload: it
// cannot fail retriably, so a retried Finish finds no open file.
func (s *Set) closeAll(ctx context.Context) error {
	if err := s.drainStage(ctx); err != nil {
		return err
	}
	for _, f := range s.openByAge() {
		if err := s.closeFile(f, "finish"); err != nil {
			return err
		}
	}
	return nil
}

// rollAged closes the files open for MaxFileAge or longer, for RollIdle.
func (s *Set) rollAged() error {
	now := s.opts.now().UnixNano()
	for _, f := range s.openByAge() {
		if time.Duration(now-f.openedAt) < s.opts.maxFileAge {
			break
		}
		if err := s.closeFile(f, "age"); err != nil {
			return err
		}
	}
	return nil
}

// discardOpen drops the open files and removes their spool files, for
// Abort and Close. It returns the errors of the removals.
func (s *Set) discardOpen() []error {
	var errs []error
	for _, f := range s.open {
		if err := f.discard(); err != nil {
			errs = append(errs, err)
		}
	}
	clear(s.open)
	s.last = nil
	return errs
}

// OpenFiles returns the number of open files.
func (s *Set) OpenFiles() int { return len(s.open) }

// MaxOpenFiles returns the most files the Set keeps open: MaxOpenFiles, or
// fewer under WithWriterMemory.
func (s *Set) MaxOpenFiles() int { return s.maxOpen }

// StagedBuckets returns the number of buckets with staged rows now and
// the number of rows staged since Begin (written by Finish or not).
func (s *Set) StagedBuckets() (buckets int, rows int64) { return s.stage.count() }
