package parquetfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"go.uber.org/goleak"
)

// simpleSchema: a dictionary string, an optional string, a PLAIN int64.
func simpleSchema() *parquet.Schema {
	return parquet.NewSchema("s", newOrderedGroup(
		[]string{"s", "o", "n"},
		[]parquet.Node{
			parquet.FieldID(parquet.Encoded(parquet.String(), &parquet.RLEDictionary), 1),
			parquet.FieldID(parquet.Optional(parquet.String()), 2),
			parquet.FieldID(parquet.Int(64), 3),
		}))
}

func simpleRows(r *rand.Rand, n int, words []string) []parquet.Row {
	rows := make([]parquet.Row, n)
	for i := range rows {
		o := parquet.Value{}.Level(0, 0, 1)
		if r.IntN(4) > 0 {
			o = parquet.ByteArrayValue([]byte(words[r.IntN(len(words))])).Level(0, 1, 1)
		}
		rows[i] = parquet.Row{
			parquet.ByteArrayValue([]byte(words[r.IntN(len(words))])).Level(0, 0, 0),
			o,
			parquet.Int64Value(r.Int64()).Level(0, 0, 2),
		}
	}
	return rows
}

func writeRows(t testing.TB, schema *parquet.Schema, rows []parquet.Row, opts ...Option) []byte {
	t.Helper()
	return writeOurs(t, schema, rows, append([]Option{WithCreatedBy("lakestream version test (build x)"), WithCodec(NewZstd(ZstdDefault))}, opts...)...)
}

func merge(t testing.TB, files [][]byte, opts ...MergeOption) (*MergeResult, []byte) {
	t.Helper()
	var inputs []MergeInput
	for i, f := range files {
		inputs = append(inputs, memInput("in-"+strconv.Itoa(i), f))
	}
	var out bytes.Buffer
	res, err := Merge(context.Background(), inputs, &out, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return res, out.Bytes()
}

// dataPages returns the data pages (headers included) of a column chunk
// of data.
func dataPages(t testing.TB, data []byte, cm columnMetaData) [][]byte {
	t.Helper()
	start, end := chunkRange(&cm)
	var pages [][]byte
	for at := start; at < end; {
		var hdr format.PageHeader
		rd := new(thrift.CompactProtocol).NewReaderFromBytes(data[at:end])
		if err := thrift.NewDecoder(rd).Decode(&hdr); err != nil {
			t.Fatal(err)
		}
		n := int64(rd.BytesRead()) + int64(hdr.CompressedPageSize)
		if hdr.Type == format.DataPage {
			pages = append(pages, data[at:at+n])
		}
		at += n
	}
	return pages
}

// TestMergeCopiesPages: the first input's pages, and the other's PLAIN
// pages, are in the output byte for byte; the other's dictionary index
// pages are remapped (its dictionary's order differs); the merged
// dictionary starts with the first input's.
func TestMergeCopiesPages(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	schema := simpleSchema()
	a := writeRows(t, schema, simpleRows(r, 3000, []string{"x", "y", "z"}), WithPageBufferSize(4096))
	b := writeRows(t, schema, simpleRows(r, 3000, []string{"z", "w", "x"}), WithPageBufferSize(4096))
	res, out := merge(t, [][]byte{a, b}, MergeMinPageBytes(0))
	if err := checkMerged(schema, out, append(readAll(t, a), readAll(t, b)...), res); err != nil {
		t.Fatal(err)
	}
	fa, fb, fo := mustFooter(t, a), mustFooter(t, b), mustFooter(t, out)
	if len(fo.RowGroups) != 1 {
		t.Fatalf("%d row groups, want 1", len(fo.RowGroups))
	}
	for c := range 3 {
		got := dataPages(t, out, fo.RowGroups[0].Columns[c].MetaData)
		pa := dataPages(t, a, fa.RowGroups[0].Columns[c].MetaData)
		pb := dataPages(t, b, fb.RowGroups[0].Columns[c].MetaData)
		if len(got) != len(pa)+len(pb) {
			t.Fatalf("column %d: %d pages, the inputs %d and %d", c, len(got), len(pa), len(pb))
		}
		for i, p := range pa {
			if !bytes.Equal(got[i], p) {
				t.Errorf("column %d: page %d of the first input is not copied", c, i)
			}
		}
		for i, p := range pb {
			if same := bytes.Equal(got[len(pa)+i], p); same != (c == 2) {
				t.Errorf("column %d: page %d of the second input copied %t, want %t (remapped dictionary indexes)", c, i, same, c == 2)
			}
		}
	}
	if res.ChunksCopied != 1 || res.ChunksRemapped != 2 || res.PagesRewritten == 0 || res.PagesCopied == 0 || len(res.Fallbacks) != 0 {
		t.Errorf("result %+v", res)
	}
	// The same dictionaries in the same order: nothing is rewritten, the
	// dictionary page is the first input's.
	c := writeRows(t, schema, simpleRows(rand.New(rand.NewPCG(2, 2)), 3000, []string{"x"}), WithPageBufferSize(4096))
	res, out = merge(t, [][]byte{c, c, c})
	if res.PagesRewritten != 0 || res.ChunksRemapped != 0 {
		t.Errorf("identical inputs: %d pages rewritten, %d chunks remapped", res.PagesRewritten, res.ChunksRemapped)
	}
	fc, fo := mustFooter(t, c), mustFooter(t, out)
	dict := func(data []byte, cm columnMetaData) []byte { return data[cm.DictionaryPageOffset:cm.DataPageOffset] }
	if !bytes.Equal(dict(out, fo.RowGroups[0].Columns[0].MetaData), dict(c, fc.RowGroups[0].Columns[0].MetaData)) {
		t.Error("identical inputs: the dictionary page is not the first input's")
	}
}

func mustFooter(t testing.TB, data []byte) *fileMetaData {
	t.Helper()
	md, err := decodeFooter(data)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// readAll reads a file's rows with parquet-go.
func readAll(t testing.TB, data []byte) []parquet.Row {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var rows []parquet.Row
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		buf := make([]parquet.Row, 100)
		for {
			n, err := rr.ReadRows(buf)
			for _, row := range buf[:n] {
				rows = append(rows, row.Clone())
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		rr.Close()
	}
	return rows
}

// TestMergeStatisticsExactness: a merged byte array bound is exact when an
// input's equal bound is exact, and not when the equal bounds are all
// truncated.
func TestMergeStatisticsExactness(t *testing.T) {
	schema := parquet.NewSchema("e", parquet.Group{"s": parquet.String()})
	file := func(values ...string) []byte {
		var rows []parquet.Row
		for _, v := range values {
			rows = append(rows, parquet.Row{parquet.ByteArrayValue([]byte(v)).Level(0, 0, 0)})
		}
		return writeRows(t, schema, rows)
	}
	long := strings.Repeat("x", 64)
	for _, c := range []struct {
		name          string
		files         [][]byte
		minExact, max bool
	}{
		{"both truncated", [][]byte{file(long+"b", long+"c"), file(long+"a", long+"d")}, false, false},
		{"exact then truncated", [][]byte{file(long, long+"z"), file(long+"a", long+"q")}, true, false},
		{"truncated then exact", [][]byte{file(long+"a", long+"q"), file(long, "y")}, true, true}, // x..xy < y
	} {
		_, out := merge(t, c.files)
		st := mustFooter(t, out).RowGroups[0].Columns[0].MetaData.Statistics
		if string(st.MinValue) != long || st.IsMinValueExact.V != c.minExact || !st.IsMinValueExact.Valid {
			t.Errorf("%s: min %q exact %v, want %q exact %t", c.name, st.MinValue, st.IsMinValueExact, long, c.minExact)
		}
		if !st.IsMaxValueExact.Valid || st.IsMaxValueExact.V != c.max {
			t.Errorf("%s: max %q exact %v", c.name, st.MaxValue, st.IsMaxValueExact)
		}
	}
}

// hudiSchema is a table's schema with the five Hudi meta columns.
func hudiSchema() *parquet.Schema {
	str := func(id int) parquet.Node { return parquet.FieldID(parquet.Optional(parquet.String()), id) }
	return parquet.NewSchema("h", newOrderedGroup(
		[]string{"_hoodie_commit_time", "_hoodie_commit_seqno", "_hoodie_record_key", "_hoodie_partition_path", "_hoodie_file_name", "dt", "v"},
		[]parquet.Node{parquet.Encoded(str(1), &parquet.RLEDictionary), parquet.Encoded(str(2), &parquet.Plain), parquet.Encoded(str(3), &parquet.Plain),
			parquet.Encoded(str(4), &parquet.RLEDictionary), parquet.Encoded(str(5), &parquet.RLEDictionary), str(6), parquet.FieldID(parquet.Int(64), 7)}))
}

// writeHudi writes a Hudi base file as package writer does: the commit
// time, partition path, file name and partition column are constants of
// the file, the sequence number is made by the encoder.
func writeHudi(t testing.TB, instant, name string, rows int, opts ...Option) []byte {
	t.Helper()
	w, err := NewWriter(hudiSchema(), append([]Option{WithCreatedBy("lakestream version test (build x)"), WithCodec(NewZstd(ZstdDefault))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	str := func(s string, c int) parquet.Value { return parquet.ByteArrayValue([]byte(s)).Level(0, 1, c) }
	for _, c := range []struct {
		col int
		v   string
	}{{0, instant}, {3, "dt=2026-12-05"}, {4, name}, {5, "2026-12-05"}} {
		if err := w.SetConstant(c.col, str(c.v, c.col)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.SetSequence(1, []byte(instant+"_0_"), 0); err != nil {
		t.Fatal(err)
	}
	cols := make([][]parquet.Value, 7)
	var lo, hi string
	for i := range rows {
		key := fmt.Sprintf("%s-key-%06d", name[:4], i)
		if i == 0 || key < lo {
			lo = key
		}
		if key > hi {
			hi = key
		}
		cols[2] = append(cols[2], str(key, 2))
		cols[6] = append(cols[6], parquet.Int64Value(int64(i)).Level(0, 0, 6))
	}
	if err := w.WriteColumns(cols); err != nil {
		t.Fatal(err)
	}
	w.SetKeyValueMetadata(HudiMinRecordKey, lo)
	w.SetKeyValueMetadata(HudiMaxRecordKey, hi)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMergeHudi: _hoodie_file_name names the new file in every row; the
// commit times, sequence numbers, record keys and partition values stay;
// the constant columns are pages of one run of one dictionary index, cut
// where the value changes; the footer has the inputs' record key range.
func TestMergeHudi(t *testing.T) {
	const newName = "f0000009-0000-0000-0000-000000000000-0_0-9-9_20261205130000000.parquet" // longer than 64 bytes: its bounds are truncated
	files := [][]byte{
		writeHudi(t, "20261205120000000", "a000-file-1.parquet", 3000),
		writeHudi(t, "20261205120000000", "b000-file-2.parquet", 2000),
		writeHudi(t, "20261205121000000", "c000-file-3.parquet", 5000),
	}
	var want []parquet.Row
	for _, f := range files {
		want = append(want, readAll(t, f)...)
	}
	for _, row := range want {
		row[4] = parquet.ByteArrayValue([]byte(newName)).Level(0, 1, 4)
	}
	res, out := merge(t, files, MergeHudi(newName), MergePageBufferSize(4096*5))
	if err := checkMerged(hudiSchema(), out, want, res); err != nil {
		t.Fatal(err)
	}
	if err := VerifyMerge(context.Background(), bytes.NewReader(out), int64(len(out)), res); err != nil {
		t.Fatal(err)
	}
	if res.MinKey != "a000-key-000000" || res.MaxKey != "c000-key-004999" {
		t.Errorf("key range [%q, %q]", res.MinKey, res.MaxKey)
	}
	if res.ChunksConstant != 4 || len(res.Fallbacks) != 0 {
		t.Errorf("%d constant chunks (want commit time, partition path, file name, dt), fallbacks %v", res.ChunksConstant, res.Fallbacks)
	}
	fo := mustFooter(t, out)
	for c, wantPages := range map[int]int{
		0: 4,  // 5000 rows of one instant (a page holds 4096), 5000 of the other
		3: 3,  // 10,000 rows of one value, 4096 a page
		4: 3,  // the file name
		5: 3,  // dt
		1: -1, // the sequence numbers: copied
	} {
		cm := fo.RowGroups[0].Columns[c].MetaData
		pages := dataPages(t, out, cm)
		if wantPages < 0 {
			continue
		}
		if len(pages) != wantPages {
			t.Errorf("column %d: %d pages, want %d", c, len(pages), wantPages)
		}
		for i, p := range pages {
			if err := checkOneRun(p, cm.Codec); err != nil {
				t.Errorf("column %d page %d: %v", c, i, err)
			}
		}
	}
}

// checkOneRun checks that a data page of an optional column without nulls
// holds one run of definition levels and one run of one dictionary index.
func checkOneRun(page []byte, codec format.CompressionCodec) error {
	var hdr format.PageHeader
	rd := new(thrift.CompactProtocol).NewReaderFromBytes(page)
	if err := thrift.NewDecoder(rd).Decode(&hdr); err != nil {
		return err
	}
	body, err := parquet.LookupCompressionCodec(codec).Decode(nil, page[rd.BytesRead():])
	if err != nil {
		return err
	}
	n := int(hdr.DataPageHeader.V.NumValues)
	levels := append(binaryUvarint(uint64(n)<<1), 1)
	want := append([]byte{byte(len(levels)), 0, 0, 0}, levels...)
	if !bytes.HasPrefix(body, want) || hdr.DataPageHeader.V.Encoding != format.RLEDictionary {
		return fmt.Errorf("not one run of levels: %x (%s)", body, hdr.DataPageHeader.V.Encoding)
	}
	idx := body[len(want):]
	width := int(idx[0])
	runHeader := binaryUvarint(uint64(n) << 1)
	if len(idx) != 1+len(runHeader)+(width+7)/8 || !bytes.Equal(idx[1:1+len(runHeader)], runHeader) {
		return fmt.Errorf("not one run of an index: %x", idx)
	}
	return nil
}

func binaryUvarint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// TestMergeFallbacks: a chunk is re-encoded, counted and logged, when its
// merged dictionary passes the bound, when its input pages are tiny, and
// when an input was written by another writer (parquet-go); its rows are
// right.
func TestMergeFallbacks(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	schema := simpleSchema()
	words := func(prefix string, n int) []string {
		var w []string
		for i := range n {
			w = append(w, prefix+strconv.Itoa(i))
		}
		return w
	}
	big := func(prefix string) []byte {
		return writeRows(t, schema, simpleRows(r, 3000, words(prefix, 100)), WithPageBufferSize(4096))
	}
	var tiny [][]byte
	for range 30 {
		tiny = append(tiny, writeRows(t, schema, simpleRows(r, 3, words("t", 5))))
	}
	foreign := writeForeign(r, schema, simpleRows(r, 500, words("f", 10)), "a", "b")
	for _, c := range []struct {
		name    string
		files   [][]byte
		opts    []MergeOption
		columns []string // re-encoded
		reason  string
	}{
		{"dictionary bound", [][]byte{big("a"), big("b")}, []MergeOption{MergeDictionaryMaxBytes(1200), MergeMinPageBytes(0)}, []string{"s", "o"}, "passes the bound of 1200"},
		{"tiny pages", tiny, nil, []string{"s", "o", "n"}, "input pages of"},
		{"foreign", [][]byte{big("a"), foreign}, nil, []string{"s", "o", "n"}, "not by this package's encoder"},
	} {
		var log bytes.Buffer
		opts := append(c.opts, MergeLogger(slog.New(slog.NewTextHandler(&log, nil))))
		res, out := merge(t, c.files, opts...)
		var want []parquet.Row
		for _, f := range c.files {
			want = append(want, readAll(t, f)...)
		}
		if err := checkMerged(schema, out, want, res); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, f := range res.Fallbacks {
			got = append(got, f.Column)
			if !strings.Contains(f.Reason, c.reason) {
				t.Errorf("%s: column %s: reason %q, want %q", c.name, f.Column, f.Reason, c.reason)
			}
		}
		if strings.Join(got, ",") != strings.Join(c.columns, ",") || res.ChunksReencoded != len(c.columns) {
			t.Errorf("%s: re-encoded %v (%d), want %v", c.name, got, res.ChunksReencoded, c.columns)
		}
		if n := strings.Count(log.String(), "column chunk re-encoded"); n != len(c.columns) {
			t.Errorf("%s: %d log records, want %d:\n%s", c.name, n, len(c.columns), log.String())
		}
	}
	// The tiny pages' chunks are re-encoded into one page each.
	res, out := merge(t, tiny)
	fo := mustFooter(t, out)
	for c := range 3 {
		if n := len(dataPages(t, out, fo.RowGroups[0].Columns[c].MetaData)); n != 1 {
			t.Errorf("tiny inputs: column %d has %d pages, want 1", c, n)
		}
	}
	_ = res
}

// TestMergeRefuses: inputs of other schemas, bad constants, files that are
// not Parquet, corrupt pages: an error naming the input and the problem,
// and every opened input closed.
func TestMergeRefuses(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("concurrency %d", n), func(t *testing.T) { testMergeRefuses(t, n) })
	}
}

func testMergeRefuses(t *testing.T, concurrency int) {
	defer goleak.VerifyNone(t)
	r := rand.New(rand.NewPCG(6, 6))
	schema := simpleSchema()
	good := writeRows(t, schema, simpleRows(r, 2000, []string{"a", "b"}), WithPageBufferSize(1024))
	other := writeRows(t, parquet.NewSchema("s", newOrderedGroup([]string{"s", "o", "n"}, []parquet.Node{
		parquet.FieldID(parquet.Encoded(parquet.String(), &parquet.RLEDictionary), 1),
		parquet.FieldID(parquet.Optional(parquet.String()), 2),
		parquet.FieldID(parquet.Int(64), 4), // another field ID
	})), simpleRows(r, 10, []string{"a"}))
	corrupt := func(col int, dict bool) []byte { // a byte of the first page's data
		data := bytes.Clone(good)
		cm := mustFooter(t, data).RowGroups[0].Columns[col].MetaData
		at := cm.DataPageOffset + int64(len(dataPages(t, data, cm)[0])) - 3
		if dict {
			at = cm.DataPageOffset - 3
		}
		data[at] ^= 0x10
		return data
	}
	bad := writeRows(t, simpleSchema(), simpleRows(r, 2000, []string{"c", "d"}), WithPageBufferSize(1024))
	copyAll := []MergeOption{MergeMinPageBytes(0)}
	for _, c := range []struct {
		name  string
		files [][]byte
		opts  []MergeOption
		want  string
	}{
		{"other schema", [][]byte{good, other}, nil, "input in-1: its schema differs from input in-0's at element 3"},
		{"not parquet", [][]byte{good, []byte("hello, this is not a parquet file")}, nil, "input in-1: not a Parquet file"},
		{"short", [][]byte{good, good[:len(good)/2]}, nil, "input in-1: not a Parquet file"},
		{"no constant column", [][]byte{good}, []MergeOption{MergeConstant("nope", nil)}, `constant column "nope" is not in the schema`},
		{"constant not bytes", [][]byte{good}, []MergeOption{MergeConstant("n", nil)}, `constant column "n" is INT64`},
		{"corrupt copied page", [][]byte{corrupt(2, false), good}, copyAll, "input in-0: row group 0 column n page 0: CRC mismatch"},
		{"corrupt remapped page", [][]byte{good, corrupt(0, false)}, copyAll, "input in-1: row group 0 column s page 0: CRC mismatch"},
		{"corrupt dictionary", [][]byte{bad, corrupt(0, true)}, copyAll, "input in-1: row group 0 column s: dictionary page: CRC mismatch"},
		// Tiny pages: re-encoded, read by parquet-go, which checks CRCs.
		{"corrupt re-encoded page", [][]byte{corrupt(2, false), good}, nil, "input in-0: row group 0 column n: crc32 checksum mismatch"},
	} {
		var opened, closed atomic.Int32
		var inputs []MergeInput
		for i, f := range c.files {
			inputs = append(inputs, MergeInput{Key: "in-" + strconv.Itoa(i), Size: int64(len(f)), Open: func(context.Context) (io.ReaderAt, error) {
				opened.Add(1)
				return closingReader{bytes.NewReader(f), &closed}, nil
			}})
		}
		_, err := Merge(context.Background(), inputs, io.Discard, append(c.opts, MergeConcurrency(concurrency))...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if opened.Load() != closed.Load() || opened.Load() == 0 {
			t.Errorf("%s: %d inputs opened, %d closed", c.name, opened.Load(), closed.Load())
		}
	}
}

type closingReader struct {
	*bytes.Reader
	closed *atomic.Int32
}

func (c closingReader) Close() error { c.closed.Add(1); return nil }

// TestMergeOptionsValidate: every bad option is reported at once.
func TestMergeOptionsValidate(t *testing.T) {
	_, err := Merge(context.Background(), nil, io.Discard, MergeRowGroupBytes(0), MergePageBufferSize(-1), MergeDictionaryMaxBytes(-1),
		MergeMinPageBytes(-2), MergeConstant("", nil), MergeConstant("a", nil), MergeConstant("a", nil), MergeKeyRange("k", ""), MergeLogger(nil))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"row group bytes 0", "page buffer size -1", "dictionary max bytes -1", "min page bytes -2", "constant column: empty name", `constant column "a": given twice`, `key range "k", ""`, "logger: nil"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := Merge(context.Background(), nil, io.Discard); err == nil || !strings.Contains(err.Error(), "no inputs") {
		t.Errorf("no inputs: %v", err)
	}
}

// TestMergeEmptyInputs: files without rows merge into a file without row
// groups, which parquet-go and DuckDB read.
func TestMergeEmptyInputs(t *testing.T) {
	schema := simpleSchema()
	empty := writeRows(t, schema, nil)
	res, out := merge(t, [][]byte{empty, empty}, MergeKeyRange(HudiMinRecordKey, HudiMaxRecordKey))
	if err := VerifyMerge(context.Background(), bytes.NewReader(out), int64(len(out)), res); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := openDuckDB(t).QueryRow(fmt.Sprintf(`SELECT count(*) FROM read_parquet('%s')`, writeTemp(t, "e.parquet", out))).Scan(&n); err != nil || n != 0 {
		t.Fatalf("DuckDB: %d rows, %v", n, err)
	}
}

// TestVerifyMergeDetects: VerifyMerge fails on a file whose counts are not
// the inputs' and on a corrupt page.
func TestVerifyMergeDetects(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	files := [][]byte{writeRows(t, simpleSchema(), simpleRows(r, 1000, []string{"a", "b"})), writeRows(t, simpleSchema(), simpleRows(r, 1000, []string{"c"}))}
	res, out := merge(t, files, MergeConstant("s", []byte("k")))
	verify := func(data []byte, res *MergeResult) error {
		return VerifyMerge(context.Background(), bytes.NewReader(data), int64(len(data)), res)
	}
	if err := verify(out, res); err != nil {
		t.Fatal(err)
	}
	moreNulls := *res
	moreNulls.Columns = append([]MergedColumn(nil), res.Columns...)
	moreNulls.Columns[1].Nulls++
	if err := verify(out, &moreNulls); err == nil || !strings.Contains(err.Error(), "column o holds") {
		t.Errorf("wrong null count: %v", err)
	}
	otherConstant := *res
	otherConstant.Constants = map[string][]byte{"s": []byte("j")}
	if err := verify(out, &otherConstant); err == nil || !strings.Contains(err.Error(), "constant column") {
		t.Errorf("wrong constant: %v", err)
	}
	cm := mustFooter(t, out).RowGroups[0].Columns[2].MetaData
	bad := bytes.Clone(out)
	bad[cm.DataPageOffset+40] ^= 1
	if err := verify(bad, res); err == nil || !strings.Contains(err.Error(), "crc32 checksum mismatch") {
		t.Errorf("corrupt page: %v", err)
	}
}

// TestFingerprint: files of one writer, schema, codec and page version
// have one fingerprint; another codec, field ID, page version or writer
// another.
func TestFingerprint(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	schema := simpleSchema()
	rows := simpleRows(r, 100, []string{"a"})
	fp := func(data []byte) string {
		t.Helper()
		footer, err := ReadFooter(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Fingerprint(footer)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := fp(writeRows(t, schema, rows))
	if got := fp(writeRows(t, schema, simpleRows(r, 5000, []string{"b", "c"}), WithPageBufferSize(100))); got != base {
		t.Errorf("other rows and pages: fingerprint %s, want %s", got, base)
	}
	otherID := parquet.NewSchema("s", newOrderedGroup([]string{"s", "o", "n"}, []parquet.Node{
		parquet.FieldID(parquet.Encoded(parquet.String(), &parquet.RLEDictionary), 1),
		parquet.FieldID(parquet.Optional(parquet.String()), 2),
		parquet.FieldID(parquet.Int(64), 9),
	}))
	for name, data := range map[string][]byte{
		"snappy":     writeRows(t, schema, rows, WithCodec(&parquet.Snappy)),
		"field ID":   writeRows(t, otherID, rows),
		"v2 pages":   writeParquetGo(t, schema, rows, parquet.DataPageVersion(2), parquet.Compression(&parquet.Zstd)),
		"parquet-go": writeParquetGo(t, schema, rows, parquet.Compression(&parquet.Zstd)),
	} {
		if got := fp(data); got == base {
			t.Errorf("%s: the fingerprint of the base file", name)
		}
	}
}

// TestMergeNested: files with lists are re-encoded by parquet-go, the
// constant column replaced, every chunk counted.
func TestMergeNested(t *testing.T) {
	schema := parquet.NewSchema("n", parquet.Group{
		"name": parquet.String(),
		"tags": parquet.List(parquet.String()),
		"n":    parquet.Int(64),
	})
	type row struct {
		Name string   `parquet:"name"`
		Tags []string `parquet:"tags,list"`
		N    int64    `parquet:"n"`
	}
	var files [][]byte
	var want []row
	for f := range 3 {
		var buf bytes.Buffer
		pw := parquet.NewGenericWriter[row](&buf, schema, parquet.CreatedBy("lakestream", "test", "x"))
		var rows []row
		for i := range 100 * (f + 1) {
			rows = append(rows, row{Name: "old-" + strconv.Itoa(f), Tags: []string{"t" + strconv.Itoa(i%3), "u"}[:i%3], N: int64(i)})
		}
		if _, err := pw.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := pw.Close(); err != nil {
			t.Fatal(err)
		}
		files = append(files, buf.Bytes())
		for _, r := range rows {
			r.Name = "new"
			if len(r.Tags) == 0 {
				r.Tags = nil
			}
			want = append(want, r)
		}
	}
	res, out := merge(t, files, MergeConstant("name", []byte("new")))
	if err := VerifyMerge(context.Background(), bytes.NewReader(out), int64(len(out)), res); err != nil {
		t.Fatal(err)
	}
	got, err := parquet.Read[row](bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if len(res.Fallbacks) != 3 || !strings.Contains(res.Fallbacks[0].Reason, "lists, maps") {
		t.Errorf("fallbacks %v", res.Fallbacks)
	}
}

// TestMergeDuckDB: DuckDB reads merged files (generated: every type,
// nulls, constants, fallbacks) as the rows of their inputs, and its
// filters on them (=, <, >, BETWEEN on each top-level column, which prune
// by the chunk statistics and the page index) return what a scan of every
// input row returns.
func TestMergeDuckDB(t *testing.T) {
	db := openDuckDB(t)
	seeds := 25
	if testing.Short() {
		seeds = 8
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 99))
		mc := genMergeCase(r)
		if len(mc.rows) == 0 {
			continue
		}
		res, out, err := runMerge(mc)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		dir := t.TempDir()
		merged := filepath.Join(dir, "merged.parquet")
		writeFile(t, merged, out)
		var inputs []string
		for i, f := range mc.files {
			p := filepath.Join(dir, fmt.Sprintf("in%d.parquet", i))
			writeFile(t, p, f)
			inputs = append(inputs, p)
		}
		sel := "*"
		var args []any
		if mc.constant >= 0 {
			name := dotted(mustWriter(t, mc.schema).leaves[mc.constant].path)
			var typ string
			if err := db.QueryRow(fmt.Sprintf(`SELECT typeof(%q) FROM read_parquet('%s') LIMIT 1`, name, merged)).Scan(&typ); err != nil {
				t.Fatal(err)
			}
			sel = fmt.Sprintf(`* REPLACE (CAST(? AS %s) AS %q)`, typ, name)
			args = append(args, string(mc.value))
		}
		if _, err := db.Exec(fmt.Sprintf(`CREATE OR REPLACE TABLE scanned AS SELECT %s FROM read_parquet(%s)`, sel, sqlList(inputs)), args...); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		file := fmt.Sprintf("read_parquet('%s')", merged)
		var n, onlyMerged, onlyInputs int64
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s),
			(SELECT count(*) FROM (SELECT * FROM %[1]s EXCEPT ALL SELECT * FROM scanned)),
			(SELECT count(*) FROM (SELECT * FROM scanned EXCEPT ALL SELECT * FROM %[1]s))`, file)
		if err := db.QueryRow(q).Scan(&n, &onlyMerged, &onlyInputs); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if n != res.Rows || n != int64(len(mc.rows)) || onlyMerged != 0 || onlyInputs != 0 {
			t.Fatalf("seed %d: DuckDB reads %d rows (want %d); %d only in the merged file, %d only in the inputs", seed, n, len(mc.rows), onlyMerged, onlyInputs)
		}
		// Filters, on each top-level leaf column, with values of the rows.
		for _, l := range mustWriter(t, mc.schema).leaves {
			if len(l.path) != 1 {
				continue
			}
			col := fmt.Sprintf("%q", l.path[0])
			var typ string
			if err := db.QueryRow(fmt.Sprintf(`SELECT typeof(%s) FROM scanned LIMIT 1`, col)).Scan(&typ); err != nil {
				t.Fatal(err)
			}
			count := func(from, where string, args ...any) int64 {
				t.Helper()
				var n int64
				if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, from, where), args...).Scan(&n); err != nil {
					t.Fatalf("seed %d: WHERE %s: %v", seed, where, err)
				}
				return n
			}
			for range 4 {
				var a, b *string
				pick := fmt.Sprintf(`SELECT %s::VARCHAR FROM scanned WHERE %s IS NOT NULL LIMIT 1 OFFSET %d`, col, col, r.IntN(len(mc.rows)))
				db.QueryRow(pick).Scan(&a)
				db.QueryRow(fmt.Sprintf(`SELECT %s::VARCHAR FROM scanned WHERE %s IS NOT NULL LIMIT 1 OFFSET %d`, col, col, r.IntN(len(mc.rows)))).Scan(&b)
				if a == nil || b == nil {
					continue
				}
				for _, where := range []string{"%[1]s = CAST(? AS %[2]s)", "%[1]s < CAST(? AS %[2]s)", "%[1]s > CAST(? AS %[2]s)", "%[1]s BETWEEN CAST(? AS %[2]s) AND CAST(? AS %[2]s)"} {
					w := fmt.Sprintf(where, col, typ)
					args := []any{*a}
					if strings.Contains(w, "BETWEEN") {
						args = append(args, *b)
					}
					if got, want := count(file, w, args...), count("scanned", w, args...); got != want {
						t.Errorf("seed %d: WHERE %s %q: %d rows from the merged file, %d in the inputs", seed, w, args, got, want)
					}
				}
			}
		}
	}
}

func mustWriter(t testing.TB, schema *parquet.Schema) *Writer {
	t.Helper()
	w, err := NewWriter(schema)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMergeLargeFooter: inputs of hundreds of row groups, whose footer and
// page index are larger than the tail Merge reads first.
func TestMergeLargeFooter(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	schema := simpleSchema()
	var files [][]byte
	var want []parquet.Row
	for range 2 {
		rows := simpleRows(r, 1500, []string{"a", "b", "c"})
		w := mustWriter(t, schema)
		var buf bytes.Buffer
		w.Reset(&buf)
		w.o.createdBy = "lakestream version test (build x)"
		for i := 0; i < len(rows); i += 3 {
			if err := w.WriteRows(rows[i : i+3]); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		md := mustFooter(t, buf.Bytes())
		if n := len(buf.Bytes()) - int(md.RowGroups[0].Columns[0].ColumnIndexOffset); n <= tailBytes {
			t.Fatalf("page index and footer of %d bytes: not past the tail", n)
		}
		files = append(files, buf.Bytes())
		want = append(want, rows...)
	}
	res, out := merge(t, files, MergeMinPageBytes(0))
	if err := checkMerged(schema, out, want, res); err != nil {
		t.Fatal(err)
	}
	if res.ChunksReencoded != 0 || res.PagesCopied == 0 {
		t.Errorf("result %+v", res)
	}
}

// TestMergeWriteErrorAndCancel: an output that fails, and a canceled
// context, end the merge with their error.
func TestMergeWriteErrorAndCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := rand.New(rand.NewPCG(10, 10))
	var files [][]byte
	for range 4 {
		files = append(files, writeRows(t, simpleSchema(), simpleRows(r, 5000, []string{"a", "b", "c"})))
	}
	var inputs []MergeInput
	for i, f := range files {
		inputs = append(inputs, memInput(strconv.Itoa(i), f))
	}
	for _, n := range []int{1, 2} {
		_, err := Merge(context.Background(), inputs, failingWriter{}, MergeConcurrency(n), MergeRowGroupBytes(1))
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("concurrency %d: failing output: %v", n, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Merge(ctx, inputs, io.Discard, MergeConcurrency(n)); !errors.Is(err, context.Canceled) {
			t.Errorf("concurrency %d: canceled: %v", n, err)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestMergeKeyValueMetadata: a key-value pair every input has with the
// same value is kept; one whose value differs between inputs (a Hudi bloom
// filter: of one file's keys) or that an input lacks is dropped, not the
// first input's; the key range is merged.
func TestMergeKeyValueMetadata(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	file := func(kv ...string) []byte {
		w := mustWriter(t, simpleSchema())
		var buf bytes.Buffer
		w.Reset(&buf)
		w.o.createdBy = "lakestream version test (build x)"
		if err := w.WriteRows(simpleRows(r, 100, []string{"a"})); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(kv); i += 2 {
			w.SetKeyValueMetadata(kv[i], kv[i+1])
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	_, out := merge(t, [][]byte{
		file("same", "1", "org.apache.hudi.bloomfilter", "filter of file 0", "only-first", "x", HudiMinRecordKey, "k2", HudiMaxRecordKey, "k5"),
		file("same", "1", "org.apache.hudi.bloomfilter", "filter of file 1", HudiMinRecordKey, "k1", HudiMaxRecordKey, "k3"),
	}, MergeKeyRange(HudiMinRecordKey, HudiMaxRecordKey))
	got := map[string]string{}
	for _, kv := range mustFooter(t, out).KeyValueMetadata {
		got[kv.Key] = kv.Value
	}
	want := map[string]string{"same": "1", HudiMinRecordKey: "k1", HudiMaxRecordKey: "k5"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("key-value metadata %v, want %v", got, want)
	}
}
