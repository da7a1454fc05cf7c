package parquetfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// nativeCreatedBy starts the created_by of the files this package's
// encoder (through package writer) writes: "lakestream version <v> (build
// <rev>)". Merge copies pages of these files only.
const nativeCreatedBy = "lakestream "

// mergeInput is an input file of a Merge: its footer and page index.
type mergeInput struct {
	key         string
	size        int64
	r           io.ReaderAt
	closer      io.Closer
	mapped      []byte // the file mapped in memory (a local file on Linux), or nil
	md          *fileMetaData
	footerStart int64
	leaves      []schemaLeaf
	native      bool                    // written by this package's encoder
	flat        bool                    // no repeated fields, types the encoder writes
	ci          [][]*format.ColumnIndex // per row group, per column; nil: none
	oi          [][]*format.OffsetIndex
	mu          sync.Mutex    // one goroutine decodes the file at a time
	pf          *parquet.File // opened to re-encode
}

// schemaLeaf is a leaf column of a footer's schema.
type schemaLeaf struct {
	elem   *format.SchemaElement
	path   []string
	maxDef int
	maxRep int
}

func (in *mergeInput) errorf(format string, args ...any) error {
	return fmt.Errorf("parquetfile: merge: input %s: %w", in.key, fmt.Errorf(format, args...))
}

func (in *mergeInput) close() {
	if in.mapped != nil {
		unmapFile(in.mapped)
		in.mapped = nil
	}
	if in.closer != nil {
		in.closer.Close()
		in.closer = nil
	}
}

// openMergeInput opens an input and reads its footer and (for the files
// the encoder wrote) its page index. The input is returned, to be closed,
// even with an error.
func openMergeInput(ctx context.Context, spec MergeInput, scratch *[]byte) (*mergeInput, error) {
	in := &mergeInput{key: spec.Key, size: spec.Size}
	if spec.Open == nil {
		return in, in.errorf("no Open function")
	}
	r, err := spec.Open(ctx)
	if err != nil {
		return in, in.errorf("open: %w", err)
	}
	if r == nil {
		return in, in.errorf("open returned no reader")
	}
	in.r = r
	if c, ok := r.(io.Closer); ok {
		in.closer = c
	}
	tail, tailAt, err := readTail(r, spec.Size, tailBytes, scratch)
	if err != nil {
		return in, in.errorf("%w", err)
	}
	footer, start, err := footerOf(r, spec.Size, tail)
	if err != nil {
		return in, in.errorf("%w", err)
	}
	in.footerStart = start
	in.md = new(fileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, in.md); err != nil {
		return in, in.errorf("footer: %w", err)
	}
	if err := in.check(); err != nil {
		return in, in.errorf("%w", err)
	}
	in.native = isNative(in.md)
	if in.native {
		if err := in.readPageIndex(tail, tailAt); err != nil {
			return in, in.errorf("page index: %w", err)
		}
		if f, ok := r.(*os.File); ok {
			// The pages it copies are then read where they are (their
			// CRCs checked, written from there), not copied into a
			// buffer first.
			in.mapped = mapFile(f, spec.Size)
		}
	}
	return in, nil
}

// isNative reports whether the encoder wrote the file: lakestream's
// created_by, and each chunk's file_offset its first page (parquet-go,
// which lakestream used before, leaves it 0).
func isNative(md *fileMetaData) bool {
	if !strings.HasPrefix(md.CreatedBy, nativeCreatedBy) {
		return false
	}
	for g := range md.RowGroups {
		for c := range md.RowGroups[g].Columns {
			cc := &md.RowGroups[g].Columns[c]
			if start, _ := chunkRange(&cc.MetaData); cc.FileOffset != start {
				return false
			}
		}
	}
	return true
}

// ReadFooter returns the footer of the Parquet file r of size bytes (its
// Thrift FileMetaData, as Fingerprint takes it).
func ReadFooter(r io.ReaderAt, size int64) ([]byte, error) {
	footer, _, err := readFooter(r, size)
	if err != nil {
		return nil, fmt.Errorf("parquetfile: %w", err)
	}
	return footer, nil
}

// tailBytes is how much of a file's end is read at first: the footer and
// page index of a file of a few row groups of a few dozen columns.
const tailBytes = 16 << 10

// readTail checks the file's magic bytes and returns its last n bytes (or
// all of it), in scratch (grown as needed), with their offset.
func readTail(r io.ReaderAt, size int64, n int, scratch *[]byte) ([]byte, int64, error) {
	if size < 12 {
		return nil, 0, fmt.Errorf("a file of %d bytes is not Parquet", size)
	}
	var head [4]byte
	if err := readAt(r, head[:], 0); err != nil {
		return nil, 0, err
	}
	if string(head[:]) != magic {
		return nil, 0, fmt.Errorf("not a Parquet file: it starts with %q", head[:])
	}
	if int64(cap(*scratch)) < min(size, int64(n)) {
		*scratch = make([]byte, n)
	}
	tail := (*scratch)[:min(size, int64(n))]
	at := size - int64(len(tail))
	if err := readAt(r, tail, at); err != nil {
		return nil, 0, err
	}
	if string(tail[len(tail)-4:]) != magic {
		return nil, 0, fmt.Errorf("not a Parquet file: it ends with %q", tail[len(tail)-4:])
	}
	return tail, at, nil
}

// footerOf returns the footer of a file, and its offset, from its tail
// (reading the rest of it if the tail does not hold it all).
func footerOf(r io.ReaderAt, size int64, tail []byte) ([]byte, int64, error) {
	n := int64(binary.LittleEndian.Uint32(tail[len(tail)-8:]))
	start := size - 8 - n
	if start < 4 {
		return nil, 0, fmt.Errorf("footer of %d bytes in a file of %d", n, size)
	}
	if n+8 <= int64(len(tail)) {
		return tail[int64(len(tail))-8-n : len(tail)-8], start, nil
	}
	footer := make([]byte, n)
	if err := readAt(r, footer, start); err != nil {
		return nil, 0, err
	}
	return footer, start, nil
}

// readFooter reads the footer of a file and returns it with its offset.
func readFooter(r io.ReaderAt, size int64) ([]byte, int64, error) {
	var scratch []byte
	tail, _, err := readTail(r, size, tailBytes, &scratch)
	if err != nil {
		return nil, 0, err
	}
	return footerOf(r, size, tail)
}

// readAt fills p from offset off of r.
func readAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at %d: %w", len(p), off, err)
}

// schemaLeaves returns the leaf columns of a footer's schema.
func schemaLeaves(schema []format.SchemaElement) ([]schemaLeaf, error) {
	var leaves []schemaLeaf
	i := 0
	var walk func(path []string, def, rep, depth int) error
	walk = func(path []string, def, rep, depth int) error {
		if i >= len(schema) {
			return errors.New("the schema ends inside a group")
		}
		if depth > 1000 {
			return errors.New("the schema nests too deep")
		}
		e := &schema[i]
		i++
		if depth > 0 {
			path = append(path[:len(path):len(path)], e.Name)
			switch rt, _ := e.RepetitionType.Get(); rt {
			case format.Optional:
				def++
			case format.Repeated:
				def++
				rep++
			}
		}
		n, group := e.NumChildren.Get()
		if !group || depth == 0 && n == 0 {
			if depth == 0 {
				return errors.New("the schema has no columns")
			}
			leaves = append(leaves, schemaLeaf{elem: e, path: path, maxDef: def, maxRep: rep})
			return nil
		}
		for range n {
			if err := walk(path, def, rep, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(nil, 0, 0, 0); err != nil {
		return nil, err
	}
	if i != len(schema) {
		return nil, fmt.Errorf("the schema has %d elements after its root's", len(schema)-i)
	}
	return leaves, nil
}

// check validates the footer: the schema, and that every column chunk
// lies in the file, before the footer.
func (in *mergeInput) check() error {
	md := in.md
	if md.EncryptionAlgorithm.Value != nil {
		return errors.New("encrypted files are not supported")
	}
	leaves, err := schemaLeaves(md.Schema)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	in.leaves = leaves
	var rows int64
	for g := range md.RowGroups {
		rg := &md.RowGroups[g]
		if rg.NumRows < 0 {
			return fmt.Errorf("row group %d: %d rows", g, rg.NumRows)
		}
		rows += rg.NumRows
		if len(rg.Columns) != len(leaves) {
			return fmt.Errorf("row group %d has %d columns, the schema %d", g, len(rg.Columns), len(leaves))
		}
		for c := range rg.Columns {
			cc := &rg.Columns[c]
			if cc.FilePath != "" {
				return fmt.Errorf("row group %d column %s: its data is in another file (%q)", g, dotted(leaves[c].path), cc.FilePath)
			}
			cm := &cc.MetaData
			if !slices.Equal(cm.PathInSchema, leaves[c].path) {
				return fmt.Errorf("row group %d column %d: path %v, the schema's is %v", g, c, cm.PathInSchema, leaves[c].path)
			}
			if cm.NumValues < 0 || cm.TotalCompressedSize < 0 {
				return fmt.Errorf("row group %d column %s: %d values, %d bytes", g, dotted(leaves[c].path), cm.NumValues, cm.TotalCompressedSize)
			}
			if leaves[c].maxRep == 0 && cm.NumValues != rg.NumRows {
				return fmt.Errorf("row group %d column %s: %d values in %d rows", g, dotted(leaves[c].path), cm.NumValues, rg.NumRows)
			}
			start, end := chunkRange(cm)
			if cm.NumValues > 0 && (start < int64(len(magic)) || end > in.footerStart || end <= start) {
				return fmt.Errorf("row group %d column %s: data at %d..%d, outside %d..%d", g, dotted(leaves[c].path), start, end, len(magic), in.footerStart)
			}
		}
	}
	if rows != md.NumRows {
		return fmt.Errorf("the footer says %d rows, its row groups hold %d", md.NumRows, rows)
	}
	return nil
}

// chunkRange returns where a column chunk's pages are in its file.
func chunkRange(cm *columnMetaData) (start, end int64) {
	start = cm.DataPageOffset
	if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < start {
		start = cm.DictionaryPageOffset
	}
	return start, start + cm.TotalCompressedSize
}

// readPageIndex reads the column and offset indexes of every chunk, from
// tail (the file's end from offset tailAt) if it holds them. An index that
// is missing or does not decode is left nil: the chunk is not copied
// (offset index) or has no column index in the output.
func (in *mergeInput) readPageIndex(tail []byte, tailAt int64) error {
	lo, hi := in.footerStart, int64(0)
	for g := range in.md.RowGroups {
		for c := range in.md.RowGroups[g].Columns {
			cc := &in.md.RowGroups[g].Columns[c]
			for _, r := range [2][2]int64{{cc.ColumnIndexOffset, int64(cc.ColumnIndexLength)}, {cc.OffsetIndexOffset, int64(cc.OffsetIndexLength)}} {
				if r[1] > 0 && r[0] >= int64(len(magic)) && r[0]+r[1] <= in.footerStart {
					lo, hi = min(lo, r[0]), max(hi, r[0]+r[1])
				}
			}
		}
	}
	in.ci = make([][]*format.ColumnIndex, len(in.md.RowGroups))
	in.oi = make([][]*format.OffsetIndex, len(in.md.RowGroups))
	for g := range in.md.RowGroups {
		in.ci[g] = make([]*format.ColumnIndex, len(in.leaves))
		in.oi[g] = make([]*format.OffsetIndex, len(in.leaves))
	}
	if hi <= lo {
		return nil
	}
	var buf []byte
	if lo >= tailAt {
		buf = tail[lo-tailAt : hi-tailAt]
	} else {
		buf = make([]byte, hi-lo)
		if err := readAt(in.r, buf, lo); err != nil {
			return err
		}
	}
	proto := new(thrift.CompactProtocol)
	part := func(off int64, n int32) []byte {
		if n <= 0 || off < lo || off+int64(n) > hi {
			return nil
		}
		return buf[off-lo : off-lo+int64(n)]
	}
	for g := range in.md.RowGroups {
		for c := range in.md.RowGroups[g].Columns {
			cc := &in.md.RowGroups[g].Columns[c]
			if b := part(cc.ColumnIndexOffset, cc.ColumnIndexLength); b != nil {
				ci := new(format.ColumnIndex)
				if !decodeColumnIndex(b, ci) {
					ci = new(format.ColumnIndex)
					if thrift.Unmarshal(proto, b, ci) != nil {
						ci = nil
					}
				}
				in.ci[g][c] = ci
			}
			if b := part(cc.OffsetIndexOffset, cc.OffsetIndexLength); b != nil {
				oi := new(format.OffsetIndex)
				if !decodeOffsetIndex(b, oi) {
					oi = new(format.OffsetIndex)
					if thrift.Unmarshal(proto, b, oi) != nil {
						oi = nil
					}
				}
				in.oi[g][c] = oi
			}
		}
	}
	return nil
}

// keyValue returns the value of a key of the footer's key-value metadata.
func (in *mergeInput) keyValue(key string) (string, bool) {
	for _, kv := range in.md.KeyValueMetadata {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// withParquetFile calls fn with the input opened by parquet-go, one
// goroutine at a time.
func (in *mergeInput) withParquetFile(fn func(*parquet.File) error) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	pf, err := in.parquetFile()
	if err != nil {
		return err
	}
	return fn(pf)
}

// parquetFile opens the input with parquet-go, to decode its values.
func (in *mergeInput) parquetFile() (*parquet.File, error) {
	if in.pf != nil {
		return in.pf, nil
	}
	var f *parquet.File
	err := safely(func() (err error) {
		f, err = parquet.OpenFile(in.r, in.size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("parquet-go: %w", err)
	}
	in.pf = f
	return f, nil
}

// safely runs fn, which decodes a file with parquet-go, and returns its
// panic as an error: parquet-go panics on some corrupt pages (a data page
// v2 whose level lengths pass its end, bit-packed runs past the data).
func safely(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("parquet-go failed on corrupt data: %v", p)
		}
	}()
	return fn()
}

// sameSchema reports how b's schema differs from a's (nil: the same).
func sameSchema(a, b *mergeInput) error {
	x, y := a.md.Schema, b.md.Schema
	for i := range min(len(x), len(y)) {
		if !sameElement(&x[i], &y[i]) {
			return b.errorf("its schema differs from input %s's at element %d (%q, %q there): group inputs by Fingerprint", a.key, i, y[i].Name, x[i].Name)
		}
	}
	if len(x) != len(y) {
		return b.errorf("its schema has %d elements, input %s's %d: group inputs by Fingerprint", len(y), a.key, len(x))
	}
	return nil
}

// sameElement reports whether two schema elements are equal, as
// reflect.DeepEqual says, faster (a merge compares every input's schema):
// the fields but the logical type with ==, which compares their values
// (none is a pointer, slice or map: a field that is one would not compile),
// the logical type (a union of pointers) by reflect.
func sameElement(a, b *format.SchemaElement) bool {
	x, y := *a, *b
	lx, ly := x.LogicalType.Value, y.LogicalType.Value
	x.LogicalType, y.LogicalType = format.LogicalType{}, format.LogicalType{}
	return x == y && (lx == nil && ly == nil || reflect.DeepEqual(lx, ly))
}

// schemaOf returns the schema of a footer's schema elements as parquet-go
// reads it (types, logical types, field IDs), with each leaf's encoding
// set to RLE_DICTIONARY where dict says so and PLAIN elsewhere (nil dict:
// none set).
func schemaOf(elements []format.SchemaElement, dict []bool) (*parquet.Schema, error) {
	// A file of no row groups with this schema, opened by parquet-go.
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &fileMetaData{Version: 2, Schema: elements})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write(footer)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(footer))))
	b.WriteString(magic)
	f, err := parquet.OpenFile(bytes.NewReader(b.Bytes()), int64(b.Len()), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, err
	}
	schema := f.Schema()
	if dict == nil {
		return schema, nil
	}
	leaf := 0
	var wrap func(fields []parquet.Field) []parquet.Field
	wrap = func(fields []parquet.Field) []parquet.Field {
		out := make([]parquet.Field, len(fields))
		for i, f := range fields {
			if f.Leaf() {
				var enc encoding.Encoding = &parquet.Plain
				if leaf < len(dict) && dict[leaf] {
					enc = &parquet.RLEDictionary
				}
				leaf++
				out[i] = hintedField{Field: f, enc: enc}
				continue
			}
			out[i] = hintedField{Field: f, fields: wrap(f.Fields())}
		}
		return out
	}
	return parquet.NewSchema(schema.Name(), hintedNode{Node: schema, fields: wrap(schema.Fields())}), nil
}

// hintedField is a field with another encoding (leaves) or other fields
// (groups).
type hintedField struct {
	parquet.Field
	enc    encoding.Encoding
	fields []parquet.Field
}

func (f hintedField) Encoding() encoding.Encoding {
	if f.enc != nil {
		return f.enc
	}
	return f.Field.Encoding()
}

func (f hintedField) Fields() []parquet.Field {
	if f.fields != nil {
		return f.fields
	}
	return f.Field.Fields()
}

// hintedNode is a group node with other fields.
type hintedNode struct {
	parquet.Node
	fields []parquet.Field
}

func (n hintedNode) Fields() []parquet.Field { return n.fields }

// Fingerprint returns the layout of a file from its footer (ReadFooter):
// its schema (every node's name, repetition, physical, logical and
// converted types, decimal scale and precision, field ID), each column's
// compression codecs, its data page versions and whether this package's
// encoder wrote it. Files of equal fingerprints merge without re-encoding
// for their layout; Merge refuses files of different schemas, and
// re-encodes or recompresses the chunks of another writer, page version or
// codec than the first input's.
func Fingerprint(footer []byte) (string, error) {
	md := new(fileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, md); err != nil {
		return "", fmt.Errorf("parquetfile: fingerprint: footer: %w", err)
	}
	leaves, err := schemaLeaves(md.Schema)
	if err != nil {
		return "", fmt.Errorf("parquetfile: fingerprint: schema: %w", err)
	}
	h := sha256.New()
	proto := new(thrift.CompactProtocol)
	for i := range md.Schema {
		b, err := thrift.Marshal(proto, &md.Schema[i])
		if err != nil {
			return "", fmt.Errorf("parquetfile: fingerprint: schema: %w", err)
		}
		fmt.Fprintf(h, "element %d %d\n", i, len(b))
		h.Write(b)
	}
	for c := range leaves {
		var codecs []format.CompressionCodec
		pages := map[string]bool{}
		for g := range md.RowGroups {
			if c >= len(md.RowGroups[g].Columns) {
				return "", fmt.Errorf("parquetfile: fingerprint: row group %d has %d columns, the schema %d", g, len(md.RowGroups[g].Columns), len(leaves))
			}
			cm := &md.RowGroups[g].Columns[c].MetaData
			codecs = append(codecs, cm.Codec)
			if len(cm.EncodingStats) == 0 {
				pages["unknown"] = true
			}
			for _, s := range cm.EncodingStats {
				if s.PageType == format.DataPage || s.PageType == format.DataPageV2 {
					pages[s.PageType.String()] = true
				}
			}
		}
		slices.Sort(codecs)
		versions := make([]string, 0, len(pages))
		for v := range pages {
			versions = append(versions, v)
		}
		slices.Sort(versions)
		fmt.Fprintf(h, "column %d codecs %v pages %v\n", c, slices.Compact(codecs), versions)
	}
	fmt.Fprintf(h, "native %t\n", isNative(md))
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}
