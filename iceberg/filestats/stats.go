package filestats

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/lakestream/lakestream/internal/objstore"
)

// Instant is what the publisher needs of the base files one Hudi instant
// wrote: the Iceberg schema of their rows and each file's metrics.
type Instant struct {
	// Schema is the Iceberg schema (JSON, as in table metadata) of the
	// files, with their Parquet field IDs. Empty if unknown.
	Schema json.RawMessage `json:"schema,omitempty"`
	// Files are the instant's base files.
	Files []File `json:"-"`
}

// File is one base file's metrics, as an Iceberg manifest entry holds them.
type File struct {
	// Path is relative to the table root, as in the commit's write stats.
	Path    string `json:"path"`
	Records int64  `json:"records"`
	Size    int64  `json:"size"`
	// Columns are the metrics of the file's primitive columns that are not
	// inside a list or a map, by field ID order of the file. Empty when
	// not known (the file's footer was not read).
	Columns []Column `json:"columns,omitempty"`
}

// Column is one column's metrics in a file.
type Column struct {
	ID int `json:"id"`
	// Size is the compressed size of the column's chunks in bytes.
	Size int64 `json:"size"`
	// Values counts the column's values, nulls included.
	Values int64 `json:"values"`
	// Nulls counts the null values; nil if not known.
	Nulls *int64 `json:"nulls,omitempty"`
	// Lower and Upper bound every non-null value, in Iceberg's
	// single-value binary serialization; nil if not known. A string or
	// binary bound may be truncated (then still a bound).
	Lower []byte `json:"lower,omitempty"`
	Upper []byte `json:"upper,omitempty"`
}

// MaxFooterBytes bounds a Parquet footer ReadFooter reads: a footer claiming
// more is reported as corrupt, not allocated.
const MaxFooterBytes = 64 << 20

const magic = "PAR1"

// ReadFooter reads and decodes the Parquet footer of the object at key,
// whose size is size: two ranged reads (the last 8 bytes, then the
// footer). It reads no page.
func ReadFooter(ctx context.Context, b objstore.Store, key string, size int64) (*format.FileMetaData, error) {
	return readFooter(key, size, int64(len(magic)), func(off, n int64) ([]byte, error) { return readRange(ctx, b, key, off, n) })
}

// ReadFooterAt is ReadFooter of a local file (the compactor's merged
// output before its upload): two reads of r, whose size is size; name
// names it in errors.
func ReadFooterAt(r io.ReaderAt, size int64, name string) (*format.FileMetaData, error) {
	return readFooter(name, size, int64(len(magic)), func(off, n int64) ([]byte, error) {
		buf := make([]byte, n)
		if _, err := r.ReadAt(buf, off); err != nil {
			return nil, fmt.Errorf("%s: read %d bytes at %d: %w", name, n, off, err)
		}
		return buf, nil
	})
}

// FooterFromTail decodes the footer at the end of tail, the last bytes of
// a Parquet file (at least its footer, its length and the magic), as a
// writer that kept what it wrote last has them.
func FooterFromTail(tail []byte) (*format.FileMetaData, error) {
	size := int64(len(tail))
	return readFooter("parquet tail", size, 0, func(off, n int64) ([]byte, error) { return tail[off : off+n], nil })
}

// readFooter decodes the footer of a file of size bytes, of which read
// reads a range; head is the bytes before the footer that must be there
// (the leading magic of a whole file; 0 for a tail).
func readFooter(name string, size, head int64, read func(off, n int64) ([]byte, error)) (*format.FileMetaData, error) {
	if size < head+8 {
		return nil, fmt.Errorf("%s: %d bytes: too short for a Parquet file", name, size)
	}
	tail, err := read(size-8, 8)
	if err != nil {
		return nil, err
	}
	if string(tail[4:]) != magic {
		return nil, fmt.Errorf("%s: does not end with %s: truncated or not a Parquet file", name, magic)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n == 0 || n > size-8-head || n > MaxFooterBytes {
		return nil, fmt.Errorf("%s: footer length %d does not fit the file's %d bytes: truncated or corrupt", name, n, size)
	}
	footer, err := read(size-8-n, n)
	if err != nil {
		return nil, err
	}
	md := new(format.FileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, md); err != nil {
		return nil, fmt.Errorf("%s: corrupt footer: %w", name, err)
	}
	return md, nil
}

func readRange(ctx context.Context, b objstore.Store, key string, off, n int64) ([]byte, error) {
	rc, err := b.GetRange(ctx, key, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("%s: read %d bytes at %d: %w", key, n, off, err)
	}
	return buf, nil
}

// FromFooter returns the Iceberg schema of a file's footer and the metrics
// of its columns: per column the sum over row groups of the compressed
// sizes, values and nulls, and the least lower and greatest upper bound of
// the chunks' statistics (left out if a chunk with values has none, or
// for a float column that may hold NaN, whose chunks then carry no bounds).
func FromFooter(md *format.FileMetaData) (json.RawMessage, []Column, error) {
	schema, leaves, err := convertSchema(md.Schema)
	if err != nil {
		return nil, nil, err
	}
	type acc struct {
		col      Column
		nulls    int64
		noNulls  bool // a chunk had no statistics
		noBounds bool
		lo, hi   []byte
	}
	accs := make([]acc, len(leaves))
	for g := range md.RowGroups {
		rg := &md.RowGroups[g]
		if len(rg.Columns) != len(leaves) {
			return nil, nil, fmt.Errorf("row group %d has %d columns, the schema %d", g, len(rg.Columns), len(leaves))
		}
		for i := range rg.Columns {
			l := &leaves[i]
			if l.repeated {
				continue
			}
			cm := &rg.Columns[i].MetaData
			a := &accs[i]
			a.col.Size += cm.TotalCompressedSize
			a.col.Values += cm.NumValues
			st := &cm.Statistics
			a.nulls += st.NullCount
			lo, hi := st.MinValue, st.MaxValue
			if lo == nil && hi == nil && signedOrder(l.kind) {
				// Older writers: the deprecated fields, signed order, which
				// is the right one for these types only.
				lo, hi = st.Min, st.Max
			}
			if cm.NumValues-st.NullCount <= 0 {
				continue // only nulls: no bounds to merge
			}
			if lo == nil || hi == nil {
				a.noBounds = true
				continue
			}
			if a.lo == nil || compare(l.kind, l.physical, lo, a.lo) < 0 {
				a.lo = lo
			}
			if a.hi == nil || compare(l.kind, l.physical, hi, a.hi) > 0 {
				a.hi = hi
			}
		}
	}
	cols := make([]Column, 0, len(leaves))
	for i, l := range leaves {
		if l.repeated {
			continue
		}
		a := &accs[i]
		c := a.col
		c.ID = l.id
		nulls := a.nulls
		c.Nulls = &nulls
		if !a.noBounds && a.lo != nil && a.hi != nil {
			if c.Lower, err = icebergBound(l, a.lo); err != nil {
				return nil, nil, fmt.Errorf("column %s: lower bound: %w", l.path, err)
			}
			if c.Upper, err = icebergBound(l, a.hi); err != nil {
				return nil, nil, fmt.Errorf("column %s: upper bound: %w", l.path, err)
			}
		}
		cols = append(cols, c)
	}
	return schema, cols, nil
}

func signedOrder(k kind) bool {
	switch k {
	case kindBool, kindInt32, kindInt64, kindFloat, kindDouble:
		return true
	}
	return false
}

// compare orders two PLAIN-encoded statistics values of a column.
func compare(k kind, phys format.Type, a, b []byte) int {
	switch k {
	case kindBool:
		return bytes.Compare(a, b)
	case kindInt32:
		if len(a) < 4 || len(b) < 4 {
			return bytes.Compare(a, b)
		}
		x, y := int32(binary.LittleEndian.Uint32(a)), int32(binary.LittleEndian.Uint32(b))
		return cmp3(x < y, x > y)
	case kindInt64:
		if len(a) < 8 || len(b) < 8 {
			return bytes.Compare(a, b)
		}
		x, y := int64(binary.LittleEndian.Uint64(a)), int64(binary.LittleEndian.Uint64(b))
		return cmp3(x < y, x > y)
	case kindFloat:
		if len(a) < 4 || len(b) < 4 {
			return bytes.Compare(a, b)
		}
		x, y := math.Float32frombits(binary.LittleEndian.Uint32(a)), math.Float32frombits(binary.LittleEndian.Uint32(b))
		return cmp3(x < y, x > y)
	case kindDouble:
		if len(a) < 8 || len(b) < 8 {
			return bytes.Compare(a, b)
		}
		x, y := math.Float64frombits(binary.LittleEndian.Uint64(a)), math.Float64frombits(binary.LittleEndian.Uint64(b))
		return cmp3(x < y, x > y)
	case kindDecimal:
		return decimalInt(phys, a).Cmp(decimalInt(phys, b))
	}
	return bytes.Compare(a, b)
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// decimalInt is the unscaled value of a PLAIN-encoded decimal statistic.
func decimalInt(phys format.Type, v []byte) *big.Int {
	switch phys {
	case format.Int32:
		if len(v) >= 4 {
			return big.NewInt(int64(int32(binary.LittleEndian.Uint32(v))))
		}
	case format.Int64:
		if len(v) >= 8 {
			return big.NewInt(int64(binary.LittleEndian.Uint64(v)))
		}
	default: // big-endian two's complement
		n := new(big.Int).SetBytes(v)
		if len(v) > 0 && v[0]&0x80 != 0 {
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(v))))
		}
		return n
	}
	return new(big.Int)
}

// icebergBound serializes a PLAIN-encoded Parquet statistic as Iceberg's
// single-value binary form: the same little-endian bytes for booleans,
// numbers, dates, times and timestamps, the bytes themselves for strings
// and binary, and the minimal big-endian two's complement of the unscaled
// value for decimals.
func icebergBound(l leaf, v []byte) ([]byte, error) {
	switch l.kind {
	case kindBool:
		if len(v) < 1 {
			return nil, errors.New("empty boolean")
		}
		return []byte{v[0] & 1}, nil
	case kindInt32, kindFloat:
		if len(v) != 4 {
			return nil, fmt.Errorf("%d bytes, want 4", len(v))
		}
	case kindInt64, kindDouble:
		if len(v) != 8 {
			return nil, fmt.Errorf("%d bytes, want 8", len(v))
		}
	case kindDecimal:
		return twosComplement(decimalInt(l.physical, v)), nil
	}
	return bytes.Clone(v), nil
}

// twosComplement is n as the fewest big-endian two's complement bytes.
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n-1 in magnitude, bits inverted.
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}
