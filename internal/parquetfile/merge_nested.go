package parquetfile

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// mergeNested merges files the encoder cannot write (lists, maps, INT96,
// ...): every row is decoded and written again by parquet-go, configured as
// package writer configures it for these schemas (data page v1, PLAIN and
// dictionary encodings, no page statistics, the byte array bounds
// truncated by a BoundsRewriter).
func (m *merger) mergeNested(ctx context.Context, out io.Writer) (*MergeResult, error) {
	first := m.inputs[0]
	pf, err := first.parquetFile()
	if err != nil {
		return nil, first.errorf("%w", err)
	}
	leaves := first.leaves
	constants := map[int][]byte{}
	for _, k := range m.o.constants {
		c := -1
		for i := range leaves {
			if dotted(leaves[i].path) == k.column {
				c = i
			}
		}
		switch {
		case c < 0:
			return nil, fmt.Errorf("parquetfile: merge: constant column %q is not in the schema", k.column)
		case len(leaves[c].path) != 1:
			return nil, fmt.Errorf("parquetfile: merge: constant column %q: in a schema with lists or maps, only a top-level column can be made constant", k.column)
		}
		if t, _ := leaves[c].elem.Type.Get(); t != format.ByteArray {
			return nil, fmt.Errorf("parquetfile: merge: constant column %q is %s, not a byte array", k.column, t)
		}
		constants[c] = k.value
	}
	codecID := format.Uncompressed
	for _, in := range m.inputs {
		if len(in.md.RowGroups) > 0 {
			codecID = in.md.RowGroups[0].Columns[0].MetaData.Codec
			break
		}
	}
	var codec compress.Codec = parquet.LookupCompressionCodec(codecID)
	if codecID == format.Zstd {
		codec = &zstd.Codec{Level: m.o.zstdLevel}
	}
	bounds, err := NewBoundsRewriter(DefaultColumnIndexSizeLimit, DefaultStatisticsSizeLimit)
	if err != nil {
		return nil, err
	}
	bounds.Reset(out)
	pw := parquet.NewWriter(bounds, pf.Schema(),
		parquet.Compression(codec),
		parquet.PageBufferSize(m.o.pageBufferSize),
		parquet.WriteBufferSize(0),
		parquet.DataPageVersion(1),
		parquet.DataPageStatistics(false),
		parquet.DictionaryMaxBytes(int64(m.o.dictionaryMaxBytes)),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary),
		parquet.ColumnIndexSizeLimit(func([]string) int { return 0 }),
		createdByOption(m.createdBy()),
	)
	for _, kv := range m.keyValues() {
		pw.SetKeyValueMetadata(kv.Key, kv.Value)
	}
	m.res.Columns = make([]MergedColumn, len(leaves))
	for c := range leaves {
		m.res.Columns[c].Path = dotted(leaves[c].path)
		if v, ok := constants[c]; ok {
			if m.res.Constants == nil {
				m.res.Constants = map[string][]byte{}
			}
			m.res.Constants[m.res.Columns[c].Path] = v
		}
	}
	buf := make([]parquet.Row, 256)
	var flushed int64
	group := MergedRowGroup{}
	flush := func() error {
		if group.Rows == 0 {
			return nil
		}
		if err := pw.Flush(); err != nil {
			return err
		}
		group.Bytes = pw.Size() - flushed
		flushed = pw.Size()
		m.res.RowGroups = append(m.res.RowGroups, group)
		group = MergedRowGroup{}
		return nil
	}
	for _, in := range m.inputs {
		f, err := in.parquetFile()
		if err != nil {
			return nil, in.errorf("%w", err)
		}
		for g, rg := range f.RowGroups() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if rg.NumRows() == 0 {
				continue
			}
			if err := safely(func() error { return m.copyRows(rg, pw, buf, leaves, constants) }); err != nil {
				return nil, in.errorf("row group %d: %w", g, err)
			}
			group.Rows += rg.NumRows()
			group.Inputs++
			m.res.Rows += rg.NumRows()
			if pw.Size()-flushed >= m.o.rowGroupBytes {
				if err := flush(); err != nil {
					return nil, fmt.Errorf("parquetfile: merge: %w", err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return nil, fmt.Errorf("parquetfile: merge: %w", err)
	}
	bounds.Hold()
	if err := pw.Close(); err != nil {
		return nil, fmt.Errorf("parquetfile: merge: %w", err)
	}
	if err := bounds.Finish(); err != nil {
		return nil, fmt.Errorf("parquetfile: merge: %w", err)
	}
	for c := range leaves {
		m.fallback(-1, m.res.Columns[c].Path, "the schema has lists, maps or types the encoder does not write: every row re-encoded by parquet-go")
	}
	m.res.ChunksReencoded = len(leaves) * len(m.res.RowGroups)
	res := m.res
	return &res, nil
}

// copyRows writes the rows of rg to pw, each constant column's values
// replaced, and counts every column's values and nulls.
func (m *merger) copyRows(rg parquet.RowGroup, pw *parquet.Writer, buf []parquet.Row, leaves []schemaLeaf, constants map[int][]byte) error {
	rows := rg.Rows()
	defer rows.Close()
	var n int64
	for {
		k, err := rows.ReadRows(buf)
		for _, row := range buf[:k] {
			for i, v := range row {
				c := v.Column()
				if c < 0 || c >= len(leaves) {
					return fmt.Errorf("a value of column %d", c)
				}
				if value, ok := constants[c]; ok {
					row[i] = parquet.ByteArrayValue(value).Level(v.RepetitionLevel(), leaves[c].maxDef, c)
					v = row[i]
				}
				m.res.Columns[c].Values++
				if v.IsNull() {
					m.res.Columns[c].Nulls++
				}
			}
		}
		if _, werr := pw.WriteRows(buf[:k]); werr != nil {
			return werr
		}
		n += int64(k)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if n != rg.NumRows() {
		return fmt.Errorf("read %d rows, the footer says %d", n, rg.NumRows())
	}
	return nil
}

// createdByOption sets parquet-go's created_by verbatim.
type createdByOption string

func (c createdByOption) ConfigureWriter(config *parquet.WriterConfig) {
	config.CreatedBy = string(c)
}
