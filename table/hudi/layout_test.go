package hudi

import (
	"strings"
	"testing"

	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi/hudimeta"
)

// TestBaseFileLayout: a new file is a base file of a new file group in its
// partition, named with the worker, checkpoint and sequence as write token;
// its key gives back its instant; its constants are the partition path and
// the file name.
func TestBaseFileLayout(t *testing.T) {
	var l table.Layout = BaseFileLayout{}
	spec := table.FileSpec{Instant: "20261101120000000", Checkpoint: 42, Worker: 3, Seq: 7}
	seen := map[string]bool{}
	for _, part := range []string{"dt=2026-11-01/hr=12", ""} {
		f, err := l.NewFile(part, spec)
		if err != nil {
			t.Fatal(err)
		}
		id, token, ts, ok := ParseBaseFileName(f.Name)
		if !ok || id != f.ID || token != "3-42-7" || ts != spec.Instant || f.Partition != part {
			t.Fatalf("file %+v: parsed %q %q %q %v", f, id, token, ts, ok)
		}
		if f.Key != BaseFilePath(part, f.Name) || (part != "" && !strings.HasPrefix(f.Key, part+"/")) {
			t.Fatalf("key %q of %q in %q", f.Key, f.Name, part)
		}
		if seen[f.ID] {
			t.Fatalf("file group %s twice", f.ID)
		}
		seen[f.ID] = true
		if ts, ok := l.FileInstant(f.Key); !ok || ts != spec.Instant {
			t.Fatalf("FileInstant(%q) = %q, %v", f.Key, ts, ok)
		}
		c := l.Constants(f)
		if len(c) != 2 || c[0].Column != hudimeta.ColPartitionPath || string(c[0].Value) != part ||
			c[1].Column != hudimeta.ColFileName || string(c[1].Value) != f.Name {
			t.Fatalf("constants %+v", c)
		}
	}
	if _, ok := l.FileInstant("dt=x/.hoodie_partition_metadata"); ok {
		t.Fatal("FileInstant of a file that is not a base file")
	}
	if lo, hi := l.KeyRangeFooter(); lo != hudimeta.MinRecordKey || hi != hudimeta.MaxRecordKey {
		t.Fatalf("footer keys %q %q", lo, hi)
	}
}
