package writer

// The options of a Set, their defaults and their validation.

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/lakestream/lakestream/internal/slowlog"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Defaults of the options.
const (
	DefaultTargetFileSize     = 128 << 20
	DefaultMaxFileAge         = 10 * time.Minute
	DefaultRowGroupBytes      = 32 << 20
	DefaultPageBufferSize     = 1 << 20
	DefaultCompression        = "zstd"
	DefaultDictionaryMaxBytes = 1 << 20
	DefaultMaxOpenFiles       = 16
	DefaultMinFileSize        = 16 << 20
	DefaultStageMemory        = 16 << 20
	DefaultUploadConcurrency  = 8
	MaxUploadConcurrency      = 256
)

// Option configures a Set.
type Option func(*options)

type options struct {
	slow               *slowlog.Logger // WithSlowLog (slowlog.go)
	targetFileSize     int64
	maxFileAge         time.Duration
	rowGroupBytes      int64
	pageBufferSize     int
	compression        string
	dictionaryMaxBytes int
	maxOpenFiles       int
	minFileSize        int64
	stageMemory        int64
	uploadConcurrency  int
	writerMemory       int64
	spoolDir           string
	spoolFS            vfs.FS
	now                func() time.Time
	logger             *slog.Logger
	beforeUpload       func(key string) error
	fileStats          bool
	afterUpload        func(File)
	layout             table.Layout
	partitionColumns   []string
	partitionValues    func(bucket string) ([][]byte, error)
}

func defaultOptions() options {
	return options{
		targetFileSize:     DefaultTargetFileSize,
		maxFileAge:         DefaultMaxFileAge,
		rowGroupBytes:      DefaultRowGroupBytes,
		pageBufferSize:     DefaultPageBufferSize,
		compression:        DefaultCompression,
		dictionaryMaxBytes: DefaultDictionaryMaxBytes,
		maxOpenFiles:       DefaultMaxOpenFiles,
		minFileSize:        DefaultMinFileSize,
		stageMemory:        DefaultStageMemory,
		uploadConcurrency:  DefaultUploadConcurrency,
		spoolDir:           os.TempDir(),
		spoolFS:            defaultSpoolFS,
		now:                time.Now,
		logger:             slog.New(slog.DiscardHandler),
		layout:             hudi.BaseFileLayout{},
	}
}

// WithPartitionColumns names the schema's partition columns (optional
// top-level strings, schemas.TableOptions.PartitionColumns) and how to get
// their values from a bucket's partition path (nil: a null): each file holds
// its path's values in them, whatever the rows hold. Default none.
func WithPartitionColumns(names []string, values func(bucket string) ([][]byte, error)) Option {
	return func(o *options) { o.partitionColumns, o.partitionValues = names, values }
}

// WithTargetFileSize rolls a file when its estimated size reaches n bytes.
// The estimate counts the row groups already written plus the buffered row
// group, whose last pages are not compressed yet, so files come out somewhat
// smaller than n. Default 128 MiB.
func WithTargetFileSize(n int64) Option { return func(o *options) { o.targetFileSize = n } }

// WithMaxFileAge rolls, on RollIdle, a file that has been open for d or
// longer. Default 10 minutes.
func WithMaxFileAge(d time.Duration) Option { return func(o *options) { o.maxFileAge = d } }

// WithRowGroupBytes flushes a file's row group to its spool file when the
// row group's buffered bytes reach n. It bounds the memory of each open file.
// Default 32 MiB.
func WithRowGroupBytes(n int64) Option { return func(o *options) { o.rowGroupBytes = n } }

// WithPageBufferSize sets the Parquet page size (of the uncompressed values
// buffered per column before a page is encoded). Default 1 MiB.
func WithPageBufferSize(n int) Option { return func(o *options) { o.pageBufferSize = n } }

// WithCompression sets the codec of the pages: "zstd" (default), "zstd-fast",
// "snappy", "gzip" or "none". A codec set on a schema node takes precedence
// for that column.
//
// "zstd" is zstd's default level (about level 3, as DuckDB and parquet-mr
// write); "zstd-fast" is its fastest level: on the pageview benchmark
// (checkpoint.BenchmarkPipeline, one commit) it cut the pipeline's CPU per
// record by about a tenth for files about 9% larger (3.95 against 3.6 bytes
// per record).
func WithCompression(name string) Option { return func(o *options) { o.compression = name } }

// WithDictionaryMaxBytes bounds each column's dictionary to n bytes per row
// group; past it the column falls back to PLAIN for the rest of the row
// group. 0 means unbounded. Default 1 MiB.
func WithDictionaryMaxBytes(n int) Option { return func(o *options) { o.dictionaryMaxBytes = n } }

// WithMaxOpenFiles bounds the files a Set keeps open: opening one more rolls
// the least recently written one if it has reached the minimum file size,
// else the new bucket's rows are staged (WithMinFileSize). Default 16.
func WithMaxOpenFiles(n int) Option { return func(o *options) { o.maxOpenFiles = n } }

// WithMinFileSize sets the size below which an open file is not rolled to
// make room for another bucket. When MaxOpenFiles are open and the least
// recently written is smaller than n, the rows of a bucket without a file
// are staged instead (kept in a compact row form, spilled to the spool past
// the stage memory) and written to their file at Finish: so files below n
// are only those cut by a checkpoint (or by the max file age), however many
// buckets a checkpoint touches. Default 16 MiB; 0 rolls the least recently
// written file whatever its size (one small file per bucket switch when
// buckets outnumber the open files). A minimum above the target file size
// acts as the target file size.
func WithMinFileSize(n int64) Option { return func(o *options) { o.minFileSize = n } }

// WithStageMemory bounds the staged rows held in memory; past it they are
// spilled to a spool file. They count in BufferedBytes, and FlushLargest
// spills them when they are the largest buffer. Default 16 MiB.
func WithStageMemory(n int64) Option { return func(o *options) { o.stageMemory = n } }

// WithWriterMemory bounds the memory the open Parquet writers of schemas
// with lists or maps reserve: parquet-go, which encodes them, allocates a
// page buffer of PageBufferSize for every required column of an open file,
// used or not. The Set then opens at most n / (PageBufferSize x required
// columns) files at once (at least one), fewer than MaxOpenFiles if that is
// lower; the rows of other buckets are staged (see WithMinFileSize). A
// memory budget should cover this reservation: ingest.Open gives each
// worker's writers half of the worker's share of Options.MemoryBudget
// (ingestd's writer.memory_budget). Flat schemas are
// encoded by internal/parquetfile, which reserves nothing (its buffers are
// in BufferedBytes): the option does not apply to them. Default 0:
// MaxOpenFiles alone bounds them.
func WithWriterMemory(n int64) Option { return func(o *options) { o.writerMemory = n } }

// WithUploadConcurrency bounds the uploads of finished files that run at
// once. A checkpoint that closes one file for each of thousands of buckets
// uploads them n at a time (each upload waits on the store: an fsync, an S3
// round trip), and Finish lets up to n closed files wait for their upload
// while it writes the next buckets. Default 8, at most 256.
func WithUploadConcurrency(n int) Option { return func(o *options) { o.uploadConcurrency = n } }

// WithSpoolDir sets the local directory of the files being written. It must
// exist. Default os.TempDir().
func WithSpoolDir(dir string) Option { return func(o *options) { o.spoolDir = dir } }

// WithSpoolFS sets the filesystem of the spool directory: the files being
// written are created, written, synced, read for their upload and removed
// through it, and so is the stage's spill file (truncated after each
// checkpoint if its files have a Truncate method, else replaced). Tests
// inject faults with it (pebble's vfs/errorfs). The spool's files are
// created under new random names: the default, the operating system's
// filesystem (vfs.Default), creates them readable by their owner only
// (0600, as os.CreateTemp does), where vfs.Default.Create would make them
// 0666 less the umask.
func WithSpoolFS(fs vfs.FS) Option { return func(o *options) { o.spoolFS = fs } }

// WithClock sets the clock used for file ages. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithBeforeUpload calls fn with the object key of each file just before
// its upload starts, whatever made the file ready: the target size, the
// maximum age (RollIdle), the open-file bound or Finish. An error from fn
// aborts that upload and is returned like an upload error: the file stays
// spooled, and the next write, RollIdle or Finish calls fn again for the
// same key before it retries the upload (so fn may see a key more than
// once). fn is called for up to WithUploadConcurrency files at once, from
// as many goroutines: it must be safe for concurrent use.
//
// A local journal records the key here, durably, so that a restart knows
// every object an unfinished checkpoint may have put. Default nil (none).
func WithBeforeUpload(fn func(key string) error) Option {
	return func(o *options) { o.beforeUpload = fn }
}

// WithFileStats records the Iceberg schema and the column metrics of each
// file (File.Schema, File.Columns) as it closes, from the footer the
// encoder has just written: what it writes last (the page index and the
// footer) is kept in memory and decoded (filestats.FooterFromTail,
// filestats.FromFooter), so nothing is read back. A file whose footer
// cannot be described is logged and has none. Default off.
func WithFileStats(on bool) Option { return func(o *options) { o.fileStats = on } }

// WithAfterUpload calls fn with each file once it is uploaded (with its
// metrics under WithFileStats), on the goroutine that called the Set
// method that uploaded it (Write, WriteBatch, RollIdle, FlushLargest or
// Finish): several Sets call it from as many goroutines, so fn must be
// safe for concurrent use. An Abort after it deletes the file all the
// same. Default nil (none).
func WithAfterUpload(fn func(File)) Option { return func(o *options) { o.afterUpload = fn } }

// WithLayout sets the table layout that names the files, gives the values
// of their per-file constant columns and the footer keys of their record
// key range. Default hudi.BaseFileLayout (Hudi base files).
func WithLayout(l table.Layout) Option { return func(o *options) { o.layout = l } }

// zstdFast is zstd at its fastest level. A Codec pools its encoders.
var zstdFast = &zstd.Codec{Level: zstd.SpeedFastest}

// codecOf returns the parquet codec of the compression name.
func codecOf(name string) (compress.Codec, bool) {
	switch name {
	case "zstd":
		return &parquet.Zstd, true
	case "zstd-fast":
		return zstdFast, true
	case "snappy":
		return &parquet.Snappy, true
	case "gzip":
		return &parquet.Gzip, true
	case "none":
		return &parquet.Uncompressed, true
	}
	return nil, false
}

// ValidateCompression reports whether name is a compression WithCompression
// takes, for configuration loaders (cmd/ingestd) that check it with the
// writer's own list.
func ValidateCompression(name string) error {
	if _, ok := codecOf(name); !ok {
		return fmt.Errorf("compression %q: want zstd, zstd-fast, snappy, gzip or none", name)
	}
	return nil
}

// ValidateOptions reports every problem of opts (applied over the
// defaults) at once, as NewSet would, without making a Set: a
// configuration loader checks its settings with the writer's own rules.
// Each problem is an *OptionError (errors.As through the joined errors),
// which names the option, so that the loader names its own setting
// (cmd/ingestd does). The spool directory must exist (WithSpoolDir).
func ValidateOptions(opts ...Option) error {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return errors.Join(o.problems()...)
}

// OptionError is a problem of one option. Its message names the option's
// setting as the writer knows it ("target file size 0: must be
// positive"); Problem is the part after the setting and its value ("must
// be positive"), for a configuration loader that names the setting its
// own way.
type OptionError struct {
	Option  string // the option's function: "WithTargetFileSize", "WithSpoolDir", ...
	Problem string // what is wrong, without the setting and its value
	msg     string
	err     error // the cause, if any (a spool directory's Stat)
}

func (e *OptionError) Error() string { return e.msg }

// Unwrap returns the cause of the problem, if any.
func (e *OptionError) Unwrap() error { return e.err }

// validate reports every invalid option at once, for NewSet.
func (o *options) validate() error {
	if errs := o.problems(); len(errs) > 0 {
		return fmt.Errorf("writer options: %w", errors.Join(errs...))
	}
	return nil
}

// problems lists the problems of the options, each an *OptionError.
func (o *options) problems() []error {
	var errs []error
	bad := func(option, problem, subject string, args ...any) {
		subject = fmt.Sprintf(subject, args...)
		errs = append(errs, &OptionError{Option: option, Problem: problem, msg: subject + ": " + problem})
	}
	if o.targetFileSize <= 0 {
		bad("WithTargetFileSize", "must be positive", "target file size %d", o.targetFileSize)
	}
	if o.maxFileAge <= 0 {
		bad("WithMaxFileAge", "must be positive", "max file age %v", o.maxFileAge)
	}
	if o.rowGroupBytes <= 0 {
		bad("WithRowGroupBytes", "must be positive", "row group bytes %d", o.rowGroupBytes)
	}
	if o.pageBufferSize <= 0 {
		bad("WithPageBufferSize", "must be positive", "page buffer size %d", o.pageBufferSize)
	}
	if _, ok := codecOf(o.compression); !ok {
		bad("WithCompression", "want zstd, zstd-fast, snappy, gzip or none", "compression %q", o.compression)
	}
	if o.dictionaryMaxBytes < 0 {
		bad("WithDictionaryMaxBytes", "must not be negative", "dictionary max bytes %d", o.dictionaryMaxBytes)
	}
	if o.uploadConcurrency < 1 || o.uploadConcurrency > MaxUploadConcurrency {
		bad("WithUploadConcurrency", fmt.Sprintf("must be between 1 and %d", MaxUploadConcurrency), "upload concurrency %d", o.uploadConcurrency)
	}
	if o.maxOpenFiles < 1 {
		bad("WithMaxOpenFiles", "must be at least 1", "max open files %d", o.maxOpenFiles)
	}
	if o.minFileSize < 0 {
		bad("WithMinFileSize", "must not be negative", "min file size %d", o.minFileSize)
	}
	if o.writerMemory < 0 {
		bad("WithWriterMemory", "must not be negative", "writer memory %d", o.writerMemory)
	}
	if o.stageMemory <= 0 {
		bad("WithStageMemory", "must be positive", "stage memory %d", o.stageMemory)
	}
	if o.spoolFS == nil {
		bad("WithSpoolFS", "nil", "spool fs")
	}
	switch {
	case o.spoolDir == "":
		bad("WithSpoolDir", "empty", "spool dir")
	case o.spoolFS == nil: // reported above
	default:
		if fi, err := o.spoolFS.Stat(o.spoolDir); err != nil {
			errs = append(errs, &OptionError{Option: "WithSpoolDir", Problem: err.Error() + " (it must be an existing directory)",
				msg: "spool dir: " + err.Error(), err: err})
		} else if !fi.IsDir() {
			bad("WithSpoolDir", o.spoolDir+" is not a directory", "spool dir")
		}
	}
	if o.now == nil {
		bad("WithClock", "nil", "clock")
	}
	if o.logger == nil {
		bad("WithLogger", "nil", "logger")
	}
	if o.layout == nil {
		bad("WithLayout", "nil", "layout")
	}
	return errs
}
