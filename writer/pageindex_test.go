package writer

import (
	"context"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/parquet-go/parquet-go"
)

// TestFilesHaveAPageIndex: with page statistics left out of the data page
// headers (doc.go), the page index is what readers prune pages with. Every
// column chunk of a file of several pages and row groups has a column and
// an offset index; each page's entry counts its nulls, and its bounds hold
// the page's values (byte arrays may be truncated to a wider bound).
func TestFilesHaveAPageIndex(t *testing.T) {
	b := objstore.NewMemory()
	s := newTestSet(t, b, WithPageBufferSize(4<<10), WithRowGroupBytes(32<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, 5000, 500, func(int) string { return "dt=2026-11-01" })
	files, err := s.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := readFile(t, b, files[0].Path)
	cis, ois := f.ColumnIndexes(), f.OffsetIndexes()
	groups := f.RowGroups()
	if len(groups) < 2 {
		t.Fatalf("%d row groups, want several", len(groups))
	}
	mostPages := 0
	for g, rg := range groups {
		for c, chunk := range rg.ColumnChunks() {
			cc := f.Metadata().RowGroups[g].Columns[c]
			if cc.ColumnIndexOffset == 0 || cc.OffsetIndexOffset == 0 {
				t.Fatalf("row group %d column %d has no page index", g, c)
			}
			ci, oi := cis[g*numTestCols+c], ois[g*numTestCols+c]
			typ := chunk.Type()
			pages := chunk.Pages()
			for p := 0; ; p++ {
				page, err := pages.ReadPage()
				if err != nil {
					if p != len(oi.PageLocations) || p != len(ci.NullCounts) {
						t.Fatalf("row group %d column %d: %d pages, index has %d/%d", g, c, p, len(oi.PageLocations), len(ci.NullCounts))
					}
					break
				}
				mostPages = max(mostPages, p+1)
				if ci.NullCounts[p] != page.NumNulls() {
					t.Errorf("row group %d column %d page %d: index says %d nulls, page has %d", g, c, p, ci.NullCounts[p], page.NumNulls())
				}
				if lo, hi, ok := page.Bounds(); ok {
					minV, maxV := typ.Kind().Value(ci.MinValues[p]), typ.Kind().Value(ci.MaxValues[p])
					if typ.Compare(minV, lo) > 0 || typ.Compare(maxV, hi) < 0 {
						t.Errorf("row group %d column %d page %d: index bounds [%v, %v] do not hold [%v, %v]", g, c, p, minV, maxV, lo, hi)
					}
				} else if !ci.NullPages[p] {
					t.Errorf("row group %d column %d page %d: all null but not a null page in the index", g, c, p)
				}
				parquet.Release(page)
			}
			pages.Close()
		}
	}
	if mostPages < 3 {
		t.Errorf("at most %d pages in a column chunk: want several", mostPages)
	}
}
