package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/table/hudi"
)

// TestRunIceberg: by default a run publishes its replacecommits as
// Iceberg snapshots, whose scan has the Hudi snapshot's rows;
// table.iceberg: false in --config, or --iceberg=false, switches it off
// (no metadata/ is written).
func TestRunIceberg(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		flags      []string
		on         bool
	}{
		{"default", "", nil, true},
		{"config-off", "  iceberg: false\n", nil, false},
		{"flag-off", "", []string{"--iceberg=false"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			root, b := newTable(t, 5, 100)
			cfg := filepath.Join(t.TempDir(), "table.yaml")
			if err := os.WriteFile(cfg, []byte("table:\n  url: file://"+root+"\n"+c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"run", "--config", cfg, "--small-file-size", "1MiB", "--target-file-size", "4MiB"}, c.flags...)
			code, stdout, stderr := runCmd(args...)
			if code != exitOK || !strings.Contains(stdout, "2 groups, files 10 -> 2") {
				t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
			}
			_, err := b.Stat(ctx, iceberg.MetadataDir+"/version-hint.text")
			if (err == nil) != c.on {
				t.Fatalf("iceberg metadata: %v, want published %v", err, c.on)
			}
			if !c.on {
				return
			}
			rows, _ := rowsOf(t, b)
			want := 0
			for _, n := range rows {
				want += n
			}
			tbl, err := hudi.Open(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := iceberg.TableLocation(root)
			if err != nil {
				t.Fatal(err)
			}
			p, err := iceberg.New(tbl, loc)
			if err != nil {
				t.Fatal(err)
			}
			it, err := p.Table(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cur := it.Metadata().CurrentSnapshot()
			if cur == nil || cur.Summary.Operation != "replace" {
				t.Fatalf("current iceberg snapshot %+v, want a replace", cur)
			}
			_, batches, err := it.Scan().ToArrowRecords(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for rec, err := range batches {
				if err != nil {
					t.Fatal(err)
				}
				got += int(rec.NumRows())
				rec.Release()
			}
			if got != want || want == 0 {
				t.Fatalf("iceberg scan %d rows, hudi snapshot %d", got, want)
			}
		})
	}
}
