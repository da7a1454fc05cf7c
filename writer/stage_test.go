package writer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/parquet-go/parquet-go"
)

// manyParts spreads record i over 40 buckets, round-robin: with 2 open
// files, every row but the first two buckets' would roll a file without
// the stage.
func manyParts(i int) string { return fmt.Sprintf("dt=2026-11-01/hr=%02d", i%40) }

// TestStageMakesOneFilePerBucket: 40 buckets, 2 open files. Without a
// minimum file size the open-file bound rolls a file at nearly every row;
// with it, the buckets that find no file are staged and written at Finish,
// one file per bucket, and every row is there once with its values.
func TestStageMakesOneFilePerBucket(t *testing.T) {
	ctx := context.Background()
	const n = 2000
	for _, tc := range []struct {
		name     string
		opts     []Option
		maxFiles int
	}{
		{"staged", []Option{WithMinFileSize(1 << 20)}, 40},
		{"staged-spilled", []Option{WithMinFileSize(1 << 20), WithStageMemory(4 << 10)}, 40},
		{"no-minimum", []Option{WithMinFileSize(0)}, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := objstore.NewMemory()
			spool := t.TempDir()
			s := newTestSet(t, b, append([]Option{WithSpoolDir(spool), WithMaxOpenFiles(2)}, tc.opts...)...)
			if err := s.Begin(testInstant, 1); err != nil {
				t.Fatal(err)
			}
			writeAll(t, s, n, 100, manyParts)
			buckets, rows := s.StagedBuckets()
			files, err := s.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checkAllRows(t, b, files, n, manyParts)
			if tc.maxFiles == 40 {
				if len(files) != 40 || buckets != 38 || rows != n-2*n/40 {
					t.Errorf("%d files, %d buckets and %d rows staged; want 40 files, 38 buckets and %d rows", len(files), buckets, rows, n-2*n/40)
				}
			} else if len(files) < n/2 {
				t.Errorf("%d files without a minimum size; want one per bucket switch (about %d): has the stage been used?", len(files), n)
			}
			got := readByBucket(t, b, files)
			for i := range n {
				want := testRec(i)
				recs := got[manyParts(i)]
				if !slices.ContainsFunc(recs, func(r rec) bool {
					r.commitTime, r.seqno, r.partitionPath = "", "", ""
					return recEqual(r, want)
				}) {
					t.Fatalf("record %d not found with its values in %s", i, manyParts(i))
				}
			}
			if b, _ := s.StagedBuckets(); b != 0 {
				t.Errorf("%d buckets still staged after Finish", b)
			}
			// The spill file, if any, is kept (truncated) for the next
			// checkpoint and removed by Close.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if left := spoolFiles(t, spool); len(left) != 0 {
				t.Errorf("spool files left after Close: %v", left)
			}
		})
	}
}

// TestStagedBucketStaysStagedWhenAFileFrees: a bucket staged while the
// files are all taken stays staged when a file slot frees, and ends in one
// file with every row in the order written (found in review: the newer
// rows went into a new file first, the staged ones after them).
func TestStagedBucketStaysStagedWhenAFileFrees(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	clock := &fakeClock{}
	s := newTestSet(t, b, WithMaxOpenFiles(1), WithMinFileSize(1<<20), WithClock(clock.now))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	part := func(i int) string {
		if i%2 == 0 {
			return "p=a"
		}
		return "p=b"
	}
	writeAll(t, s, 100, 10, part) // a has the file, b is staged
	if buckets, rows := s.StagedBuckets(); buckets != 1 || rows != 50 {
		t.Fatalf("staged %d buckets, %d rows; want 1 and 50", buckets, rows)
	}
	clock.advance(DefaultMaxFileAge)
	if err := s.RollIdle(ctx); err != nil { // a's file rolls for its age
		t.Fatal(err)
	}
	for lo := 100; lo < 200; lo += 10 {
		parts, rows, times := batchOf(lo, lo+10, func(int) string { return "p=b" })
		if _, err := s.WriteBatch(ctx, parts, rows, times); err != nil {
			t.Fatal(err)
		}
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkAllRows(t, b, files, 200, func(i int) string {
		if i < 100 {
			return part(i)
		}
		return "p=b"
	})
	var bFiles int
	for _, f := range files {
		if f.PartitionPath == "p=b" {
			bFiles++
			_, recs := readFile(t, b, f.Path)
			inOrder := slices.IsSortedFunc(recs, func(x, y rec) int { return strings.Compare(x.key, y.key) })
			if len(recs) != 150 || !inOrder {
				t.Errorf("b's file has %d records, in write order %v; want 150, true", len(recs), inOrder)
			}
		}
	}
	if bFiles != 1 {
		t.Errorf("b has %d files, want 1", bFiles)
	}
}

// TestStageCountsInTheBudget: staged rows count in BufferedBytes, and
// FlushLargest spills them when they are the largest buffer.
func TestStageCountsInTheBudget(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	s := newTestSet(t, b, WithMaxOpenFiles(1), WithMinFileSize(1<<20))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, 400, 50, manyParts)
	if s.stage.mem == 0 || s.BufferedBytes() < s.stage.mem {
		t.Fatalf("stage holds %d bytes, BufferedBytes %d", s.stage.mem, s.BufferedBytes())
	}
	before := s.BufferedBytes()
	if err := s.FlushLargest(ctx); err != nil {
		t.Fatal(err)
	}
	if s.stage.mem != 0 || s.stage.spillSize == 0 || s.BufferedBytes() >= before {
		t.Errorf("after FlushLargest: stage memory %d, spilled %d, buffered %d (was %d)", s.stage.mem, s.stage.spillSize, s.BufferedBytes(), before)
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkAllRows(t, b, files, 400, manyParts)
}

// TestStageDrainResumesAfterUploadError: an upload failing while Finish
// writes the staged buckets is returned; the retried Finish goes on from
// the first bucket not written: every row once.
func TestStageDrainResumesAfterUploadError(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	errDown := errors.New("store down")
	uploads, failAt := 0, 5
	// One upload at a time: the failures land between buckets of the drain
	// (TestConcurrentUploadsFailPartway has them within a batch).
	s := newTestSet(t, b, WithMaxOpenFiles(2), WithMinFileSize(1<<20), WithStageMemory(2<<10), WithUploadConcurrency(1),
		WithBeforeUpload(func(string) error {
			uploads++
			if uploads == failAt || uploads == failAt+1 {
				return errDown
			}
			return nil
		}))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, 1000, 64, manyParts)
	if _, err := s.Finish(ctx); !errors.Is(err, errDown) {
		t.Fatalf("Finish = %v, want the upload error", err)
	}
	if _, err := s.Finish(ctx); !errors.Is(err, errDown) {
		t.Fatalf("second Finish = %v, want the upload error again", err)
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkAllRows(t, b, files, 1000, manyParts)
	if len(files) != 40 {
		t.Errorf("%d files, want 40", len(files))
	}
}

// TestStageAbortDropsStagedRows: Abort forgets the stage; the next
// checkpoint starts empty.
func TestStageAbortDropsStagedRows(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	s := newTestSet(t, b, WithMaxOpenFiles(1), WithMinFileSize(1<<20), WithStageMemory(1<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, 300, 30, manyParts)
	if err := s.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if buckets, rows := s.StagedBuckets(); buckets != 0 || rows != 0 || s.BufferedBytes() != 0 {
		t.Fatalf("after Abort: %d buckets, %d rows staged, %d bytes buffered", buckets, rows, s.BufferedBytes())
	}
	if err := s.Begin("20261101120500123", 2); err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, 100, 30, manyParts)
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkAllRows(t, b, files, 100, manyParts)
}

// TestStagedRowRoundTrip: every kind of value, nulls and levels survive
// the stage encoding.
func TestStagedRowRoundTrip(t *testing.T) {
	row := parquet.Row{
		parquet.NullValue().Level(0, 0, 0),
		parquet.BooleanValue(true).Level(0, 1, 1),
		parquet.Int32Value(-7).Level(0, 0, 2),
		parquet.Int64Value(1<<40).Level(1, 2, 3),
		parquet.FloatValue(1.5).Level(0, 0, 4),
		parquet.DoubleValue(-2.25).Level(0, 0, 5),
		parquet.ByteArrayValue([]byte("héllo")).Level(0, 1, 6),
		parquet.ByteArrayValue([]byte{}).Level(0, 1, 6),
		parquet.FixedLenByteArrayValue([]byte{1, 2, 3, 4}).Level(0, 0, 7),
		parquet.Int96Value([3]uint32{1, 2, 3}).Level(0, 0, 8),
	}
	enc := appendStagedRow(nil, row, -42)
	enc = appendStagedRow(enc, row[:1], NoEventTime)
	vals, evt, rest, err := decodeStagedRow(nil, enc)
	if err != nil || evt != -42 || !parquet.Row(vals).Equal(row) {
		t.Fatalf("decoded %v, %d, %v; want %v, -42", vals, evt, err, row)
	}
	for i := range vals {
		if vals[i].Kind() != row[i].Kind() || vals[i].RepetitionLevel() != row[i].RepetitionLevel() || vals[i].DefinitionLevel() != row[i].DefinitionLevel() || vals[i].Column() != row[i].Column() {
			t.Errorf("value %d decoded as %v, want %v", i, vals[i], row[i])
		}
	}
	vals, evt, rest, err = decodeStagedRow(nil, rest)
	if err != nil || evt != NoEventTime || len(vals) != 1 || len(rest) != 0 {
		t.Fatalf("second row: %v, %d, %v, %d bytes left", vals, evt, err, len(rest))
	}
}

// FuzzStagedRow: the stage decoder never panics on any input, and what it
// decodes re-encodes to the bytes it consumed.
func FuzzStagedRow(f *testing.F) {
	f.Add(appendStagedRow(nil, makeRow(testRec(3)), 12345))
	f.Add(appendStagedRow(nil, parquet.Row{parquet.Int96Value([3]uint32{1, 2, 3}).Level(0, 0, 0)}, NoEventTime))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, evt, rest, err := decodeStagedRow(nil, data)
		if err != nil {
			if !errors.Is(err, errStagedRow) {
				t.Fatalf("error %v is not errStagedRow", err)
			}
			return
		}
		consumed := data[:len(data)-len(rest)]
		again := appendStagedRow(nil, vals, evt)
		// Varints may be encoded non-minimally in the input, and NaN is
		// not equal to itself: compare canonical encodings.
		vals2, evt2, rest2, err := decodeStagedRow(nil, again)
		if err != nil || len(rest2) != 0 || !bytes.Equal(appendStagedRow(nil, vals2, evt2), again) {
			t.Fatalf("%x decoded to %v, re-encoded to %x which decodes to %v, %v", consumed, vals, again, vals2, err)
		}
	})
}

// TestStageDrainErrorInsideABucketSticks: a local error after part of a
// staged bucket is in a file (here the spool file of its second file cannot
// be created) must stick, so the checkpoint is aborted and replayed rather
// than the bucket written again by a retried Finish (found in review: a
// retry wrote 480 rows twice).
func TestStageDrainErrorInsideABucketSticks(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	disk := &faultyDisk{}
	s := newTestSet(t, b, disk.option(), WithMaxOpenFiles(1), WithMinFileSize(1<<30), WithUploadConcurrency(1),
		WithTargetFileSize(16<<10), WithPageBufferSize(2<<10), WithRowGroupBytes(8<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	writeRec(t, s, "p=a", 0)
	writeRec(t, s, "p=c", 1) // staged, drained first
	for i := 2; i <= 3000; i++ {
		writeRec(t, s, "p=b", i) // staged: more than one target file's worth
	}
	// Finish writes a's file (open), c's, then b's first: creating b's
	// second fails.
	disk.setFail(func(op errorfs.Op, created []string) bool {
		parquet := 0
		for _, p := range created {
			if strings.HasSuffix(p, ".parquet") {
				parquet++
			}
		}
		return op.Kind == errorfs.OpCreate && strings.HasSuffix(op.Path, ".parquet") && parquet == 3
	})
	_, err := s.Finish(ctx)
	if !errors.Is(err, errorfs.ErrInjected) || s.Failed() == nil || disk.failures() != 1 {
		t.Fatalf("Finish = %v, Failed() = %v, %d creates failed; want a sticky error creating b's second file", err, s.Failed(), disk.failures())
	}
	if _, again := s.Finish(ctx); again == nil {
		t.Fatal("a retried Finish succeeded after a sticky error")
	}
}

// TestFlushLargestAfterDrainUploadError: after Finish stopped on an upload
// error with buckets drained and others not, FlushLargest spills only the
// others (found in review: it walked the drained, nil, entries and
// panicked), and the retried Finish writes every row once.
func TestFlushLargestAfterDrainUploadError(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	errDown := errors.New("store down")
	failing := false
	s := newTestSet(t, b, WithMaxOpenFiles(1), WithMinFileSize(1<<30), WithUploadConcurrency(1),
		WithBeforeUpload(func(string) error {
			if failing {
				return errDown
			}
			return nil
		}))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	parts := []string{"p=x", "p=a", "p=b"}
	for i, p := range parts {
		writeRec(t, s, p, i) // a and b staged
	}
	failing = true
	if _, err := s.Finish(ctx); !errors.Is(err, errDown) {
		t.Fatalf("Finish = %v, want the upload error", err)
	}
	if s.stage.next == 0 || s.stage.mem == 0 {
		t.Fatalf("stage after the failed Finish: next %d, mem %d; want a bucket drained and one in memory", s.stage.next, s.stage.mem)
	}
	if err := s.FlushLargest(ctx); err != nil {
		t.Fatal(err)
	}
	failing = false
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkAllRows(t, b, files, len(parts), func(i int) string { return parts[i] })
}

// TestConcurrentUploadsFailPartway: Finish uploads the files of 40 staged
// buckets 8 at a time; some uploads of a batch fail while the others land.
// The failed files stay spooled and are retried by the next Finish, the
// hook runs before every upload, and every row is in the table once.
func TestConcurrentUploadsFailPartway(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMemory()
	b := objstore.NewFaulty(mem)
	spool := t.TempDir()
	var mu sync.Mutex
	hooked := map[string]bool{}
	rec := &putRecorder{Store: b}
	s := newTestSet(t, rec, WithSpoolDir(spool), WithMaxOpenFiles(2), WithMinFileSize(1<<20), WithStageMemory(2<<10),
		WithBeforeUpload(func(key string) error {
			mu.Lock()
			hooked[key] = true
			mu.Unlock()
			return nil
		}))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, 1000, 64, manyParts)
	// Every third Put fails: several in each batch of 8.
	var calls int
	b.SetMatcher(func(op objstore.Op, key string) objstore.Injection {
		if op != objstore.OpPut {
			return objstore.InjectNone
		}
		mu.Lock()
		defer mu.Unlock()
		if !hooked[key] {
			t.Errorf("upload of %s before its hook", key)
		}
		calls++
		if calls%3 == 0 {
			return objstore.InjectBefore
		}
		return objstore.InjectNone
	})
	var err error
	for range 3 {
		if _, err = s.Finish(ctx); err == nil {
			t.Fatal("Finish succeeded with every third upload failing")
		}
		if !errors.Is(err, objstore.ErrInjected) {
			t.Fatalf("Finish = %v, want the injected upload error", err)
		}
		if left := spooledParquet(t, spool); len(left) == 0 {
			t.Fatal("no file kept spooled after failed uploads")
		}
	}
	b.SetMatcher(nil)
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 40 {
		t.Errorf("%d files, want 40", len(files))
	}
	if left := spooledParquet(t, spool); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
	puts := rec.keys()
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	slices.Sort(puts)
	slices.Sort(paths)
	if !slices.Equal(puts, paths) {
		t.Errorf("files returned\n%v\nsuccessful puts\n%v", paths, puts)
	}
	checkAllRows(t, mem, files, 1000, manyParts)
}

// spooledParquet lists the spooled Parquet files (not the stage's spill).
func spooledParquet(t *testing.T, dir string) []string {
	var out []string
	for _, f := range spoolFiles(t, dir) {
		if strings.HasSuffix(f, ".parquet") {
			out = append(out, f)
		}
	}
	return out
}
