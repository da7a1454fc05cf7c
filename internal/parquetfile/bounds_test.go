package parquetfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// checkTruncation checks the bounds truncateMin and appendMax make of v
// under the limit n: the minimum a prefix of v of at most n bytes, the
// maximum above v, at most n bytes, appended to what dst held; each v
// itself (and said exact) when v fits, and said not exact when not; both
// valid UTF-8 when v is. Both come from the prefix of v cut at n bytes, or
// up to 3 bytes before so as not to cut a UTF-8 sequence. A maximum is
// missing only when no byte of that prefix is below 0x7F (each could be
// incremented in place).
func checkTruncation(v []byte, n int) error {
	k := len(v)
	if n > 0 && len(v) > n {
		k = truncatedLen(v, n)
		switch {
		case k > n || k < n-3:
			return fmt.Errorf("%q cut at %d, limit %d", v, k, n)
		case k < n && !utf8.RuneStart(v[k]):
			return fmt.Errorf("%q cut at %d, inside a UTF-8 sequence", v, k)
		case k < n && !continuations(v[k+1:n+1]):
			return fmt.Errorf("%q cut at %d, not %d", v, k, n)
		}
	}
	lo, loExact := truncateMin(v, n)
	dst := []byte("dst")
	out, hiExact, ok := appendMax(dst, v, n)
	fits := n <= 0 || len(v) <= n
	switch {
	case !bytes.HasPrefix(v, lo):
		return fmt.Errorf("min %q is not a prefix of %q", lo, v)
	case loExact != fits || fits && len(lo) != len(v):
		return fmt.Errorf("min %q of %q (limit %d): exact %t", lo, v, n, loExact)
	case !fits && len(lo) > n:
		return fmt.Errorf("min %q is %d bytes, limit %d", lo, len(lo), n)
	case utf8.Valid(v) && !utf8.Valid(lo):
		return fmt.Errorf("min %q of %q is not UTF-8", lo, v)
	case !bytes.HasPrefix(out, []byte("dst")):
		return fmt.Errorf("appendMax did not append: %q", out)
	}
	hi := out[len("dst"):]
	if !ok {
		if fits || hiExact {
			return fmt.Errorf("no max of %q (limit %d), exact %t", v, n, hiExact)
		}
		for _, b := range v[:k] {
			if b < 0x7F {
				return fmt.Errorf("no max of %q (limit %d), but byte %#x could be incremented", v, n, b)
			}
		}
		return nil
	}
	switch c := bytes.Compare(hi, v); {
	case hiExact != fits:
		return fmt.Errorf("max %q of %q (limit %d): exact %t", hi, v, n, hiExact)
	case fits && c != 0:
		return fmt.Errorf("max %q of %q, which fits in %d bytes", hi, v, n)
	case !fits && c <= 0:
		return fmt.Errorf("max %q is not above %q", hi, v)
	case !fits && len(hi) > n:
		return fmt.Errorf("max %q is %d bytes, limit %d", hi, len(hi), n)
	case utf8.Valid(v) && !utf8.Valid(hi):
		return fmt.Errorf("max %q of %q is not UTF-8", hi, v)
	}
	return nil
}

// continuations reports whether every byte of b continues a UTF-8
// sequence.
func continuations(b []byte) bool {
	for _, c := range b {
		if utf8.RuneStart(c) {
			return false
		}
	}
	return true
}

func TestTruncateBounds(t *testing.T) {
	for _, c := range []struct {
		v      string
		n      int
		lo, hi string // hi "-": none
	}{
		{"abc", 0, "abc", "abc"},
		{"abc", 3, "abc", "abc"},
		{"abcd", 3, "abc", "abd"},
		{"abcd", 64, "abcd", "abcd"},
		{"ab\xff\xffz", 4, "ab\xff\xff", "ac"},
		{"\xff\xff\xff\xffz", 4, "\xff\xff\xff\xff", "-"},
		{"a\u00e9b", 2, "a", "b"},                  // é is 2 bytes: not cut inside
		{"a\u00e9b", 3, "a\u00e9", "a\u00ea"},      // é + 1 is ê
		{"a\u007fb", 2, "a\u007f", "b"},            // U+0080 needs 2 bytes: no room
		{"a\u007f\u00e9", 3, "a\u007f", "a\u0080"}, // ... here there is
		{"x\ud7ffz", 4, "x\ud7ff", "x\ue000"},      // no surrogate
		{"x\U0010ffffz", 5, "x\U0010ffff", "y"},    // the largest code point is dropped
		{"\U0010ffff\U0010ffffz", 8, "\U0010ffff\U0010ffff", "-"},
		{"\u00e9\u00e9", 1, "", "-"}, // no UTF-8 bound of one byte above é
		{"a\xc3", 1, "a", "b"},       // not UTF-8: bytes
		{"ab\x80\x80", 3, "a", "b"},  // a stray continuation byte: cut before it
		{"\x80\x80\x80\x80\x80", 3, "\x80\x80\x80", "\x80\x80\x81"},
		{strings.Repeat("x", 1<<20), 64, strings.Repeat("x", 64), strings.Repeat("x", 63) + "y"},
	} {
		lo, _ := truncateMin([]byte(c.v), c.n)
		hi, _, ok := appendMax(nil, []byte(c.v), c.n)
		if string(lo) != c.lo || (c.hi == "-") == ok || ok && string(hi) != c.hi {
			t.Errorf("bounds of %.20q at %d: [%q, %q] (max %t), want [%q, %q]", c.v, c.n, lo, hi, ok, c.lo, c.hi)
		}
		if err := checkTruncation([]byte(c.v), c.n); err != nil {
			t.Error(err)
		}
	}
}

// FuzzTruncateBounds: whatever the bytes and the limit, the truncated
// bounds hold the value (checkTruncation).
func FuzzTruncateBounds(f *testing.F) {
	for _, s := range []string{"", "abc", "\xff\xff\xff", "a\u00e9\u4e2d\U0001f600", "\U0010ffff\U0010ffffa", "\u007f\u07ff\uffff", "\x80\xbf\xc0"} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, v []byte, n uint8) {
		if err := checkTruncation(v, int(n%80)); err != nil {
			t.Fatal(err)
		}
	})
}

// footerLen returns the length of a file's footer.
func footerLen(data []byte) int { return int(binary.LittleEndian.Uint32(data[len(data)-8:])) }

// pageIndexLen returns the bytes of a file's column indexes.
func columnIndexLen(t *testing.T, data []byte) int {
	t.Helper()
	n := 0
	for _, rg := range footer(t, data).RowGroups {
		for _, cc := range rg.Columns {
			n += int(cc.ColumnIndexLength)
		}
	}
	return n
}

// writeParquetGoBounded writes rows with parquet-go as package writer
// does: its page index whole, through a BoundsRewriter, one row group per
// element of groups (a count of rows).
func writeParquetGoBounded(t testing.TB, schema *parquet.Schema, rows []parquet.Row, groups []int, ciLimit, stLimit int) []byte {
	t.Helper()
	b, err := NewBoundsRewriter(ciLimit, stLimit)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	b.Reset(&buf)
	pw := parquet.NewWriter(b, schema, parquet.DataPageVersion(1), parquet.DataPageStatistics(false), parquet.PageBufferSize(512),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary), parquet.ColumnIndexSizeLimit(func([]string) int { return 0 }),
		parquet.CreatedBy("lakestream", "test", "x"))
	for _, n := range groups {
		if _, err := pw.WriteRows(rows[:n]); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
		if err := pw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	b.Hold()
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeOursGroups writes rows with Writer, one row group per element of
// groups.
func writeOursGroups(t testing.TB, schema *parquet.Schema, rows []parquet.Row, groups []int, opts ...Option) []byte {
	t.Helper()
	w, err := NewWriter(schema, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	for _, n := range groups {
		if err := w.WriteRows(rows[:n]); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// listSchema has a list column: parquetfile does not support it, so
// package writer writes it with parquet-go.
func listSchema() *parquet.Schema {
	return parquet.NewSchema("l", newOrderedGroup([]string{"id", "s", "b", "tags"}, []parquet.Node{
		parquet.Int(64), parquet.Optional(parquet.String()), parquet.Optional(parquet.Leaf(parquet.ByteArrayType)), parquet.List(parquet.Int(32)),
	}))
}

func flatSchema() *parquet.Schema {
	return parquet.NewSchema("f", newOrderedGroup([]string{"id", "s", "b"}, []parquet.Node{
		parquet.Int(64), parquet.Optional(parquet.String()), parquet.Optional(parquet.Leaf(parquet.ByteArrayType)),
	}))
}

// boundsRow makes a row of flatSchema (listSchema if list) of id, s and b.
func boundsRow(list bool, id int, s, b []byte) parquet.Row {
	row := parquet.Row{parquet.Int64Value(int64(id)).Level(0, 0, 0), parquet.NullValue().Level(0, 0, 1), parquet.NullValue().Level(0, 0, 2)}
	if s != nil {
		row[1] = parquet.ByteArrayValue(s).Level(0, 1, 1)
	}
	if b != nil {
		row[2] = parquet.ByteArrayValue(b).Level(0, 1, 2)
	}
	if list {
		row = append(row, parquet.Int32Value(int32(id)).Level(0, 1, 3), parquet.Int32Value(7).Level(1, 1, 3))
	}
	return row
}

// TestHugeValueHasSmallFooter: a value of 8 MiB is in the file where it is
// written (its pages), not in the footer's statistics nor the column index, with both
// encoders: the footer and the column indexes stay a few hundred bytes.
// Before, the footer held the value twice (min and max of its chunk).
func TestHugeValueHasSmallFooter(t *testing.T) {
	huge := bytes.Repeat([]byte("https://example.com/"), 8<<20/20)
	for _, list := range []bool{false, true} {
		rows := []parquet.Row{boundsRow(list, 0, []byte("a"), []byte("a")), boundsRow(list, 1, huge, huge), boundsRow(list, 2, []byte("b"), nil),
			boundsRow(list, 3, huge, huge)}
		groups := []int{3, 1} // the second row group: only the huge value, min and max
		var data []byte
		if list {
			data = writeParquetGoBounded(t, listSchema(), rows, groups, DefaultColumnIndexSizeLimit, DefaultStatisticsSizeLimit)
		} else {
			data = writeOursGroups(t, flatSchema(), rows, groups)
		}
		if n, ci := footerLen(data), columnIndexLen(t, data); n > 2048 || ci > 2048 || len(data) > len(huge)*4+100<<10 {
			t.Errorf("list %t: a value of %d bytes makes a file of %d bytes, a footer of %d and column indexes of %d; want at most 2 KiB each", list, len(huge), len(data), n, ci)
		}
		md, err := decodeFooter(data)
		if err != nil {
			t.Fatal(err)
		}
		st := md.RowGroups[1].Columns[1].MetaData.Statistics
		if !bytes.HasPrefix(huge, st.MinValue) || bytes.Compare(st.MaxValue, huge) <= 0 || st.IsMinValueExact != thrift.New(false) || st.IsMaxValueExact != thrift.New(false) {
			t.Errorf("list %t: bounds [%.70q, %.70q] (exact %v %v), want a prefix and a bound above, not exact", list, st.MinValue, st.MaxValue, st.IsMinValueExact, st.IsMaxValueExact)
		}
		if st := md.RowGroups[0].Columns[2].MetaData.Statistics; string(st.MinValue) != "a" || !bytes.HasPrefix(st.MaxValue, []byte("https://")) ||
			st.IsMinValueExact != thrift.New(true) || st.IsMaxValueExact != thrift.New(false) {
			t.Errorf("list %t: bounds [%q, %.70q] (exact %v %v), want [a, https://...], the min exact", list, st.MinValue, st.MaxValue, st.IsMinValueExact, st.IsMaxValueExact)
		}
		// The rows read back.
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if f.NumRows() != 4 {
			t.Errorf("list %t: %d rows", list, f.NumRows())
		}
		p := writeTemp(t, "huge.parquet", data)
		var n int64
		if err := openDuckDB(t).QueryRow(fmt.Sprintf(`SELECT count(*) FROM read_parquet('%s') WHERE s = ? AND b = ?`, p), string(huge), huge).Scan(&n); err != nil || n != 2 {
			t.Errorf("list %t: DuckDB finds %d rows of the huge value (%v), want 2", list, n, err)
		}
	}
}

// boundsValues makes the values of the bounds tests: per row group, values
// that share a prefix of the group (so that each row group's bounds prune
// others), with characters of 1 to 4 UTF-8 bytes, those whose successor is
// longer, U+10FFFF (s), and bytes 0x7F to 0xFF (b), cut at every length.
func boundsValues(r *rand.Rand, group int) (s, b []byte) {
	runes := []rune{'a', 'b', 'z', 0x7F, 0xE9, 0x7FF, 0x4E2D, 0xFFFF, 0x1F600, 0x10FFFF}
	prefixes := []string{"", "a", "ab", "abc", "ab\u00e9", "a\u007f", "\u4e2d", "\U0010ffff\U0010ffff", "zz\U0001f600"}
	s = []byte(prefixes[group%len(prefixes)])
	for range r.IntN(12) {
		s = utf8.AppendRune(s, runes[r.IntN(len(runes))])
	}
	b = []byte{byte('a' + group%3)}
	if group%4 == 3 {
		b = []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	}
	for range r.IntN(10) {
		b = append(b, []byte{0x00, 'a', 0x7F, 0x80, 0xFE, 0xFF}[r.IntN(6)])
	}
	return s, b
}

// TestTruncatedBoundsPruneRight: DuckDB prunes row groups with the
// truncated bounds (it keeps 8 bytes of a string bound, so the limits are
// small here, to make truncation count) and still returns every row that
// matches =, <, >, BETWEEN and a LIKE prefix, as a scan of all rows finds
// them, with both encoders. A maximum truncated without its increment, or
// cut inside a UTF-8 sequence, loses rows here.
func TestTruncatedBoundsPruneRight(t *testing.T) {
	db := openDuckDB(t)
	for _, limit := range []int{3, 5, 64} {
		for _, list := range []bool{false, true} {
			r := rand.New(rand.NewPCG(uint64(limit), 3))
			var rows []parquet.Row
			var groups []int
			var ss, bs [][]byte
			for g := range 30 {
				n := 1 + r.IntN(40)
				for range n {
					s, b := boundsValues(r, g)
					if r.IntN(10) == 0 {
						s = nil
					}
					rows = append(rows, boundsRow(list, len(rows), s, b))
					if s != nil {
						ss = append(ss, s)
					}
					bs = append(bs, b)
				}
				groups = append(groups, n)
			}
			var data []byte
			if list {
				data = writeParquetGoBounded(t, listSchema(), rows, groups, limit, limit)
			} else {
				data = writeOursGroups(t, flatSchema(), rows, groups, WithColumnIndexSizeLimit(limit), WithStatisticsSizeLimit(limit), WithPageBufferSize(64))
			}
			name := fmt.Sprintf("limit %d list %t", limit, list)
			p := writeTemp(t, "bounds.parquet", data)
			if _, err := db.Exec(fmt.Sprintf(`CREATE OR REPLACE TABLE scanned AS SELECT * FROM read_parquet('%s')`, p)); err != nil {
				t.Fatal(err)
			}
			count := func(from, where string, args ...any) int64 {
				t.Helper()
				var n int64
				if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, from, where), args...).Scan(&n); err != nil {
					t.Fatalf("%s: WHERE %s: %v", name, where, err)
				}
				return n
			}
			file := fmt.Sprintf("read_parquet('%s')", p)
			if n := count("scanned", "true"); n != int64(len(rows)) {
				t.Fatalf("%s: %d rows scanned, want %d", name, n, len(rows))
			}
			matched := 0
			check := func(where string, args ...any) {
				t.Helper()
				got, want := count(file, where, args...), count("scanned", where, args...)
				if got != want {
					t.Errorf("%s: WHERE %s %q: %d rows from the file, %d in a scan of every row", name, where, args, got, want)
				}
				matched += int(want)
			}
			for range 60 {
				s, s2 := ss[r.IntN(len(ss))], ss[r.IntN(len(ss))]
				if bytes.Compare(s, s2) > 0 {
					s, s2 = s2, s
				}
				check("s = ?", string(s))
				check("s < ?", string(s))
				check("s > ?", string(s))
				check("s BETWEEN ? AND ?", string(s), string(s2))
				if len(s) >= 2 {
					cut := truncatedLen(s, len(s)/2)
					check("s LIKE ?", string(s[:cut])+"%")
				}
				b, b2 := bs[r.IntN(len(bs))], bs[r.IntN(len(bs))]
				if bytes.Compare(b, b2) > 0 {
					b, b2 = b2, b
				}
				check("b = ?", b)
				check("b < ?", b)
				check("b > ?", b)
				check("b BETWEEN ? AND ?", b, b2)
			}
			if matched == 0 {
				t.Fatalf("%s: no predicate matched a row", name)
			}
		}
	}
}

// TestFooterTypesMirrorParquetGo: the package's footer types encode a
// footer as parquet-go's do (their statistics' fields 7 and 8 aside),
// whatever it holds: footers of generated schemas and of lists, written by
// parquet-go, decode and encode again to the same bytes.
func TestFooterTypesMirrorParquetGo(t *testing.T) {
	proto := new(thrift.CompactProtocol)
	check := func(name string, data []byte) {
		t.Helper()
		raw := data[len(data)-8-footerLen(data) : len(data)-8]
		var ours fileMetaData
		if err := thrift.Unmarshal(proto, raw, &ours); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := thrift.Marshal(proto, &ours)
		if err != nil {
			t.Fatal(err)
		}
		var theirs format.FileMetaData
		if err := thrift.Unmarshal(proto, raw, &theirs); err != nil {
			t.Fatal(err)
		}
		viaTheirs, err := thrift.Marshal(proto, &theirs)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, raw) || !bytes.Equal(viaTheirs, raw) {
			t.Fatalf("%s: a footer of %d bytes encodes again to %d bytes (%d with parquet-go's types)", name, len(raw), len(again), len(viaTheirs))
		}
	}
	for seed := range 20 {
		r := rand.New(rand.NewPCG(uint64(seed), 5))
		schema, fields := genSchema(r, 1+r.IntN(8))
		rows := make([]parquet.Row, 1+r.IntN(300))
		for i := range rows {
			rows[i] = genRow(r, fields, nil)
		}
		check(fmt.Sprint("seed ", seed), writeParquetGo(t, schema, rows, parquet.Compression(&parquet.Zstd), parquet.KeyValueMetadata("k", "v"),
			parquet.SortingWriterConfig(parquet.SortingColumns(parquet.Ascending(schema.Fields()[0].Name())))))
	}
	rows := []parquet.Row{boundsRow(true, 1, []byte("x"), nil), boundsRow(true, 2, nil, []byte("y"))}
	check("list", writeParquetGo(t, listSchema(), rows))
}

// TestBoundsRewriterRefusesOtherTails: a tail that is not a page index and
// a footer, or that holds more between them, is an error, not a file with
// bytes lost.
func TestBoundsRewriterRefusesOtherTails(t *testing.T) {
	rows := []parquet.Row{boundsRow(true, 1, []byte("x"), nil)}
	good := writeParquetGo(t, listSchema(), rows)
	md := footer(t, good)
	first := md.RowGroups[0].Columns[0].ColumnIndexOffset
	tail := good[first:]
	if _, err := truncateTail(tail, first, 4, 4); err != nil {
		t.Fatalf("the tail of a parquet-go file: %v", err)
	}
	for name, c := range map[string]struct {
		tail  []byte
		start int64
	}{
		"no magic":         {tail[:len(tail)-1], first},
		"short":            {[]byte("PAR1"), 0},
		"bytes between":    {slices.Concat(tail[:len(tail)-8-footerLen(good)], []byte("X"), tail[len(tail)-8-footerLen(good):]), first},
		"footer too long":  {append(slices.Clone(tail[:len(tail)-8]), 0xff, 0xff, 0, 0, 'P', 'A', 'R', '1'), first},
		"index not inside": {tail[1:], first + 1},
	} {
		if _, err := truncateTail(c.tail, c.start, 4, 4); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestBoundsRewriterRoundTrip: files of generated rows written by
// parquet-go through a BoundsRewriter, with limits of 0 to 64 bytes, have
// the byte array bounds Writer's files have (checkChunkStats,
// checkPageIndex): truncated, holding every value, a column index only if
// every page's maximum has a bound.
func TestBoundsRewriterRoundTrip(t *testing.T) {
	for seed := range 40 {
		r := rand.New(rand.NewPCG(uint64(seed), 13))
		schema, fields := genSchema(r, 1+r.IntN(8))
		leaves, err := leavesOf(schema, defaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		rows := make([]parquet.Row, 1+r.IntN(2000))
		for i := range rows {
			rows[i] = genRow(r, fields, nil)
		}
		var groups []int
		for left := len(rows); left > 0; {
			n := min(left, 1+r.IntN(800))
			groups = append(groups, n)
			left -= n
		}
		ciLimit, stLimit := []int{0, 1, 4, 16, 64}[r.IntN(5)], []int{0, 1, 4, 16, 64}[r.IntN(5)]
		data := writeParquetGoBounded(t, schema, rows, groups, ciLimit, stLimit)
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		md, err := decodeFooter(data)
		if err != nil {
			t.Fatal(err)
		}
		ois := f.OffsetIndexes()
		first := 0
		for g, rg := range f.RowGroups() {
			want := rows[first : first+groups[g]]
			first += groups[g]
			if err := readRows(rg, want); err != nil {
				t.Fatalf("seed %d row group %d: %v", seed, g, err)
			}
			for c, chunk := range rg.ColumnChunks() {
				l := &leaves[c]
				if !l.truncate {
					continue // parquet-go's own bounds, untouched
				}
				cc := f.Metadata().RowGroups[g].Columns[c]
				if err := checkChunkStats(l, md.RowGroups[g].Columns[c].MetaData, want, stLimit); err != nil {
					t.Fatalf("seed %d row group %d column %v: statistics: %v", seed, g, l.path, err)
				}
				ci, err := readColumnIndex(data, cc)
				if err != nil {
					t.Fatalf("seed %d row group %d column %v: %v", seed, g, l.path, err)
				}
				if err := checkPageIndex(l, chunk, ci, ois[g*len(leaves)+c], cc.MetaData, ciLimit); err != nil {
					t.Fatalf("seed %d row group %d column %v (limit %d): page index: %v", seed, g, l.path, ciLimit, err)
				}
			}
		}
	}
}
