package writer

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lakestream/lakestream/commitlog"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/parquetfile"
	"github.com/parquet-go/parquet-go"
)

// The Hudi meta columns. They must be the first five leaf columns of the
// schema: top-level, optional BYTE_ARRAY (strings).
const (
	ColCommitTime    = "_hoodie_commit_time"
	ColCommitSeqno   = "_hoodie_commit_seqno"
	ColRecordKey     = "_hoodie_record_key"
	ColPartitionPath = "_hoodie_partition_path"
	ColFileName      = "_hoodie_file_name"
)

// MetaColumns lists the meta columns in Hudi's order.
var MetaColumns = [5]string{ColCommitTime, ColCommitSeqno, ColRecordKey, ColPartitionPath, ColFileName}

// Footer key-value metadata keys Hudi reads for key range pruning.
const (
	MetaMinRecordKey = "hoodie_min_record_key"
	MetaMaxRecordKey = "hoodie_max_record_key"
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
	bucket objstore.Bucket
	schema *parquet.Schema
	worker int
	opts   options
	log    *slog.Logger

	// Schema facts for row validation.
	numColumns int
	kinds      []parquet.Kind
	maxDef     []int
	maxRep     []int
	metaIdx    [5]int // leaf column index of each meta column (Hudi order)
	partCols   []int  // leaf column index of each partition column (WithPartitionColumns)
	filled     []bool // by leaf column: a meta column Write fills (not the record key)

	state        state
	err          error // sticky local error
	instant      string
	checkpointID int64
	fileSeq      int // files opened since Begin (the <n> of the write token)
	tick         uint64

	open    map[string]*file
	last    *file    // the most recently written file (fast path)
	pending []*file  // closed, not uploaded yet, in roll order
	done    []File   // uploaded since Begin: only what the commit needs (a checkpoint of 100,000 buckets holds 100,000)
	undone  []string // keys to delete again on a retried Abort

	free    []encoder           // encoders of closed files, for reuse
	bufs    []*bufio.Writer     // spool buffers of closed files, for reuse
	shared  *parquetfile.Shared // what the parquetfile encoders share (nil: parquet-go)
	newEnc  func() (encoder, error)
	flatEnc bool // parquetfile's encoder (flat schemas)

	maxOpen  int   // MaxOpenFiles, lowered by WithWriterMemory
	stage    stage // rows of buckets without a file (see stage.go)
	draining bool  // Finish is writing the stage: openFile does not upload

	instantValue parquet.Value // commit time, levels set
	seqno        []byte        // <instant>_<worker>_ followed by the record index
	seqnoLen     int           // length of the prefix
	row          parquet.Row   // scratch copy of the row being written
	rows         []parquet.Row // len 1, wraps row for WriteRows
	evt          [1]int64      // the event time of a row Write stages

	// Scratch of WriteBatch.
	flat     bool              // no repeated column: value i of a row is column i
	cols     [][]parquet.Value // values of a run, by column
	colView  [][]parquet.Value // cols, nil for the columns an encoder makes
	seqArena []byte            // sequence numbers of a run
	seqEnds  []int             // end of each in seqArena
}

// NewSet returns an empty Set writing rows of schema to bucket for worker (a
// non-negative number that goes into the file names and sequence numbers).
// The schema's first five leaf columns must be the Hudi meta columns.
func NewSet(bucket objstore.Bucket, schema *parquet.Schema, worker int, opts ...Option) (*Set, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if err := o.validate(); err != nil {
		errs = append(errs, err)
	}
	if bucket == nil {
		errs = append(errs, errors.New("writer: nil bucket"))
	}
	if worker < 0 {
		errs = append(errs, fmt.Errorf("writer: worker %d: must not be negative", worker))
	}
	s := &Set{bucket: bucket, schema: schema, worker: worker, opts: o, log: o.logger,
		open: make(map[string]*file)}
	if schema == nil {
		errs = append(errs, errors.New("writer: nil schema"))
	} else if err := s.inspectSchema(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := s.chooseEncoder(); err != nil {
		return nil, err
	}
	s.rows = make([]parquet.Row, 1)
	s.cols = make([][]parquet.Value, s.numColumns)
	s.maxOpen = o.maxOpenFiles
	if o.writerMemory > 0 && !s.flatEnc {
		// parquet-go reserves a page buffer per required column of an open
		// writer, whatever it holds. parquetfile reserves nothing: its
		// memory is in BufferedBytes, which the memory budget bounds.
		required := 0
		for _, d := range s.maxDef {
			if d == 0 {
				required++
			}
		}
		perWriter := int64(o.pageBufferSize) * int64(max(required, 1))
		s.maxOpen = int(min(int64(o.maxOpenFiles), max(1, o.writerMemory/perWriter)))
	}
	return s, nil
}

// chooseEncoder picks the files' encoder: parquetfile's if it supports the
// schema (no lists or maps), else parquet-go's. Both write data page v1
// with PLAIN, RLE and dictionary encodings only (see writeSchema), byte
// arrays with a dictionary bounded by DictionaryMaxBytes then PLAIN, as
// parquet-mr writes them (parquet-go's default, DELTA_LENGTH_BYTE_ARRAY, is
// not read by Spark's vectorized reader before 3.3), no statistics in data
// page headers (doc.go), and a page index.
func (s *Set) chooseEncoder() error {
	o := s.opts
	schema := writeSchema(s.schema)
	if parquetfile.Supports(schema) == nil {
		shared := parquetfile.NewShared()
		s.shared = shared
		var codec parquetfile.Codec
		switch o.compression {
		case "zstd":
			codec = parquetfile.NewZstd(parquetfile.ZstdDefault)
		case "zstd-fast":
			codec = parquetfile.NewZstd(parquetfile.ZstdFastest)
		case "none":
		default:
			codec, _ = codecOf(o.compression)
		}
		opts := []parquetfile.Option{
			parquetfile.WithCodec(codec),
			parquetfile.WithPageBufferSize(o.pageBufferSize),
			parquetfile.WithDictionaryMaxBytes(o.dictionaryMaxBytes),
			// Byte arrays start with a dictionary, kept while it pays (see
			// parquetfile.Shared.judgeDictionary). Numbers are PLAIN: zstd
			// compresses ascending offsets and timestamps better that way
			// than their dictionary indexes (measured: 0.22 against 0.57
			// bytes an offset, 0.55 against 0.75 a timestamp), and faster.
			parquetfile.WithDictionary(parquet.ByteArray),
			parquetfile.WithCreatedBy(createdByString()),
			parquetfile.WithShared(shared),    // one goroutine uses the Set
			parquetfile.WithValidatedValues(), // checkRow checks every row first
		}
		if _, err := parquetfile.NewWriter(schema, opts...); err != nil {
			return fmt.Errorf("writer: parquet config: %w", err)
		}
		s.flatEnc = true
		s.newEnc = func() (encoder, error) {
			w, err := parquetfile.NewWriter(schema, opts...)
			return flatEncoder{w}, err
		}
		return nil
	}
	codec, _ := codecOf(o.compression)
	pwOpts := []parquet.WriterOption{
		schema,
		parquet.Compression(codec),
		parquet.PageBufferSize(o.pageBufferSize),
		parquet.WriteBufferSize(0),        // the spool file has its own buffer; see countingWriter
		parquet.DataPageVersion(1),        // what parquet-mr (Hudi's writer) writes; every reader has it
		parquet.DataPageStatistics(false), // the page index has them; see doc.go
		parquet.DictionaryMaxBytes(int64(o.dictionaryMaxBytes)),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary),
		// The page index's bounds whole: the BoundsRewriter truncates them
		// (and the chunk statistics) as parquetfile does; see goEncoder.
		parquet.ColumnIndexSizeLimit(func([]string) int { return 0 }),
		createdBy(createdByString()),
	}
	if _, err := parquet.NewWriterConfig(pwOpts...); err != nil {
		return fmt.Errorf("writer: parquet config: %w", err)
	}
	s.newEnc = func() (encoder, error) {
		b, err := parquetfile.NewBoundsRewriter(parquetfile.DefaultColumnIndexSizeLimit, parquetfile.DefaultStatisticsSizeLimit)
		if err != nil {
			return nil, err
		}
		return goEncoder{parquet.NewWriter(io.Discard, pwOpts...), b}, nil
	}
	return nil
}

// createdBy sets the footer's created_by verbatim.
type createdBy string

func (c createdBy) ConfigureWriter(config *parquet.WriterConfig) { config.CreatedBy = string(c) }

// createdByString is "lakestream version <v> (build <rev>)", the form
// parquet-mr parses: it ignores the statistics of byte array columns of
// files whose created_by it cannot parse.
func createdByString() string {
	version, build := "dev", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; strings.HasPrefix(v, "v") && !strings.ContainsAny(v, "() ") {
			version = strings.TrimPrefix(v, "v")
		}
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && kv.Value != "" {
				build = kv.Value
				if len(build) > 12 {
					build = build[:12]
				}
			}
		}
	}
	return "lakestream version " + version + " (build " + build + ")"
}

// inspectSchema checks the meta columns and records the leaf column facts
// used to validate rows.
func (s *Set) inspectSchema() error {
	cols := s.schema.Columns()
	s.numColumns = len(cols)
	if s.numColumns < len(MetaColumns) {
		return fmt.Errorf("writer: schema has %d leaf columns, want the %d Hudi meta columns first", s.numColumns, len(MetaColumns))
	}
	s.kinds = make([]parquet.Kind, s.numColumns)
	s.maxDef = make([]int, s.numColumns)
	s.maxRep = make([]int, s.numColumns)
	for _, path := range cols {
		leaf, ok := s.schema.Lookup(path...)
		if !ok {
			return fmt.Errorf("writer: schema column %s: lookup failed", strings.Join(path, "."))
		}
		s.kinds[leaf.ColumnIndex] = leaf.Node.Type().Kind()
		s.maxDef[leaf.ColumnIndex] = leaf.MaxDefinitionLevel
		s.maxRep[leaf.ColumnIndex] = leaf.MaxRepetitionLevel
	}
	s.flat = !slices.ContainsFunc(s.maxRep, func(r int) bool { return r > 0 })
	s.filled = make([]bool, s.numColumns)
	var errs []error
	for i, name := range MetaColumns {
		leaf, ok := s.schema.Lookup(name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("writer: schema has no top-level column %s", name))
			continue
		case leaf.ColumnIndex >= len(MetaColumns):
			errs = append(errs, fmt.Errorf("writer: meta column %s is leaf column %d, want one of the first %d", name, leaf.ColumnIndex, len(MetaColumns)))
		case leaf.Node.Type().Kind() != parquet.ByteArray || !leaf.Node.Optional() || leaf.MaxDefinitionLevel != 1 || leaf.MaxRepetitionLevel != 0:
			errs = append(errs, fmt.Errorf("writer: meta column %s must be an optional top-level string", name))
		}
		s.metaIdx[i] = leaf.ColumnIndex
		s.filled[leaf.ColumnIndex] = name != ColRecordKey
	}
	if len(s.opts.partitionColumns) > 0 && s.opts.partitionValues == nil {
		errs = append(errs, errors.New("writer: partition columns without a function for their values"))
	}
	for _, name := range s.opts.partitionColumns {
		leaf, ok := s.schema.Lookup(name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("writer: schema has no top-level partition column %s", name))
			continue
		case leaf.Node.Type().Kind() != parquet.ByteArray || !leaf.Node.Optional() || leaf.MaxDefinitionLevel != 1 || leaf.MaxRepetitionLevel != 0:
			errs = append(errs, fmt.Errorf("writer: partition column %s must be an optional top-level string", name))
		}
		s.partCols = append(s.partCols, leaf.ColumnIndex)
		s.filled[leaf.ColumnIndex] = true
	}
	for i, c := range s.partCols {
		if want := s.numColumns - len(s.partCols) + i; c != want {
			errs = append(errs, fmt.Errorf("writer: partition column %s is leaf column %d, want %d: the partition columns end the row, in order", s.opts.partitionColumns[i], c, want))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
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
	s.stage.rows = 0
	s.done = nil
	s.undone = nil
	s.instantValue = parquet.ByteArrayValue([]byte(instant)).Level(0, 1, s.metaIdx[0])
	s.seqno = fmt.Appendf(s.seqno[:0], "%s_%d_", instant, s.worker)
	s.seqnoLen = len(s.seqno)
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

// Write appends row to the open file of partition, opening one if needed
// (which rolls the least recently written file when MaxOpenFiles are open,
// or stages the row if that file is below the minimum size: see
// WithMinFileSize).
// row holds a value for every leaf column in column order (see
// parquet.Row); Write fills the commit time, sequence number, partition path
// and file name meta columns in its own copy, so row is neither modified nor
// retained. The record key must be set. eventTimeMicros feeds the file's
// event time range; pass NoEventTime if the record has none.
//
// Write returns nil if and only if the row was buffered. It may first upload
// files rolled earlier; an upload error is returned (the row is not written)
// and the files stay spooled for a later retry.
func (s *Set) Write(ctx context.Context, partition string, row parquet.Row, eventTimeMicros int64) error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.checkRow(row); err != nil {
		return err
	}
	if len(s.pending) > 0 {
		if err := s.uploadPending(ctx); err != nil {
			return err
		}
	}
	if s.shouldStage(partition) {
		s.rows[0], s.evt[0] = row, eventTimeMicros
		err := s.stageRows(partition, s.rows, s.evt[:])
		s.rows[0] = nil
		return err
	}
	f, err := s.fileFor(ctx, partition)
	if err != nil {
		return err
	}

	s.row = append(s.row[:0], row...)
	s.seqno = strconv.AppendInt(s.seqno[:s.seqnoLen], f.records, 10)
	s.row[s.metaIdx[0]] = s.instantValue
	s.row[s.metaIdx[1]] = parquet.ByteArrayValue(s.seqno).Level(0, 1, s.metaIdx[1])
	s.row[s.metaIdx[3]] = f.partitionValue
	s.row[s.metaIdx[4]] = f.nameValue
	for i, v := range f.partValues {
		s.row[len(s.row)-len(f.partValues)+i] = v // the last columns, a value each
	}
	s.rows[0] = s.row
	if err := f.enc.writeRows(s.rows); err != nil {
		return s.fail(fmt.Errorf("writer: write to %s: %w", f.key, err))
	}
	f.observe(s.row[s.metaIdx[2]].ByteArray(), eventTimeMicros)
	s.tick++
	f.lastWrite = s.tick
	return s.afterWrite(f)
}

// checkRow validates the shape of a row against the schema before anything
// is written: the parquet writer trusts its input, and a bad row would
// corrupt (or panic) the file and lose every row buffered in it.
func (s *Set) checkRow(row parquet.Row) error {
	if s.flat && len(row) == s.numColumns && s.flatRowOK(row) {
		return nil
	}
	return s.checkAnyRow(row)
}

// flatRowOK is checkRow's fast path for a flat schema's row of one value
// per column: it reports whether the row is valid; checkAnyRow says why
// one is not.
func (s *Set) flatRowOK(row parquet.Row) bool {
	for c := range row {
		v := &row[c]
		switch {
		case v.Column() != c:
			return false
		case s.filled[c]:
		case v.IsNull():
			if v.DefinitionLevel() >= s.maxDef[c] {
				return false
			}
		case v.DefinitionLevel() != s.maxDef[c] || v.Kind() != s.kinds[c]:
			return false
		}
	}
	return !row[s.metaIdx[2]].IsNull()
}

// checkAnyRow is checkRow for every schema.
func (s *Set) checkAnyRow(row parquet.Row) error {
	if len(row) < s.numColumns {
		return fmt.Errorf("writer: row has %d values for %d columns", len(row), s.numColumns)
	}
	col := -1
	for i := range row {
		v := &row[i]
		c := v.Column()
		if c != col {
			if c != col+1 || c >= s.numColumns {
				return fmt.Errorf("writer: row value %d is of column %d after column %d: want every column of %d, in order", i, c, col, s.numColumns)
			}
			col = c
		} else if s.maxRep[c] == 0 {
			return fmt.Errorf("writer: row has several values for non-repeated column %d", c)
		}
		if c < len(MetaColumns) && c != s.metaIdx[2] {
			continue // filled by Write
		}
		def := v.DefinitionLevel()
		if v.IsNull() {
			if def >= s.maxDef[c] {
				return fmt.Errorf("writer: row has a null for column %d at definition level %d (max %d): column is required", c, def, s.maxDef[c])
			}
		} else {
			if def != s.maxDef[c] {
				return fmt.Errorf("writer: row value for column %d has definition level %d, want %d", c, def, s.maxDef[c])
			}
			if v.Kind() != s.kinds[c] {
				return fmt.Errorf("writer: row value for column %d is %s, want %s", c, v.Kind(), s.kinds[c])
			}
		}
	}
	if col != s.numColumns-1 {
		return fmt.Errorf("writer: row ends at column %d, want %d columns", col, s.numColumns)
	}
	if row[s.metaIdx[2]].IsNull() {
		return fmt.Errorf("writer: row has no record key (%s)", ColRecordKey)
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

// openFile starts a new file for partition, first rolling the least recently
// written file if MaxOpenFiles are open.
func (s *Set) openFile(ctx context.Context, partition string) (*file, error) {
	if err := ValidatePartition(partition); err != nil {
		return nil, err
	}
	if len(s.open) >= s.maxOpen {
		if err := s.closeFile(s.lru(), "open-file bound"); err != nil {
			return nil, err
		}
		if !s.draining {
			if err := s.uploadPending(ctx); err != nil {
				return nil, err
			}
		}
	}
	fileID := commitlog.NewFileID()
	name := commitlog.BaseFileName(fileID, commitlog.WriteToken(s.worker, s.checkpointID, s.fileSeq), s.instant)
	if _, _, _, ok := commitlog.ParseBaseFileName(name); !ok {
		return nil, fmt.Errorf("writer: base file name %q is not valid", name) // unreachable
	}
	sf, err := os.CreateTemp(s.opts.spoolDir, SpoolPrefix+"*.parquet")
	if err != nil {
		return nil, fmt.Errorf("writer: create spool file: %w", err)
	}
	s.fileSeq++
	f := &file{
		partition:      partition,
		fileID:         fileID,
		name:           name,
		key:            commitlog.BaseFilePath(partition, name),
		spoolPath:      sf.Name(),
		spool:          sf,
		openedAt:       s.opts.now().UnixNano(),
		partitionValue: parquet.ByteArrayValue([]byte(partition)).Level(0, 1, s.metaIdx[3]),
		nameValue:      parquet.ByteArrayValue([]byte(name)).Level(0, 1, s.metaIdx[4]),
	}
	if len(s.partCols) > 0 {
		values, err := s.opts.partitionValues(partition)
		if err == nil && len(values) != len(s.partCols) {
			err = fmt.Errorf("%d values for %d partition columns", len(values), len(s.partCols))
		}
		if err != nil {
			_ = f.discard()
			return nil, fmt.Errorf("writer: partition %s: %w", partition, err)
		}
		for i, v := range values {
			pv := parquet.Value{}.Level(0, 0, s.partCols[i])
			if v != nil {
				pv = parquet.ByteArrayValue(v).Level(0, 1, s.partCols[i])
			}
			f.partValues = append(f.partValues, pv)
		}
	}
	// A spool buffer is 256 KiB: a checkpoint that writes one small file
	// for each of 100,000 buckets allocated 25 GB of them.
	if n := len(s.bufs); n > 0 {
		f.buf = s.bufs[n-1]
		s.bufs = s.bufs[:n-1]
		f.buf.Reset(sf)
	} else {
		f.buf = bufio.NewWriterSize(sf, spoolBufferSize)
	}
	f.count.w = f.buf
	if n := len(s.free); n > 0 {
		f.enc = s.free[n-1]
		s.free = s.free[:n-1]
	} else if f.enc, err = s.newEnc(); err != nil {
		_ = f.discard()
		return nil, fmt.Errorf("writer: new encoder: %w", err)
	}
	f.enc.reset(&f.count)
	if f.generated, err = f.enc.generate(s.metaIdx, s.instantValue, f.partitionValue, f.nameValue, s.seqno[:s.seqnoLen], s.partCols, f.partValues); err != nil {
		_ = f.discard()
		return nil, fmt.Errorf("writer: %s: %w", f.key, err)
	}
	s.open[partition] = f
	s.log.Debug("file opened", "key", f.key, "spool", f.spoolPath)
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

// closeFile finishes f's Parquet file in its spool file and moves it to the
// pending uploads. A failure is sticky: the file's rows are lost.
func (s *Set) closeFile(f *file, reason string) error {
	delete(s.open, f.partition)
	if s.last == f {
		s.last = nil
	}
	enc := f.enc
	enc.setKeyValue(MetaMinRecordKey, string(f.minKey))
	enc.setKeyValue(MetaMaxRecordKey, string(f.maxKey))
	err := enc.close()
	if err == nil {
		err = f.buf.Flush()
	}
	if err == nil {
		err = f.spool.Sync() // surface write-back errors before uploading what the page cache holds
	}
	var info os.FileInfo
	if err == nil {
		info, err = f.spool.Stat()
	}
	if err == nil && info.Size() != f.count.n {
		err = fmt.Errorf("spool file is %d bytes, wrote %d", info.Size(), f.count.n)
	}
	if err != nil {
		_ = f.discard()
		return s.fail(fmt.Errorf("writer: close %s (spool %s): %w", f.key, f.spoolPath, err))
	}
	f.size = info.Size()
	f.enc = nil
	if len(s.bufs) < s.maxOpen {
		f.buf.Reset(nil)
		s.bufs = append(s.bufs, f.buf)
	}
	f.buf = nil
	f.count.w = nil // the spool buffer (256 KiB) must not live as long as f
	if len(s.free) < s.maxOpen {
		s.free = append(s.free, enc)
	}
	s.pending = append(s.pending, f)
	s.log.Debug("file rolled", "key", f.key, "reason", reason, "records", f.records, "bytes", f.size)
	return nil
}

// uploadPending uploads the pending files in roll order, up to the upload
// concurrency at once. After an error the files whose upload failed, and
// those not tried yet, stay pending in their order; the first error (in
// roll order) is returned.
func (s *Set) uploadPending(ctx context.Context) error {
	for len(s.pending) > 0 {
		batch := s.pending[:min(len(s.pending), s.opts.uploadConcurrency)]
		errs := make([]error, len(batch))
		if len(batch) == 1 {
			errs[0] = s.upload(ctx, batch[0])
		} else {
			var wg sync.WaitGroup
			for i, f := range batch {
				wg.Go(func() { errs[i] = s.upload(ctx, f) })
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
				s.log.Warn("remove spool file", "path", f.spoolPath, "error", err)
			}
			s.done = append(s.done, f.info())
		}
		rest := s.pending[len(batch):]
		if first != nil {
			s.pending = append(failed, rest...)
			return first
		}
		clear(batch)
		s.pending = rest
	}
	s.pending = nil
	return nil
}

// upload runs the before-upload hook and uploads f. It may run on several
// goroutines at once: it only reads the Set.
func (s *Set) upload(ctx context.Context, f *file) error {
	if s.opts.beforeUpload != nil {
		if err := s.opts.beforeUpload(f.key); err != nil {
			s.log.Warn("before-upload hook failed; the file stays spooled for a retry", "key", f.key, "error", err)
			return fmt.Errorf("writer: before upload of %s: %w", f.key, err)
		}
	}
	start := time.Now()
	if err := s.bucket.Put(ctx, f.key, io.NewSectionReader(f.spool, 0, f.size)); err != nil {
		s.log.Warn("upload failed; the file stays spooled for a retry", "key", f.key, "error", err)
		return fmt.Errorf("writer: upload %s: %w", f.key, err)
	}
	s.log.Debug("file uploaded", "key", f.key, "bytes", f.size, "took", time.Since(start))
	return nil
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
	if err := s.uploadPending(ctx); err != nil {
		return nil, err
	}
	s.state = stateFinished
	files := slices.Clip(s.done) // appending to it copies
	return files, nil
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
	s.resetStage()
	s.stage.rows = 0
	// The encoders of dropped files are not reused: reset would do, but
	// one that failed may be in any state.
	toDelete := s.undone
	for _, f := range s.done {
		toDelete = append(toDelete, f.Path)
	}
	for _, f := range s.pending {
		if err := f.discard(); err != nil {
			errs = append(errs, err)
		}
		toDelete = append(toDelete, f.key)
	}
	s.pending, s.done, s.undone = nil, nil, nil
	for _, key := range toDelete {
		if err := s.bucket.Delete(ctx, key); err != nil {
			s.undone = append(s.undone, key)
			errs = append(errs, fmt.Errorf("writer: abort: delete %s: %w", key, err))
		}
	}
	s.err = nil
	if len(s.undone) > 0 {
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
	return s.uploadPending(ctx)
}

// OpenFiles returns the number of open files.
func (s *Set) OpenFiles() int { return len(s.open) }

// MaxOpenFiles returns the most files the Set keeps open: MaxOpenFiles, or
// fewer under WithWriterMemory.
func (s *Set) MaxOpenFiles() int { return s.maxOpen }

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
	if s.shared != nil && len(s.open) > 0 {
		n += s.shared.MemoryBytes() // a cache across files: counted while files use it
	}
	return n + s.stage.mem
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
	if s.shared != nil && len(s.open) > 0 && s.shared.MemoryBytes() > most {
		s.shared.Release()
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
	for _, f := range s.pending {
		if err := f.discard(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.closeSpill(); err != nil {
		errs = append(errs, err)
	}
	s.stage = stage{}
	s.open, s.last, s.pending, s.done, s.undone, s.free, s.bufs = nil, nil, nil, nil, nil, nil, nil
	s.state = stateClosed
	if len(errs) > 0 {
		return fmt.Errorf("writer: close: %w", errors.Join(errs...))
	}
	return nil
}
