package parquetfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// TestRoundTrip writes generated files (every supported type, nested
// structs, nulls, each encoding, tiny pages and dictionary bounds, several
// row groups, each codec) and reads them back with parquet-go: every value,
// the chunk statistics, the page index and the CRCs (parquet-go checks
// them) must be right.
func TestRoundTrip(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 60
	}
	for seed := range seeds {
		if err := roundTrip(uint64(seed)); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

// FuzzRoundTrip is TestRoundTrip with the fuzzer choosing the seed.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(1234567))
	f.Fuzz(func(t *testing.T, seed uint64) {
		if err := roundTrip(seed); err != nil {
			t.Fatal(err)
		}
	})
}

// randomOptions picks writer options that make many pages, dictionary
// fallbacks and truncated bounds likely.
func randomOptions(r *rand.Rand) []Option {
	opts := []Option{
		WithPageBufferSize([]int{64, 700, 4096, 1 << 20}[r.IntN(4)]),
		WithDictionaryMaxBytes([]int{0, 64, 2048, 1 << 20}[r.IntN(4)]),
		WithColumnIndexSizeLimit([]int{0, 1, 4, 16, 64}[r.IntN(5)]),
		WithStatisticsSizeLimit([]int{0, 1, 4, 16, 64}[r.IntN(5)]),
		WithCreatedBy("lakestream test"),
	}
	if r.IntN(2) == 0 {
		opts = append(opts, WithValidatedValues()) // the generated values are valid
	}
	if r.IntN(2) == 0 {
		opts = append(opts, WithDictionary(parquet.Int32, parquet.Int64, parquet.Float, parquet.Double, parquet.ByteArray, parquet.FixedLenByteArray))
	}
	switch r.IntN(3) {
	case 1:
		opts = append(opts, WithCodec(NewZstd(ZstdDefault)))
	case 2:
		opts = append(opts, WithCodec(&parquet.Snappy))
	}
	return opts
}

func roundTrip(seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	schema, fields := genSchema(r, 1+r.IntN(8))
	// Two Writers sharing their dictionary tables (small, so that they are
	// replaced while chunks still use them), each writing two files: Reset
	// must leave nothing behind, and neither may see the other's values.
	shared := NewShared()
	shared.maxTable = []int{64, 4096, 0}[r.IntN(3)]
	opts := append(randomOptions(r), WithShared(shared))
	var writers [2]*Writer
	for i := range writers {
		var err error
		if writers[i], err = NewWriter(schema, opts...); err != nil {
			return err
		}
	}
	for file := range 2 {
		var runs [2]fileRun
		for i, w := range writers {
			runs[i] = newFileRun(r, w, fields)
		}
		for !runs[0].done() || !runs[1].done() {
			i := r.IntN(2)
			if err := runs[i].step(r); err != nil {
				return fmt.Errorf("file %d of writer %d: %w", file, i, err)
			}
		}
		for i, run := range runs {
			kv := fmt.Sprint(file, i)
			run.w.SetKeyValueMetadata("k", "v0")
			run.w.SetKeyValueMetadata("k", kv)
			if err := run.w.Close(); err != nil {
				return fmt.Errorf("file %d of writer %d: close: %w", file, i, err)
			}
			if err := verifyFile(run.w, run.buf.Bytes(), run.rows, run.groups, kv); err != nil {
				return fmt.Errorf("file %d of writer %d (%d rows, %d row groups): %w", file, i, len(run.rows), len(run.groups), err)
			}
		}
	}
	return nil
}

// fileRun writes generated rows to a file in random runs, by column or
// by row, flushing row groups at random.
type fileRun struct {
	w       *Writer
	buf     *bytes.Buffer
	rows    []parquet.Row
	groups  []int // rows of each row group
	done_   int
	inGroup int
}

func newFileRun(r *rand.Rand, w *Writer, fields []*genNode) fileRun {
	rows := make([]parquet.Row, r.IntN([]int{5, 300, 3000}[r.IntN(3)]))
	for i := range rows {
		rows[i] = genRow(r, fields, nil)
	}
	buf := new(bytes.Buffer)
	w.Reset(buf)
	generate(r, w, rows)
	return fileRun{w: w, buf: buf, rows: rows}
}

// generate makes some top-level columns constant or (byte arrays) a
// sequence, in the writer and in rows alike.
func generate(r *rand.Rand, w *Writer, rows []parquet.Row) {
	for c := range w.leaves {
		l := &w.leaves[c]
		if len(l.path) != 1 || len(rows) == 0 {
			continue
		}
		switch r.IntN(6) {
		case 0:
			v := rows[r.IntN(len(rows))][c]
			given := v.Clone()
			if err := w.SetConstant(c, given); err != nil {
				panic(err)
			}
			if !given.IsNull() && (l.kind == parquet.ByteArray || l.kind == parquet.FixedLenByteArray) {
				b := given.ByteArray() // SetConstant copies: the caller may reuse its bytes
				for i := range b {
					b[i] ^= 0x5A
				}
			}
			for _, row := range rows {
				row[c] = v
			}
		case 1:
			if l.kind != parquet.ByteArray {
				continue
			}
			prefix := []byte(fmt.Sprintf("seq_%d_", r.IntN(100)))
			first := r.Int64N(1000)
			if err := w.SetSequence(c, prefix, first); err != nil {
				panic(err)
			}
			for i, row := range rows {
				row[c] = parquet.ByteArrayValue(strconv.AppendInt(append([]byte(nil), prefix...), first+int64(i), 10)).Level(0, int(l.maxDef), c)
			}
		}
	}
}

func (f *fileRun) done() bool { return f.done_ == len(f.rows) && f.inGroup == 0 }

// step writes the next run, or ends the last row group.
func (f *fileRun) step(r *rand.Rand) error {
	if f.done_ == len(f.rows) {
		if f.inGroup > 0 {
			f.groups = append(f.groups, f.inGroup)
			f.inGroup = 0
		}
		return nil
	}
	n := min(len(f.rows)-f.done_, 1+r.IntN(600))
	run := f.rows[f.done_ : f.done_+n]
	allGenerated := true
	for _, c := range f.w.cols {
		allGenerated = allGenerated && c.gen != genNone
	}
	if r.IntN(2) == 0 || allGenerated {
		if err := f.w.WriteRows(run); err != nil {
			return err
		}
	} else {
		cols := make([][]parquet.Value, f.w.NumColumns())
		for _, row := range run {
			for c := range cols {
				if f.w.cols[c].gen == genNone {
					cols[c] = append(cols[c], row[c])
				}
			}
		}
		if err := f.w.WriteColumns(cols); err != nil {
			return err
		}
	}
	f.done_ += n
	f.inGroup += n
	if r.IntN(8) == 0 {
		if err := f.w.Flush(); err != nil {
			return err
		}
		f.groups = append(f.groups, f.inGroup)
		f.inGroup = 0
	}
	return nil
}

// verifyFile reads data, written by w, with parquet-go and checks it
// against rows.
func verifyFile(w *Writer, data []byte, rows []parquet.Row, groups []int, kv string) error {
	leaves := w.leaves
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	md := f.Metadata()
	ours, err := decodeFooter(data) // with the statistics' exactness
	if err != nil {
		return err
	}
	if md.NumRows != int64(len(rows)) || len(md.RowGroups) != len(groups) {
		return fmt.Errorf("footer: %d rows in %d row groups, want %d in %d", md.NumRows, len(md.RowGroups), len(rows), len(groups))
	}
	if len(md.KeyValueMetadata) != 1 || md.KeyValueMetadata[0].Key != "k" || md.KeyValueMetadata[0].Value != kv {
		return fmt.Errorf("key-value metadata %v", md.KeyValueMetadata)
	}
	// The column indexes are decoded here: parquet-go reads none when the
	// first chunk has none.
	ois := f.OffsetIndexes()
	first := 0
	for g, rg := range f.RowGroups() {
		want := rows[first : first+groups[g]]
		first += groups[g]
		if rg.NumRows() != int64(len(want)) {
			return fmt.Errorf("row group %d: %d rows, want %d", g, rg.NumRows(), len(want))
		}
		if err := readRows(rg, want); err != nil {
			return fmt.Errorf("row group %d: %w", g, err)
		}
		for c, chunk := range rg.ColumnChunks() {
			l := &leaves[c]
			cc := md.RowGroups[g].Columns[c]
			if err := checkChunkStats(l, ours.RowGroups[g].Columns[c].MetaData, want, w.o.statisticsSizeLimit); err != nil {
				return fmt.Errorf("row group %d column %v: statistics: %w", g, l.path, err)
			}
			ci, err := readColumnIndex(data, cc)
			if err != nil {
				return fmt.Errorf("row group %d column %v: %w", g, l.path, err)
			}
			if err := checkPageIndex(l, chunk, ci, ois[g*len(leaves)+c], cc.MetaData, w.o.columnIndexSizeLimit); err != nil {
				return fmt.Errorf("row group %d column %v: page index: %w", g, l.path, err)
			}
		}
	}
	return nil
}

// readColumnIndex decodes the chunk's column index from the file (nil if it
// has none).
func readColumnIndex(data []byte, cc format.ColumnChunk) (*format.ColumnIndex, error) {
	if cc.ColumnIndexOffset == 0 && cc.ColumnIndexLength == 0 {
		return nil, nil
	}
	end := cc.ColumnIndexOffset + int64(cc.ColumnIndexLength)
	if cc.ColumnIndexOffset <= 0 || cc.ColumnIndexLength <= 0 || end > int64(len(data)) {
		return nil, fmt.Errorf("column index at %d+%d outside the file", cc.ColumnIndexOffset, cc.ColumnIndexLength)
	}
	ci := new(format.ColumnIndex)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), data[cc.ColumnIndexOffset:end], ci); err != nil {
		return nil, fmt.Errorf("column index: %w", err)
	}
	return ci, nil
}

// readRows reads a row group's rows and compares them with want.
func readRows(rg parquet.RowGroup, want []parquet.Row) error {
	rr := rg.Rows()
	defer rr.Close()
	buf := make([]parquet.Row, 97)
	i := 0
	for {
		n, err := rr.ReadRows(buf)
		for _, got := range buf[:n] {
			if i >= len(want) {
				return fmt.Errorf("more rows than the %d written", len(want))
			}
			if !rowsEqual(got, want[i]) {
				return fmt.Errorf("row %d: got %v, want %v", i, got, want[i])
			}
			i++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if i != len(want) {
		return fmt.Errorf("read %d rows, want %d", i, len(want))
	}
	return nil
}

func rowsEqual(a, b parquet.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.DefinitionLevel() != y.DefinitionLevel() || x.RepetitionLevel() != y.RepetitionLevel() || x.Column() != y.Column() || x.IsNull() != y.IsNull() {
			return false
		}
		if x.IsNull() {
			continue
		}
		switch x.Kind() {
		case parquet.Float:
			if math.Float32bits(x.Float()) != math.Float32bits(y.Float()) {
				return false
			}
		case parquet.Double:
			if math.Float64bits(x.Double()) != math.Float64bits(y.Double()) {
				return false
			}
		default:
			if !parquet.Equal(x, y) {
				return false
			}
		}
	}
	return true
}

// exactBounds returns the smallest and largest non-null values of column c
// in rows, NaN left out (ok false if there are none), and the nulls.
func exactBounds(l *leaf, values []parquet.Value) (lo, hi parquet.Value, ok, nan bool, nulls int64) {
	for _, v := range values {
		if v.IsNull() {
			nulls++
			continue
		}
		if isNaN(v) {
			nan = true
			continue
		}
		if !ok {
			lo, hi, ok = v, v, true
			continue
		}
		if compareValues(l, v, lo) < 0 {
			lo = v
		}
		if compareValues(l, v, hi) > 0 {
			hi = v
		}
	}
	return lo, hi, ok, nan, nulls
}

func isNaN(v parquet.Value) bool {
	switch v.Kind() {
	case parquet.Float:
		return math.IsNaN(float64(v.Float()))
	case parquet.Double:
		return math.IsNaN(v.Double())
	}
	return false
}

func columnValues(rows []parquet.Row, c int) []parquet.Value {
	out := make([]parquet.Value, len(rows))
	for i, row := range rows {
		out[i] = row[c]
	}
	return out
}

// checkChunkStats: null count, exact min and max (zero as -0 and +0),
// values count, and the chunk's encodings. Byte array bounds longer than
// limit are truncated (checkByteArrayBounds).
func checkChunkStats(l *leaf, md columnMetaData, rows []parquet.Row, limit int) error {
	values := columnValues(rows, l.index)
	lo, hi, ok, nan, nulls := exactBounds(l, values)
	st := md.Statistics
	if st.NullCount != nulls || md.NumValues != int64(len(values)) {
		return fmt.Errorf("%d values, %d nulls; want %d, %d", md.NumValues, st.NullCount, len(values), nulls)
	}
	switch {
	case nan:
		if st.MinValue != nil || st.MaxValue != nil {
			return fmt.Errorf("a NaN in the chunk, but bounds %x %x", st.MinValue, st.MaxValue)
		}
	case ok && l.truncate:
		if st.MinValue == nil && st.MaxValue == nil {
			if _, _, has := appendMax(nil, hi.ByteArray(), limit); has {
				return fmt.Errorf("bounds missing, want [%q, %q] truncated to %d bytes", lo.ByteArray(), hi.ByteArray(), limit)
			}
			return nil // no upper bound of at most limit bytes
		}
		if st.MinValue == nil || st.MaxValue == nil || !st.IsMinValueExact.Valid || !st.IsMaxValueExact.Valid {
			return fmt.Errorf("bounds %x %x, exact %v %v: want both, and whether they are exact", st.MinValue, st.MaxValue, st.IsMinValueExact, st.IsMaxValueExact)
		}
		if err := checkByteArrayBound(st.MinValue, lo.ByteArray(), limit, false, st.IsMinValueExact.V); err != nil {
			return fmt.Errorf("min: %w", err)
		}
		if err := checkByteArrayBound(st.MaxValue, hi.ByteArray(), limit, true, st.IsMaxValueExact.V); err != nil {
			return fmt.Errorf("max: %w", err)
		}
	case ok:
		if st.MinValue == nil || st.MaxValue == nil {
			return fmt.Errorf("bounds missing (%x %x), want [%v, %v]", st.MinValue, st.MaxValue, lo, hi)
		}
		gotLo, gotHi := l.kind.Value(st.MinValue), l.kind.Value(st.MaxValue)
		if compareValues(l, gotLo, lo) != 0 || compareValues(l, gotHi, hi) != 0 {
			return fmt.Errorf("bounds [%v, %v], want [%v, %v]", gotLo, gotHi, lo, hi)
		}
		if l.order == orderFloat && (zeroSign(gotLo) == 1 || zeroSign(gotHi) == -1) {
			return fmt.Errorf("bounds [%v, %v]: a zero minimum must be -0 and a zero maximum +0", gotLo, gotHi)
		}
	default:
		if st.MinValue != nil || st.MaxValue != nil {
			return fmt.Errorf("only nulls, but bounds %x %x", st.MinValue, st.MaxValue)
		}
	}
	return nil
}

// checkByteArrayBound checks a byte array bound got of the exact bound want
// (a maximum if upper) under a size limit (0: none): want itself if it fits
// (and then said exact), else a bound of at most limit bytes, said not
// exact, below (above) want, and valid UTF-8 if want is.
func checkByteArrayBound(got, want []byte, limit int, upper, exact bool) error {
	if limit <= 0 || len(want) <= limit {
		if !bytes.Equal(got, want) || !exact {
			return fmt.Errorf("%q (exact %t), want %q exact", got, exact, want)
		}
		return nil
	}
	switch c := bytes.Compare(got, want); {
	case exact:
		return fmt.Errorf("%q of %q (%d bytes, limit %d) is said exact", got, want, len(want), limit)
	case len(got) > limit:
		return fmt.Errorf("%q is %d bytes, limit %d", got, len(got), limit)
	case upper && c <= 0, !upper && c > 0:
		return fmt.Errorf("%q does not bound %q (upper %t)", got, want, upper)
	case utf8.Valid(want) && !utf8.Valid(got):
		return fmt.Errorf("%q is not UTF-8, %q is", got, want)
	}
	return nil
}

// zeroSign returns -1 for -0, 1 for +0 and 0 for anything else.
func zeroSign(v parquet.Value) int {
	f := v.Double()
	if v.Kind() == parquet.Float {
		f = float64(v.Float())
	}
	switch {
	case f != 0:
		return 0
	case math.Signbit(f):
		return -1
	}
	return 1
}

// checkPageIndex reads each page of the chunk and checks its entries in
// the column and offset indexes: null counts, null pages, bounds that hold
// the page's values (byte arrays may be truncated to wider bounds; the
// others are exact), first rows, the boundary order.
// A chunk with a NaN has no column index, any other one has.
func checkPageIndex(l *leaf, chunk parquet.ColumnChunk, ci *format.ColumnIndex, oi format.OffsetIndex, md format.ColumnMetaData, limit int) error {
	pages := chunk.Pages()
	defer pages.Close()
	var pageValues [][]parquet.Value
	var firstRow int64
	for p := 0; ; p++ {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("page %d: %w", p, err)
		}
		values := make([]parquet.Value, page.NumValues())
		n, err := page.Values().ReadValues(values)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("page %d: values: %w", p, err)
		}
		for i := range values[:n] {
			values[i] = values[i].Clone()
		}
		pageValues = append(pageValues, values[:n])
		parquet.Release(page)
	}
	if len(pageValues) != len(oi.PageLocations) {
		return fmt.Errorf("%d pages, the offset index has %d", len(pageValues), len(oi.PageLocations))
	}
	nan, unbounded := false, false
	for p, values := range pageValues {
		loc := oi.PageLocations[p]
		switch {
		case loc.FirstRowIndex != firstRow:
			return fmt.Errorf("page %d: first row %d, want %d", p, loc.FirstRowIndex, firstRow)
		case loc.Offset < md.DataPageOffset || loc.Offset >= md.DataPageOffset+md.TotalCompressedSize:
			return fmt.Errorf("page %d: offset %d outside the chunk", p, loc.Offset)
		}
		firstRow += int64(len(values))
		_, hi, ok, pageNaN, _ := exactBounds(l, values)
		nan = nan || pageNaN
		if ok && l.truncate {
			_, _, has := appendMax(nil, hi.ByteArray(), limit)
			unbounded = unbounded || !has
		}
	}
	switch {
	case (nan || unbounded) && ci != nil:
		return fmt.Errorf("a NaN in the chunk or a page maximum without a bound of %d bytes, but a column index", limit)
	case nan || unbounded:
		return nil
	case ci == nil:
		return fmt.Errorf("no column index")
	}
	if len(ci.NullPages) != len(pageValues) || len(ci.MinValues) != len(pageValues) || len(ci.MaxValues) != len(pageValues) {
		return fmt.Errorf("%d pages, the column index has %d/%d/%d", len(pageValues), len(ci.NullPages), len(ci.MinValues), len(ci.MaxValues))
	}
	for p, values := range pageValues {
		lo, hi, _, _, nulls := exactBounds(l, values)
		switch {
		case p >= len(ci.NullCounts) || ci.NullCounts[p] != nulls:
			return fmt.Errorf("page %d: %d nulls, the index says %v", p, nulls, ci.NullCounts)
		case ci.NullPages[p] != (int(nulls) == len(values)):
			return fmt.Errorf("page %d: null page %t, %d of %d values null", p, ci.NullPages[p], nulls, len(values))
		}
		if ci.NullPages[p] {
			if len(ci.MinValues[p]) != 0 || len(ci.MaxValues[p]) != 0 {
				return fmt.Errorf("null page %d has bounds", p)
			}
			continue
		}
		minV, maxV := l.kind.Value(ci.MinValues[p]), l.kind.Value(ci.MaxValues[p])
		switch {
		case l.truncate:
			if err := checkByteArrayBound(ci.MinValues[p], lo.ByteArray(), limit, false, len(lo.ByteArray()) <= limit || limit <= 0); err != nil {
				return fmt.Errorf("page %d: min: %w", p, err)
			}
			if err := checkByteArrayBound(ci.MaxValues[p], hi.ByteArray(), limit, true, len(hi.ByteArray()) <= limit || limit <= 0); err != nil {
				return fmt.Errorf("page %d: max: %w", p, err)
			}
		default:
			if compareValues(l, minV, lo) != 0 || compareValues(l, maxV, hi) != 0 {
				return fmt.Errorf("page %d: index bounds [%v, %v], want [%v, %v]", p, minV, maxV, lo, hi)
			}
		}
	}
	return checkBoundaryOrder(l, *ci)
}

// checkBoundaryOrder checks that an ascending (descending) index has its
// non-null pages' bounds in that order.
func checkBoundaryOrder(l *leaf, ci format.ColumnIndex) error {
	if ci.BoundaryOrder == format.Unordered {
		return nil
	}
	prev := -1
	for p := range ci.NullPages {
		if ci.NullPages[p] {
			continue
		}
		if prev >= 0 {
			cmin := compareValues(l, l.kind.Value(ci.MinValues[p]), l.kind.Value(ci.MinValues[prev]))
			cmax := compareValues(l, l.kind.Value(ci.MaxValues[p]), l.kind.Value(ci.MaxValues[prev]))
			if ci.BoundaryOrder == format.Ascending && (cmin < 0 || cmax < 0) ||
				ci.BoundaryOrder == format.Descending && (cmin > 0 || cmax > 0) {
				return fmt.Errorf("boundary order %v, but page %d's bounds come after page %d's", ci.BoundaryOrder, p, prev)
			}
		}
		prev = p
	}
	return nil
}

// decodeFooter decodes the footer of a file with the package's footer
// types (which have the statistics' exactness).
func decodeFooter(data []byte) (*fileMetaData, error) {
	if len(data) < 12 {
		return nil, fmt.Errorf("file of %d bytes", len(data))
	}
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	if n > len(data)-12 {
		return nil, fmt.Errorf("footer of %d bytes in a file of %d", n, len(data))
	}
	md := new(fileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), data[len(data)-8-n:len(data)-8], md); err != nil {
		return nil, fmt.Errorf("footer: %w", err)
	}
	return md, nil
}
