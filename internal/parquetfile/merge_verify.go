package parquetfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// VerifyMerge reads a merged file, r of size bytes, with parquet-go (the
// Parquet reader the product depends on) and checks that it holds what
// its inputs held, as res (Merge's result) counted it from them: the rows,
// in the row groups res lists; each column's values and nulls, counted
// from every page (parquet-go decompresses and decodes each page, and
// checks its CRC); each MergeConstant column's value in every row (the
// pages' bounds); the key range. Run it before the file is committed.
func VerifyMerge(ctx context.Context, r io.ReaderAt, size int64, res *MergeResult) error {
	var f *parquet.File
	err := safely(func() (err error) {
		f, err = parquet.OpenFile(r, size, parquet.SkipBloomFilters(true))
		return err
	})
	if err != nil {
		return fmt.Errorf("parquetfile: verify merge: %w", err)
	}
	if f.NumRows() != res.Rows {
		return fmt.Errorf("parquetfile: verify merge: %d rows, the inputs hold %d", f.NumRows(), res.Rows)
	}
	rgs := f.RowGroups()
	if len(rgs) != len(res.RowGroups) {
		return fmt.Errorf("parquetfile: verify merge: %d row groups, Merge wrote %d", len(rgs), len(res.RowGroups))
	}
	for g, rg := range rgs {
		if rg.NumRows() != res.RowGroups[g].Rows {
			return fmt.Errorf("parquetfile: verify merge: row group %d has %d rows, Merge wrote %d", g, rg.NumRows(), res.RowGroups[g].Rows)
		}
	}
	leaves := f.Schema().Columns()
	if len(leaves) != len(res.Columns) {
		return fmt.Errorf("parquetfile: verify merge: %d columns, the inputs have %d", len(leaves), len(res.Columns))
	}
	for c, path := range leaves {
		want := res.Columns[c]
		if dotted(path) != want.Path {
			return fmt.Errorf("parquetfile: verify merge: column %d is %s, the inputs' %s", c, dotted(path), want.Path)
		}
		constant, isConstant := res.Constants[want.Path]
		var values, nulls int64
		for g, rg := range rgs {
			if err := ctx.Err(); err != nil {
				return err
			}
			var v, n int64
			err := safely(func() (err error) {
				v, n, err = countPages(rg.ColumnChunks()[c], constant, isConstant)
				return err
			})
			if err != nil {
				return fmt.Errorf("parquetfile: verify merge: row group %d column %s: %w", g, want.Path, err)
			}
			values += v
			nulls += n
		}
		if values != want.Values || nulls != want.Nulls {
			return fmt.Errorf("parquetfile: verify merge: column %s holds %d values (%d null), the inputs %d (%d null)", want.Path, values, nulls, want.Values, want.Nulls)
		}
	}
	if res.HasKeyRange {
		lo, okLo := f.Lookup(res.minKeyName)
		hi, okHi := f.Lookup(res.maxKeyName)
		if !okLo || !okHi || lo != res.MinKey || hi != res.MaxKey {
			return fmt.Errorf("parquetfile: verify merge: the footer's key range is [%q, %q], want [%q, %q]", lo, hi, res.MinKey, res.MaxKey)
		}
	}
	return nil
}

// countPages reads every page of a chunk and returns its values and
// nulls; if constant, every page must hold only value.
func countPages(chunk parquet.ColumnChunk, value []byte, constant bool) (values, nulls int64, err error) {
	pages := chunk.Pages()
	defer pages.Close()
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return values, nulls, nil
		}
		if err != nil {
			return values, nulls, err
		}
		values += page.NumValues()
		nulls += page.NumNulls()
		if constant {
			lo, hi, ok := page.Bounds()
			if page.NumNulls() != 0 || !ok || !bytes.Equal(lo.ByteArray(), value) || !bytes.Equal(hi.ByteArray(), value) {
				parquet.Release(page)
				return values, nulls, fmt.Errorf("a page of the constant column holds values in [%q, %q] (%d null), want only %q", lo.ByteArray(), hi.ByteArray(), page.NumNulls(), value)
			}
		}
		parquet.Release(page)
	}
}
