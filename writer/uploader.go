package writer

// The uploader: the closed files of a Set waiting for their upload, in roll
// order; their upload, up to WithUploadConcurrency at once, each after the
// before-upload hook; what was uploaded since Begin; and the deletes of
// Abort.

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/slowlog"
)

// uploader uploads the closed files of one Set. Like the Set, it is used by
// one goroutine; uploadPending starts a goroutine per upload of a batch and
// waits for them all before it returns.
type uploader struct {
	store       objstore.Store
	hook        func(key string) error // WithBeforeUpload
	after       func(File)             // WithAfterUpload
	concurrency int
	log         *slog.Logger
	slow        *slowlog.Logger // WithSlowLog

	pending []*file  // closed, not uploaded yet, in roll order
	done    []File   // uploaded since Begin: only what the commit needs (a checkpoint of 100,000 buckets holds 100,000)
	undone  []string // keys to delete again on a retried Abort
}

// newUploader uploads to store with the options of the uploads (hooks,
// concurrency, slow log).
func newUploader(store objstore.Store, o *options) uploader {
	return uploader{store: store, hook: o.beforeUpload, after: o.afterUpload, concurrency: o.uploadConcurrency, log: o.logger, slow: o.slow}
}

// begin forgets the files of the previous checkpoint, now the caller's.
func (u *uploader) begin() { u.done, u.undone = nil, nil }

// add queues a closed file.
func (u *uploader) add(f *file) { u.pending = append(u.pending, f) }

// waiting is the number of files waiting for their upload.
func (u *uploader) waiting() int { return len(u.pending) }

// uploaded returns the files uploaded since begin, in upload order.
func (u *uploader) uploaded() []File { return slices.Clip(u.done) } // appending to it copies

// uploadPending uploads the pending files in roll order, up to the upload
// concurrency at once. After an error the files whose upload failed, and
// those not tried yet, stay pending in their order; the first error (in
// roll order) is returned.
func (u *uploader) uploadPending(ctx context.Context) error {
	for len(u.pending) > 0 {
		batch := u.pending[:min(len(u.pending), u.concurrency)]
		errs := make([]error, len(batch))
		if len(batch) == 1 {
			errs[0] = u.upload(ctx, batch[0])
		} else {
			var wg sync.WaitGroup
			for i, f := range batch {
				wg.Go(func() { errs[i] = u.upload(ctx, f) })
			}
			wg.Wait()
		}
		var failed []*file
		var first error
		for i, f := range batch {
			if errs[i] != nil {
				failed = append(failed, f)
				first = cmp.Or(first, errs[i])
				continue
			}
			if err := f.discard(); err != nil {
				u.log.Warn("remove spool file", "path", f.spool.path, "error", err)
			}
			info := f.info()
			u.done = append(u.done, info)
			if u.after != nil {
				u.after(info)
			}
		}
		rest := u.pending[len(batch):]
		if first != nil {
			u.pending = append(failed, rest...)
			return first
		}
		clear(batch)
		u.pending = rest
	}
	u.pending = nil
	return nil
}

// upload runs the before-upload hook and uploads f. It may run on several
// goroutines at once: it only reads the uploader and f.
func (u *uploader) upload(ctx context.Context, f *file) error {
	began := time.Now()
	if u.hook != nil {
		if err := u.hook(f.key); err != nil {
			u.log.Warn("before-upload hook failed; the file stays spooled for a retry", "key", f.key, "error", err)
			return fmt.Errorf("writer: before upload of %s: %w", f.key, err)
		}
	}
	start := time.Now()
	if err := u.store.Put(ctx, f.key, f.spool.reader(f.size)); err != nil {
		u.log.Warn("upload failed; the file stays spooled for a retry", "key", f.key, "error", err)
		return fmt.Errorf("writer: upload %s: %w", f.key, err)
	}
	u.log.Debug("file uploaded", "key", f.key, "bytes", f.size, "took", time.Since(start))
	u.logSlow(f, began, start)
	return nil
}

// abort drops the pending files and deletes every file uploaded since
// begin, the pending ones (whose failed upload may have landed) and those a
// previous abort failed to delete. It returns the errors of the spool
// cleanup and of the deletes; the keys not deleted are kept for the next
// abort (undeleted reports them).
func (u *uploader) abort(ctx context.Context) []error {
	var errs []error
	toDelete := u.undone
	for _, f := range u.done {
		toDelete = append(toDelete, f.Path)
	}
	for _, f := range u.pending {
		if err := f.discard(); err != nil {
			errs = append(errs, err)
		}
		toDelete = append(toDelete, f.key)
	}
	u.pending, u.done, u.undone = nil, nil, nil
	for _, key := range toDelete {
		if err := u.store.Delete(ctx, key); err != nil {
			u.undone = append(u.undone, key)
			errs = append(errs, fmt.Errorf("writer: abort: delete %s: %w", key, err))
		}
	}
	return errs
}

// undeleted reports whether the last abort left files to delete.
func (u *uploader) undeleted() bool { return len(u.undone) > 0 }

// close removes the spool files of the pending files and forgets every
// file. It deletes nothing.
func (u *uploader) close() []error {
	var errs []error
	for _, f := range u.pending {
		if err := f.discard(); err != nil {
			errs = append(errs, err)
		}
	}
	u.pending, u.done, u.undone = nil, nil, nil
	return errs
}
