package parquetfile

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

func randomColumnIndex(r *rand.Rand) *format.ColumnIndex {
	n := r.IntN(20)
	if r.IntN(4) == 0 {
		n = r.IntN(300) // a list size past 14: its own varint
	}
	ci := &format.ColumnIndex{BoundaryOrder: format.BoundaryOrder(r.IntN(3))}
	for range n {
		ci.NullPages = append(ci.NullPages, r.IntN(3) == 0)
		lo := make([]byte, r.IntN(20))
		for i := range lo {
			lo[i] = byte(r.Uint32())
		}
		ci.MinValues = append(ci.MinValues, lo)
		ci.MaxValues = append(ci.MaxValues, append(slices.Clone(lo), byte(r.Uint32())))
		ci.NullCounts = append(ci.NullCounts, r.Int64N(1<<40)-r.Int64N(2))
	}
	if r.IntN(2) == 0 {
		for range n * 2 {
			ci.DefinitionLevelHistogram = append(ci.DefinitionLevelHistogram, r.Int64N(1<<50))
		}
	}
	if r.IntN(4) == 0 {
		ci.RepetitionLevelHistogram = []int64{1, 2, 3}
	}
	return ci
}

func randomOffsetIndex(r *rand.Rand) *format.OffsetIndex {
	oi := &format.OffsetIndex{}
	for range r.IntN(40) {
		oi.PageLocations = append(oi.PageLocations, format.PageLocation{Offset: r.Int64N(1 << 40), CompressedPageSize: r.Int32() - r.Int32(), FirstRowIndex: r.Int64N(1 << 50)})
	}
	if r.IntN(2) == 0 {
		oi.UnencodedByteArrayDataBytes = []int64{r.Int64N(1 << 30), -1}
	}
	return oi
}

// sameColumnIndex compares two column indexes, a nil list as an empty one.
func sameColumnIndex(a, b *format.ColumnIndex) bool {
	eqBytes := func(x, y [][]byte) bool {
		return slices.EqualFunc(x, y, func(p, q []byte) bool { return bytes.Equal(p, q) })
	}
	return slices.Equal(a.NullPages, b.NullPages) && eqBytes(a.MinValues, b.MinValues) && eqBytes(a.MaxValues, b.MaxValues) &&
		a.BoundaryOrder == b.BoundaryOrder && slices.Equal(a.NullCounts, b.NullCounts) &&
		slices.Equal(a.RepetitionLevelHistogram, b.RepetitionLevelHistogram) && slices.Equal(a.DefinitionLevelHistogram, b.DefinitionLevelHistogram)
}

func sameOffsetIndex(a, b *format.OffsetIndex) bool {
	return slices.Equal(a.PageLocations, b.PageLocations) && slices.Equal(a.UnencodedByteArrayDataBytes, b.UnencodedByteArrayDataBytes)
}

// TestPageIndexDecoders: page indexes as Thrift encodes them (the
// encoder's way) are decoded directly, as thrift.Unmarshal decodes them.
func TestPageIndexDecoders(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	proto := new(thrift.CompactProtocol)
	for range 500 {
		ci := randomColumnIndex(r)
		b, err := thrift.Marshal(proto, ci)
		if err != nil {
			t.Fatal(err)
		}
		var got, want format.ColumnIndex
		if !decodeColumnIndex(b, &got) {
			t.Fatalf("column index %x: not decoded", b)
		}
		if err := thrift.Unmarshal(proto, b, &want); err != nil {
			t.Fatal(err)
		}
		if !sameColumnIndex(&got, &want) || !sameColumnIndex(&got, ci) {
			t.Fatalf("column index %x: decoded %+v, thrift %+v", b, got, want)
		}
		oi := randomOffsetIndex(r)
		if b, err = thrift.Marshal(proto, oi); err != nil {
			t.Fatal(err)
		}
		var gotO, wantO format.OffsetIndex
		if !decodeOffsetIndex(b, &gotO) {
			t.Fatalf("offset index %x: not decoded", b)
		}
		if err := thrift.Unmarshal(proto, b, &wantO); err != nil {
			t.Fatal(err)
		}
		if !sameOffsetIndex(&gotO, &wantO) || !sameOffsetIndex(&gotO, oi) {
			t.Fatalf("offset index %x: decoded %+v, thrift %+v", b, gotO, wantO)
		}
	}
}

// FuzzPageIndexDecoders: whatever the bytes, what the direct decoders
// take, thrift.Unmarshal takes and decodes the same.
func FuzzPageIndexDecoders(f *testing.F) {
	r := rand.New(rand.NewPCG(6, 6))
	proto := new(thrift.CompactProtocol)
	for range 8 {
		b, _ := thrift.Marshal(proto, randomColumnIndex(r))
		f.Add(b)
		b, _ = thrift.Marshal(proto, randomOffsetIndex(r))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ci, wantCI format.ColumnIndex
		if decodeColumnIndex(b, &ci) {
			if err := thrift.Unmarshal(proto, b, &wantCI); err != nil {
				t.Fatalf("column index %x: decoded, thrift fails: %v", b, err)
			}
			if !sameColumnIndex(&ci, &wantCI) {
				t.Fatalf("column index %x: decoded %+v, thrift %+v", b, ci, wantCI)
			}
		}
		var oi, wantOI format.OffsetIndex
		if decodeOffsetIndex(b, &oi) {
			if err := thrift.Unmarshal(proto, b, &wantOI); err != nil {
				t.Fatalf("offset index %x: decoded, thrift fails: %v", b, err)
			}
			if !sameOffsetIndex(&oi, &wantOI) {
				t.Fatalf("offset index %x: decoded %+v, thrift %+v", b, oi, wantOI)
			}
		}
	})
}

// TestPageIndexDecodersTakeTheEncoders: every page index and page header
// the encoder writes (the pageview files') is decoded directly.
func TestPageIndexDecodersTakeTheEncoders(t *testing.T) {
	dir := t.TempDir()
	if err := writePageviewFiles(dir, 1, 5000); err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	md := mustFooter(t, data)
	for _, rg := range md.RowGroups {
		for _, cc := range rg.Columns {
			var ci format.ColumnIndex
			var oi format.OffsetIndex
			if !decodeColumnIndex(data[cc.ColumnIndexOffset:cc.ColumnIndexOffset+int64(cc.ColumnIndexLength)], &ci) {
				t.Errorf("column %v: column index not decoded directly", cc.MetaData.PathInSchema)
			}
			if !decodeOffsetIndex(data[cc.OffsetIndexOffset:cc.OffsetIndexOffset+int64(cc.OffsetIndexLength)], &oi) {
				t.Errorf("column %v: offset index not decoded directly", cc.MetaData.PathInSchema)
			}
			start, end := chunkRange(&cc.MetaData)
			for at := start; at < end; {
				var h format.PageHeader
				n, ok := decodePageHeader(data[at:end], &h)
				if !ok {
					t.Fatalf("column %v: page header at %d not decoded directly", cc.MetaData.PathInSchema, at)
				}
				at += int64(n) + int64(h.CompressedPageSize)
			}
		}
	}
}

func randomPageHeader(r *rand.Rand) *format.PageHeader {
	h := &format.PageHeader{Type: format.PageType(r.IntN(4)), UncompressedPageSize: r.Int32N(1 << 24), CompressedPageSize: r.Int32N(1 << 24)}
	if r.IntN(4) > 0 {
		h.CRC = r.Int32() - r.Int32()
	}
	switch r.IntN(3) {
	case 0:
		h.DataPageHeader.Set(format.DataPageHeader{NumValues: r.Int32N(1 << 20), Encoding: format.Encoding(r.IntN(9)), DefinitionLevelEncoding: format.RLE, RepetitionLevelEncoding: format.RLE})
		switch r.IntN(4) {
		case 0:
			h.DataPageHeader.V.Statistics.NullCount = 3
		case 1:
			h.DataPageHeader.V.Statistics.MinValue = []byte("a") // bounds: thrift's
		}
	case 1:
		h.DictionaryPageHeader.Set(format.DictionaryPageHeader{NumValues: r.Int32N(1 << 20), Encoding: format.Plain, IsSorted: r.IntN(2) == 0})
	}
	return h
}

// TestPageHeaderDecoder: page headers as Thrift encodes them are decoded
// directly (but those with bounds in their statistics), as thrift's
// decoder decodes them, their sizes included.
func TestPageHeaderDecoder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	proto := new(thrift.CompactProtocol)
	direct := 0
	for range 1000 {
		h := randomPageHeader(r)
		b, err := thrift.Marshal(proto, h)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, "the page's body"...)
		var got format.PageHeader
		n, ok := decodePageHeader(b, &got)
		if !ok {
			if !h.DataPageHeader.Valid || h.DataPageHeader.V.Statistics.MinValue == nil {
				t.Fatalf("header %x: not decoded", b)
			}
			continue
		}
		direct++
		want, wn := thriftPageHeader(t, b)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(got, *h) || n != wn {
			t.Fatalf("header %x: decoded %+v (%d bytes), thrift %+v (%d bytes)", b, got, n, want, wn)
		}
	}
	if direct < 500 {
		t.Fatalf("%d of 1000 headers decoded directly", direct)
	}
}

// thriftPageHeader decodes a page header as the merge did with thrift.
func thriftPageHeader(t *testing.T, b []byte) (format.PageHeader, int) {
	r := new(thrift.CompactProtocol).NewReaderFromBytes(b)
	var h format.PageHeader
	if err := thrift.NewDecoder(r).Decode(&h); err != nil {
		t.Fatalf("header %x: thrift: %v", b, err)
	}
	return h, r.BytesRead()
}

// FuzzPageHeaderDecoder: whatever the bytes, a header decoded directly is
// what thrift's decoder decodes, of the same size.
func FuzzPageHeaderDecoder(f *testing.F) {
	r := rand.New(rand.NewPCG(8, 8))
	proto := new(thrift.CompactProtocol)
	for range 8 {
		b, _ := thrift.Marshal(proto, randomPageHeader(r))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got format.PageHeader
		n, ok := decodePageHeader(b, &got)
		if !ok {
			return
		}
		want, wn := thriftPageHeader(t, b)
		if !reflect.DeepEqual(got, want) || n != wn {
			t.Fatalf("header %x: decoded %+v (%d bytes), thrift %+v (%d bytes)", b, got, n, want, wn)
		}
	})
}
