package writer

import (
	"log/slog"
	"time"

	"github.com/lakestream/lakestream/internal/slowlog"
)

// WithSlowLog logs, through l, every flush of a row group for the memory
// budget ("slow flush": bucket, key, rows so far, buffered bytes), every roll (the file's last pages and
// footer written to its spool file: "slow roll" with the bucket, key,
// reason, rows and bytes) and every upload of a data file that takes l's
// threshold or longer, from the before-upload hook to the end of the
// Put (rate-limited by l): "slow upload" with the bucket (partition path),
// key, rows, bytes, how long the file was open before its upload, and the
// phases before_upload (the hook, e.g. the journal's write) and put.
// Default nil: none.
func WithSlowLog(l *slowlog.Logger) Option {
	return func(o *options) { o.slow = l }
}

// logSlow logs f's upload if it was slow: began is when it started (before
// the hook), put when the Put started.
func (u *uploader) logSlow(f *file, began, put time.Time) {
	now := time.Now()
	took := now.Sub(began)
	if !u.slow.Slow(took) {
		return
	}
	u.slow.Log("upload", took,
		slog.String("bucket", f.bucket), slog.String("key", f.key),
		slog.Int64("rows", f.records), slog.Int64("bytes", f.size),
		slog.Duration("open_for", time.Duration(put.UnixNano()-f.openedAt)),
		slowlog.Phases([]slowlog.Phase{{Name: "before_upload", Took: put.Sub(began)}, {Name: "put", Took: now.Sub(put)}}))
}

// logSlowRoll logs f's roll (finishing its Parquet file) if it took l's
// threshold or longer.
func (s *Set) logSlowRoll(f *file, reason string, took time.Duration) {
	if !s.opts.slow.Slow(took) {
		return
	}
	s.opts.slow.Log("roll", took, slog.String("bucket", f.bucket), slog.String("key", f.key),
		slog.String("reason", reason), slog.Int64("rows", f.records), slog.Int64("bytes", f.size))
}

// logSlowFlush logs the flush of f's row group (buffered bytes) for the
// memory budget if it took l's threshold or longer.
func (s *Set) logSlowFlush(f *file, buffered int64, took time.Duration) {
	if !s.opts.slow.Slow(took) {
		return
	}
	s.opts.slow.Log("flush", took, slog.String("bucket", f.bucket), slog.String("key", f.key),
		slog.Int64("rows", f.records), slog.Int64("buffered_bytes", buffered))
}
