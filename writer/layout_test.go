package writer

import (
	"context"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi"
)

// prefixLayout is the Hudi layout with its files under data/ and its key
// range under other footer keys.
type prefixLayout struct{ hudi.BaseFileLayout }

func (l prefixLayout) NewFile(partition string, s table.FileSpec) (table.DataFile, error) {
	f, err := l.BaseFileLayout.NewFile(partition, s)
	f.Key = "data/" + f.Key
	return f, err
}

func (prefixLayout) KeyRangeFooter() (string, string) { return "lo", "hi" }

// TestLayoutNamesFiles: the writer asks its layout for the key of every
// file, the values of its per-file columns and the footer keys of its
// record key range.
func TestLayoutNamesFiles(t *testing.T) {
	b := objstore.NewMemory()
	s := newTestSet(t, b, WithLayout(prefixLayout{}))
	if err := s.Begin(testInstant, 4); err != nil {
		t.Fatal(err)
	}
	writeRec(t, s, "dt=2026-11-01", 0)
	writeRec(t, s, "dt=2026-11-01", 1)
	files, err := s.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || !strings.HasPrefix(files[0].Path, "data/dt=2026-11-01/") {
		t.Fatalf("files %+v, want one under data/dt=2026-11-01/", files)
	}
	f, recs := readFile(t, b, files[0].Path)
	name := files[0].Path[strings.LastIndexByte(files[0].Path, '/')+1:]
	for _, r := range recs {
		if r.partitionPath != "dt=2026-11-01" || r.fileName != name {
			t.Fatalf("row's partition path %q and file name %q, want dt=2026-11-01 and %s", r.partitionPath, r.fileName, name)
		}
	}
	md := f.Metadata()
	if lo, _ := footerValue(md, "lo"); lo == "" {
		t.Fatal("no key range under the layout's footer key")
	}
	if _, ok := footerValue(md, "hoodie_min_record_key"); ok {
		t.Fatal("key range under Hudi's footer key too")
	}
}
