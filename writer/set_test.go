package writer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

const testInstant = "20261101120000123"

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	spool := t.TempDir()
	s := newTestSet(t, b, WithSpoolDir(spool))
	if err := s.Begin(testInstant, 42); err != nil {
		t.Fatal(err)
	}
	parts := []string{"dt=2026-11-01/hour=10", "dt=2026-11-01/hour=11", "dt=2026-11-02/hour=00"}
	const n = 900
	want := map[string]map[string]rec{} // bucket -> key -> rec
	for i := range n {
		p := parts[(i*7)%len(parts)]
		r := testRec(i)
		row := makeRow(r)
		before := row.Clone()
		if err := s.Write(ctx, p, row, r.eventTime); err != nil {
			t.Fatal(err)
		}
		if !row.Equal(before) {
			t.Fatalf("Write modified the caller's row")
		}
		if want[p] == nil {
			want[p] = map[string]rec{}
		}
		want[p][r.key] = r
	}
	if got := s.OpenFiles(); got != 3 {
		t.Errorf("OpenFiles = %d, want 3", got)
	}
	if s.BufferedBytes() <= 0 {
		t.Errorf("BufferedBytes = %d with 3 open files", s.BufferedBytes())
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || s.OpenFiles() != 0 || s.BufferedBytes() != 0 {
		t.Fatalf("Finish: %d files, %d open, %d buffered; want 3, 0, 0", len(files), s.OpenFiles(), s.BufferedBytes())
	}
	if left := spoolFiles(t, spool); len(left) != 0 {
		t.Errorf("spool files left after Finish: %v", left)
	}
	seqRE := regexp.MustCompile(`^` + testInstant + `_7_([0-9]+)$`)
	total := 0
	for fi, f := range files {
		name := path.Base(f.Path)
		if f.Path != hudi.BaseFilePath(f.PartitionPath, name) {
			t.Errorf("path %s is not under bucket %s", f.Path, f.PartitionPath)
		}
		fileID, token, ts, ok := hudi.ParseBaseFileName(name)
		if !ok || fileID != f.FileID || ts != testInstant || token != fmt.Sprintf("7-42-%d", fi) {
			t.Errorf("file name %s: id %q token %q instant %q ok %v", name, fileID, token, ts, ok)
		}
		info, err := b.Stat(ctx, f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != f.SizeBytes {
			t.Errorf("%s: object is %d bytes, File says %d", f.Path, info.Size, f.SizeBytes)
		}
		pf, recs := readFile(t, b, f.Path)
		if int64(len(recs)) != f.Records || pf.NumRows() != f.Records {
			t.Errorf("%s: %d rows (footer %d), File says %d", f.Path, len(recs), pf.NumRows(), f.Records)
		}
		wantRecs := want[f.PartitionPath]
		if len(recs) != len(wantRecs) {
			t.Errorf("%s: %d rows, wrote %d to %s", f.Path, len(recs), len(wantRecs), f.PartitionPath)
		}
		seqnos := map[string]bool{}
		minET, maxET := int64(1<<62), int64(-1<<62)
		minKey, maxKey := "", ""
		for i, r := range recs {
			w, ok := wantRecs[r.key]
			if !ok {
				t.Fatalf("%s: unexpected key %s", f.Path, r.key)
			}
			if r.commitTime != testInstant {
				t.Errorf("commit time %q", r.commitTime)
			}
			m := seqRE.FindStringSubmatch(r.seqno)
			if m == nil || m[1] != fmt.Sprint(i) {
				t.Errorf("row %d: seqno %q, want %s_7_%d", i, r.seqno, testInstant, i)
			}
			if seqnos[r.seqno] {
				t.Errorf("seqno %s repeated", r.seqno)
			}
			seqnos[r.seqno] = true
			if r.partitionPath != f.PartitionPath {
				t.Errorf("partition path %q in file of %q", r.partitionPath, f.PartitionPath)
			}
			if r.fileName != name {
				t.Errorf("file name %q in file %q", r.fileName, name)
			}
			if r.userID != w.userID || r.session != w.session || r.url != w.url || r.eventTime != w.eventTime ||
				(r.referrer == nil) != (w.referrer == nil) || (r.referrer != nil && *r.referrer != *w.referrer) {
				t.Errorf("row %s: got %+v, want %+v", r.key, r, w)
			}
			minET, maxET = min(minET, w.eventTime), max(maxET, w.eventTime)
			if minKey == "" || r.key < minKey {
				minKey = r.key
			}
			maxKey = max(maxKey, r.key)
		}
		total += len(recs)
		if !f.HasEventTime || f.MinEventTime != minET || f.MaxEventTime != maxET {
			t.Errorf("%s: event times [%d, %d] (has %v), want [%d, %d]", f.Path, f.MinEventTime, f.MaxEventTime, f.HasEventTime, minET, maxET)
		}
		st := f.Stat()
		if st.Path != f.Path || st.NumRecords != f.Records || st.MinEventTime == nil || *st.MinEventTime != minET ||
			st.MaxEventTime == nil || *st.MaxEventTime != maxET || st.PrevCommit != "" {
			t.Errorf("Stat() = %+v", st)
		}

		// Footer: created_by, field IDs, key range, codec, statistics.
		md := pf.Metadata()
		if !strings.HasPrefix(md.CreatedBy, "lakestream version ") || !strings.Contains(md.CreatedBy, "(build ") {
			t.Errorf("created_by %q", md.CreatedBy)
		}
		wantIDs := map[string]int32{hudimeta.ColCommitTime: 1, hudimeta.ColCommitSeqNo: 2, hudimeta.ColRecordKey: 3, hudimeta.ColPartitionPath: 4, hudimeta.ColFileName: 5,
			"userId": 6, "sessionNumber": 7, "url": 8, "referrer": 9, "eventTime": 10}
		var order []string
		for _, el := range md.Schema[1:] {
			order = append(order, el.Name)
			if el.FieldID != wantIDs[el.Name] {
				t.Errorf("schema element %s: field_id %d, want %d", el.Name, el.FieldID, wantIDs[el.Name])
			}
		}
		if got := strings.Join(order[:5], ","); got != strings.Join(hudimeta.Columns[:], ",") {
			t.Errorf("column order %s", got)
		}
		if v, _ := footerValue(md, hudimeta.MinRecordKey); v != minKey {
			t.Errorf("%s = %q, want %q", hudimeta.MinRecordKey, v, minKey)
		}
		if v, _ := footerValue(md, hudimeta.MaxRecordKey); v != maxKey {
			t.Errorf("%s = %q, want %q", hudimeta.MaxRecordKey, v, maxKey)
		}
		for _, rg := range md.RowGroups {
			for _, cc := range rg.Columns {
				if cc.MetaData.Codec != format.Zstd {
					t.Errorf("column %v: codec %v", cc.MetaData.PathInSchema, cc.MetaData.Codec)
				}
				col := strings.Join(cc.MetaData.PathInSchema, ".")
				for _, enc := range cc.MetaData.Encoding {
					switch enc {
					case format.Plain, format.RLE, format.RLEDictionary:
					default:
						t.Errorf("column %s: encoding %v (want only PLAIN, RLE, RLE_DICTIONARY)", col, enc)
					}
				}
				dict := slices.Contains(cc.MetaData.Encoding, format.RLEDictionary)
				switch col {
				case hudimeta.ColCommitSeqNo, hudimeta.ColRecordKey:
					if dict {
						t.Errorf("column %s is dictionary encoded", col)
					}
				case hudimeta.ColCommitTime, hudimeta.ColPartitionPath, hudimeta.ColFileName, "url":
					if !dict {
						t.Errorf("column %s is not dictionary encoded", col)
					}
				}
				for _, es := range cc.MetaData.EncodingStats {
					if es.PageType != format.DataPage && es.PageType != format.DictionaryPage {
						t.Errorf("column %s: page type %v, want data page v1", col, es.PageType)
					}
				}
				if cc.MetaData.Statistics.MinValue == nil && cc.MetaData.Statistics.NullCount == 0 {
					t.Errorf("column %v: no statistics", cc.MetaData.PathInSchema)
				}
			}
		}
	}
	if total != n {
		t.Errorf("%d rows in all, wrote %d", total, n)
	}
	// Finish again returns the same files.
	again, err := s.Finish(ctx)
	if err != nil || len(again) != len(files) || again[0] != files[0] {
		t.Errorf("second Finish = %d files, %v", len(again), err)
	}
}

func TestRollBySize(t *testing.T) {
	b := objstore.NewMemory()
	s := newTestSet(t, b, WithTargetFileSize(32<<10), WithRowGroupBytes(8<<10), WithPageBufferSize(2<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	const n = 6000
	for i := range n {
		writeRec(t, s, "p", i)
		if bb := bufferedRowGroups(s); bb > 8<<10+32<<10 {
			t.Fatalf("row groups of %d bytes buffered: they are not flushed", bb)
		}
	}
	if before := len(listKeys(t, b)); before < 2 {
		t.Errorf("%d files uploaded before Finish, want rolled files uploaded early", before)
	}
	files := finishRolledBySize(t, s, 0)
	checkAllRows(t, b, files, n, func(int) string { return "p" })
	// Each file has several row groups (WithRowGroupBytes).
	pf, _ := readFile(t, b, files[0].Path)
	if len(pf.RowGroups()) < 2 {
		t.Errorf("%d row groups in a file of %d bytes with 8 KiB row groups", len(pf.RowGroups()), files[0].SizeBytes)
	}
}

func TestRollByAge(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	clock := &fakeClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	s := newTestSet(t, b, WithClock(clock.now), WithMaxFileAge(10*time.Minute))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	w := &seqWriter{t: t, s: s}
	write := w.write
	write("a")
	clock.advance(6 * time.Minute)
	write("b")
	write("a")
	if err := s.RollIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if s.OpenFiles() != 2 || len(listKeys(t, b)) != 0 {
		t.Fatalf("after 6 min: %d open, %d uploaded; want 2, 0", s.OpenFiles(), len(listKeys(t, b)))
	}
	clock.advance(5 * time.Minute) // a: 11 min, b: 5 min
	if err := s.RollIdle(ctx); err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, b)
	if s.OpenFiles() != 1 || len(keys) != 1 || !strings.HasPrefix(keys[0], "a/") {
		t.Fatalf("after 11 min: %d open, uploaded %v; want 1 open and a's file", s.OpenFiles(), keys)
	}
	write("a") // a new file for a
	clock.advance(5 * time.Minute)
	if err := s.RollIdle(ctx); err != nil { // b: 10 min
		t.Fatal(err)
	}
	if s.OpenFiles() != 1 || len(listKeys(t, b)) != 2 {
		t.Fatalf("after 16 min: %d open, %d uploaded; want 1, 2", s.OpenFiles(), len(listKeys(t, b)))
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("%d files, want 3", len(files))
	}
	checkAllRows(t, b, files, w.n, func(int) string { return "" })
}

func TestMaxOpenFiles(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	s := newTestSet(t, b, WithMaxOpenFiles(2), WithMinFileSize(0))
	if err := s.Begin(testInstant, 3); err != nil {
		t.Fatal(err)
	}
	parts := []string{"a", "b", "c"}
	write := func(i int, p string) {
		t.Helper()
		writeRec(t, s, p, i)
		if s.OpenFiles() > 2 {
			t.Fatalf("%d open files", s.OpenFiles())
		}
	}
	// a, b, a, c: b is the least recently written and is rolled for c.
	write(0, "a")
	write(1, "b")
	write(2, "a")
	write(3, "c")
	if keys := listKeys(t, b); len(keys) != 1 || !strings.HasPrefix(keys[0], "b/") {
		t.Fatalf("uploaded %v, want b's file (least recently written)", keys)
	}
	const n = 60
	for i := 4; i < n; i++ {
		write(i, parts[i%3])
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	perBucket := map[string]int{}
	for _, f := range files {
		perBucket[f.PartitionPath]++
	}
	for _, p := range parts {
		if perBucket[p] < 2 {
			t.Errorf("bucket %s has %d files, want several (rolled by the bound)", p, perBucket[p])
		}
	}
	checkAllRows(t, b, files, n, func(i int) string { return parts[i%3] })
}

func TestAbortDeletesUploaded(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	spool := t.TempDir()
	s := newTestSet(t, b, WithSpoolDir(spool), WithTargetFileSize(16<<10), WithPageBufferSize(2<<10), WithRowGroupBytes(8<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		writeRec(t, s, []string{"x", "y"}[i%2], i)
	}
	if len(listKeys(t, b)) == 0 {
		t.Fatal("nothing uploaded before Abort")
	}
	if len(spoolFiles(t, spool)) == 0 {
		t.Fatal("no spool files for the open files")
	}
	abortAndCheckEmpty(t, s, b, spool)
	if s.OpenFiles() != 0 || s.BufferedBytes() != 0 {
		t.Errorf("after Abort: %d open, %d buffered", s.OpenFiles(), s.BufferedBytes())
	}
	// Abort after a successful Finish (the commit failed) deletes its files.
	if err := s.Begin(testInstant, 2); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		writeRec(t, s, "z", i)
	}
	if files, err := s.Finish(ctx); err != nil || len(files) != 1 {
		t.Fatalf("Finish: %d files, %v", len(files), err)
	}
	if err := s.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, b); len(keys) != 0 {
		t.Errorf("left after Abort of a finished checkpoint: %v", keys)
	}
}

func TestAbortRetriesFailedDeletes(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewFaulty(objstore.NewMemory())
	s := newTestSet(t, b)
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		writeRec(t, s, []string{"x", "y"}[i%2], i)
	}
	if _, err := s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	b.SetFailing(true)
	if err := s.Abort(ctx); !errors.Is(err, objstore.ErrInjected) {
		t.Fatalf("Abort with storage down: %v", err)
	}
	if err := s.Begin(testInstant, 2); err == nil {
		t.Fatal("Begin accepted while the abort is incomplete")
	}
	if _, err := s.Finish(ctx); err == nil {
		t.Fatal("Finish accepted while the abort is incomplete")
	}
	b.SetFailing(false)
	if err := s.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, b); len(keys) != 0 {
		t.Errorf("left after retried Abort: %v", keys)
	}
	if err := s.Begin(testInstant, 2); err != nil {
		t.Fatal(err)
	}
}

// failPuts makes the next n Puts fail with inj.
func failPuts(b *objstore.Faulty, n int, inj objstore.Injection) {
	var left atomic.Int64
	left.Store(int64(n))
	b.SetMatcher(func(op objstore.Op, key string) objstore.Injection {
		if op == objstore.OpPut && left.Add(-1) >= 0 {
			return inj
		}
		return objstore.InjectNone
	})
}

func TestFinishRetriesFailedUpload(t *testing.T) {
	for _, inj := range []objstore.Injection{objstore.InjectBefore, objstore.InjectAfter} {
		t.Run(fmt.Sprint("injection=", inj), func(t *testing.T) {
			ctx := context.Background()
			mem := objstore.NewMemory()
			b := objstore.NewFaulty(mem)
			spool := t.TempDir()
			s := newTestSet(t, b, WithSpoolDir(spool))
			if err := s.Begin(testInstant, 9); err != nil {
				t.Fatal(err)
			}
			parts := []string{"a", "b", "c"}
			const n = 600
			for i := range n {
				writeRec(t, s, parts[i%3], i)
			}
			failPuts(b, 1, inj)
			if _, err := s.Finish(ctx); !errors.Is(err, objstore.ErrInjected) {
				t.Fatalf("Finish with a failing Put: %v", err)
			}
			if err := s.Write(ctx, "a", makeRow(testRec(n)), 0); err == nil {
				t.Fatal("Write accepted during a failed Finish")
			}
			// The three files upload at once: the one that failed stays
			// spooled, the others are done.
			if len(spoolFiles(t, spool)) != 1 {
				t.Errorf("spool files after the failed upload: %v, want the failed file kept", spoolFiles(t, spool))
			}
			files, err := s.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 3 {
				t.Fatalf("%d files, want 3", len(files))
			}
			if keys := listKeys(t, mem); len(keys) != 3 {
				t.Errorf("objects %v, want the 3 files", keys)
			}
			if puts := b.Calls(objstore.OpPut); puts != 4 {
				t.Errorf("%d Puts, want 4 (3 files, one retried)", puts)
			}
			if left := spoolFiles(t, spool); len(left) != 0 {
				t.Errorf("spool files left: %v", left)
			}
			checkAllRows(t, mem, files, n, func(i int) string { return parts[i%3] })
		})
	}
}

func TestWriteUploadFailureKeepsRows(t *testing.T) {
	ctx := context.Background()
	s, b, mem := newFlakyUploadSet(t)
	const n = 2000
	failures := 0
	for i := 0; i < n; {
		r := testRec(i)
		err := s.Write(ctx, []string{"x", "y", "z"}[i%3], makeRow(r), r.eventTime)
		if errors.Is(err, objstore.ErrInjected) {
			failures++ // not written: write it again
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		i++
	}
	if failures == 0 {
		t.Fatalf("no upload failed during the writes (%d puts, %d injected)", b.Calls(objstore.OpPut), b.Injected(objstore.OpPut))
	}
	files := finishRetrying(t, s)
	if keys := listKeys(t, mem); len(keys) != len(files) {
		t.Errorf("%d objects for %d files", len(keys), len(files))
	}
	checkAllRows(t, mem, files, n, func(i int) string { return "" })
}

func TestBadPartitions(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	s := newTestSet(t, b)
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	bad := []string{"/abs", "a/../b", "..", "../x", ".", "a//b", "a/", ".hoodie", "a/.hoodie", ".hidden/x",
		"a\\b", "a\x00b", "a\nb", "x/./y"}
	for _, p := range bad {
		err := s.Write(ctx, p, makeRow(testRec(0)), 0)
		var pe *table.PartitionPathError
		if !errors.As(err, &pe) || pe.Partition != p || !strings.Contains(err.Error(), fmt.Sprintf("%q", p)) {
			t.Errorf("partition path %q: %v", p, err)
		}
	}
	if s.OpenFiles() != 0 {
		t.Errorf("%d files opened for bad partition paths", s.OpenFiles())
	}
	good := []string{"", "dt=2026-11-01", "a/b/c", "_x", "k=v w"}
	for i, p := range good {
		if err := s.Write(ctx, p, makeRow(testRec(i)), 0); err != nil {
			t.Errorf("partition path %q: %v", p, err)
		}
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := objstore.ValidateKey(f.Path); err != nil {
			t.Error(err)
		}
	}
}

func TestBadRows(t *testing.T) {
	ctx := context.Background()
	s := newTestSet(t, objstore.NewMemory())
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	good := makeRow(testRec(1))
	bads := map[string]func() rowT{
		"short":         func() rowT { return good[:5].Clone() },
		"no key":        func() rowT { r := good.Clone(); r[2] = nullAt(2); return r },
		"wrong kind":    func() rowT { r := good.Clone(); r[colUserID] = int32At(5, colUserID); return r },
		"required null": func() rowT { r := good.Clone(); r[colURL] = nullAt(colURL); return r },
		"def level 0":   func() rowT { r := good.Clone(); r[colReferrer] = bytesAt("x", 0, colReferrer); return r },
		"out of order":  func() rowT { r := good.Clone(); r[5], r[6] = r[6], r[5]; return r },
		"extra value":   func() rowT { return append(good.Clone(), int64At(1, colEventTime)) },
		"extra column":  func() rowT { return append(good.Clone(), int64At(1, numTestCols)) },
	}
	for name, mk := range bads {
		if err := s.Write(ctx, "p", mk(), 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if s.OpenFiles() != 0 {
		t.Errorf("%d files opened for bad rows", s.OpenFiles())
	}
	if err := s.Write(ctx, "p", good, 0); err != nil {
		t.Fatalf("good row after bad ones: %v", err)
	}
	files, err := s.Finish(ctx)
	if err != nil || len(files) != 1 || files[0].Records != 1 {
		t.Fatalf("Finish: %+v, %v", files, err)
	}
	if files[0].HasEventTime != true || files[0].MinEventTime != 0 {
		t.Errorf("event time 0 should count: %+v", files[0])
	}
}

type rowT = parquet.Row

func nullAt(c int) parquet.Value           { return parquet.NullValue().Level(0, 0, c) }
func int32At(v int32, c int) parquet.Value { return parquet.Int32Value(v).Level(0, 0, c) }
func int64At(v int64, c int) parquet.Value { return parquet.Int64Value(v).Level(0, 0, c) }
func bytesAt(v string, def, c int) parquet.Value {
	return parquet.ByteArrayValue([]byte(v)).Level(0, def, c)
}

func TestNoEventTime(t *testing.T) {
	ctx := context.Background()
	s := newTestSet(t, objstore.NewMemory())
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Write(ctx, "p", makeRow(testRec(i)), NoEventTime); err != nil {
			t.Fatal(err)
		}
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if files[0].HasEventTime {
		t.Errorf("HasEventTime with NoEventTime only")
	}
	if st := files[0].Stat(); st.MinEventTime != nil || st.MaxEventTime != nil {
		t.Errorf("Stat has event times: %+v", st)
	}
}

func TestStateMachine(t *testing.T) {
	ctx := context.Background()
	s := newTestSet(t, objstore.NewMemory())
	row := makeRow(testRec(0))
	if err := s.Write(ctx, "p", row, 0); err == nil {
		t.Error("Write before Begin accepted")
	}
	if _, err := s.Finish(ctx); err == nil {
		t.Error("Finish before Begin accepted")
	}
	for _, bad := range []string{"", "2026-11-01", "abc"} {
		if err := s.Begin(bad, 1); err == nil {
			t.Errorf("Begin(%q) accepted", bad)
		}
	}
	if err := s.Begin(testInstant, -1); err == nil {
		t.Error("negative checkpoint accepted")
	}
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Begin(testInstant, 2); err == nil {
		t.Error("Begin during a checkpoint accepted")
	}
	if err := s.Write(ctx, "p", row, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, "p", row, 0); err == nil {
		t.Error("Write after Finish accepted")
	}
	if err := s.Begin("20261101120000124", 2); err != nil {
		t.Fatal(err)
	}
	if files, err := s.Finish(ctx); err != nil || len(files) != 0 {
		t.Errorf("empty checkpoint: %v, %v", files, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Begin(testInstant, 3); !errors.Is(err, ErrClosed) {
		t.Errorf("Begin after Close: %v", err)
	}
	if err := s.Write(ctx, "p", row, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func TestFlushLargest(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	s := newTestSet(t, b, WithPageBufferSize(8<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		p := "small"
		if i%10 != 0 {
			p = "large"
		}
		if err := s.Write(ctx, p, makeRow(testRec(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	before := s.BufferedBytes()
	large := s.open["large"].bufferedBytes()
	small := s.open["small"].bufferedBytes()
	shared := sharedBytes(s)
	if large <= small || before != large+small+shared {
		t.Fatalf("buffered: total %d, large %d, small %d, shared %d", before, large, small, shared)
	}
	if err := s.FlushLargest(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.open["large"].bufferedBytes(); got != 0 {
		t.Errorf("large file still buffers %d bytes", got)
	}
	if got := s.open["small"].bufferedBytes(); got != small {
		t.Errorf("small file buffers %d bytes, had %d", got, small)
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkAllRows(t, b, files, 3000, func(int) string { return "" })
}

func TestNewSetValidation(t *testing.T) {
	b := objstore.NewMemory()
	_, err := NewSet(b, testSchema(), 0,
		WithTargetFileSize(0), WithMaxFileAge(-1), WithRowGroupBytes(0), WithPageBufferSize(0),
		WithCompression("lzo"), WithDictionaryMaxBytes(-1), WithMaxOpenFiles(0),
		WithSpoolDir(t.TempDir()+"/missing"), WithClock(nil), WithLogger(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"target file size", "max file age", "row group bytes", "page buffer size",
		"compression", "dictionary max bytes", "max open files", "spool dir", "clock", "logger"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	if _, err := NewSet(b, testSchema(), -1, WithSpoolDir(t.TempDir())); err == nil {
		t.Error("negative worker accepted")
	}
	if _, err := NewSet(nil, nil, 0, WithSpoolDir(t.TempDir())); err == nil {
		t.Error("nil bucket and schema accepted")
	}
	for _, c := range []string{"zstd", "zstd-fast", "snappy", "gzip", "none"} {
		s, err := NewSet(b, testSchema(), 0, WithSpoolDir(t.TempDir()), WithCompression(c))
		if err != nil {
			t.Errorf("compression %s: %v", c, err)
			continue
		}
		s.Close()
	}
}

func TestLocalErrorSticks(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	spool := t.TempDir()
	disk := &faultyDisk{}
	s := newTestSet(t, b, WithSpoolDir(spool), disk.option())
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := s.Write(ctx, []string{"ok", "broken"}[i%2], makeRow(testRec(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	// The spool disk fails under one file: the second created, broken's.
	disk.setFail(func(op errorfs.Op, created []string) bool {
		return len(created) >= 2 && op.Path == created[1] && (op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileSync)
	})
	if _, err := s.Finish(ctx); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Finish with a broken spool file = %v, want the disk's error", err)
	}
	if err := s.Write(ctx, "ok", makeRow(testRec(100)), 0); err == nil {
		t.Error("Write accepted after a local error")
	}
	if _, err := s.Finish(ctx); err == nil {
		t.Error("retried Finish succeeded after a local error")
	}
	abortAndCheckEmpty(t, s, b, spool)
	if err := s.Begin(testInstant, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, "ok", makeRow(testRec(0)), 0); err != nil {
		t.Fatal(err)
	}
	if files, err := s.Finish(ctx); err != nil || len(files) != 1 {
		t.Fatalf("after Abort: %d files, %v", len(files), err)
	}
}

func TestSweepSpool(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	mk := func(name string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	mk(SpoolPrefix+"1.parquet", old)
	mk(SpoolPrefix+"2.parquet", old)
	mk(SpoolPrefix+"new.parquet", time.Now())
	mk("other-file", old)
	if err := os.Mkdir(filepath.Join(dir, SpoolPrefix+"dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	n, err := SweepSpool(dir, time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("SweepSpool = %d, %v; want 2", n, err)
	}
	got := spoolFiles(t, dir)
	want := []string{SpoolPrefix + "dir", SpoolPrefix + "new.parquet", "other-file"}
	if !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if _, err := SweepSpool(filepath.Join(dir, "missing"), time.Hour); err == nil {
		t.Error("missing directory: no error")
	}
}

// A live Set's spool files survive a sweep: the data is read through the
// open file, only the name goes.
func TestSweepDuringUploadRetry(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewFaulty(objstore.NewMemory())
	spool := t.TempDir()
	s := newTestSet(t, b, WithSpoolDir(spool))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := s.Write(ctx, "p", makeRow(testRec(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	b.SetFailing(true)
	if _, err := s.Finish(ctx); err == nil {
		t.Fatal("Finish succeeded with storage down")
	}
	if n, err := SweepSpool(spool, -time.Hour); err != nil || n != 1 {
		t.Fatalf("SweepSpool = %d, %v", n, err)
	}
	b.SetFailing(false)
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkAllRows(t, b, files, 50, func(int) string { return "p" })
}
