package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/commitlog"
	"github.com/lakestream/lakestream/internal/hudifixtures"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
)

// inspectJSON runs `ingestd table inspect --json` and decodes its output.
func inspectJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"table", "inspect"}, args...), &out, &errOut)
	if code != 0 {
		t.Fatalf("inspect %v: exit %d: %s", args, code, errOut.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("inspect %v: output is not one JSON object: %v\n%s", args, err, out.String())
	}
	return rep
}

// TestInspectFixtures inspects every Spark-written fixture, as a plain path
// and as a file:// URL, with --json before and after the table.
func TestInspectFixtures(t *testing.T) {
	want := map[string]int{ // snapshot sizes, from commitlog/testdata/fixtures
		"v6_empty": 0, "v6_nonpartitioned": 1, "v6_simplekeygen_hivestyle_no_metafields": 3,
		"v6_simplekeygen_nonhivestyle": 3, "v6_simplekeygen_nonhivestyle_overwritetable": 1,
	}
	for _, name := range hudifixtures.Names {
		t.Run(name, func(t *testing.T) {
			root := hudifixtures.Unpack(t, name)
			for _, args := range [][]string{{"--json", root}, {"file://" + root, "--json"}} {
				rep := inspectJSON(t, args...)
				snap := rep["snapshot"].([]any)
				if len(snap) != want[name] {
					t.Fatalf("%v: %d files in snapshot, want %d", args, len(snap), want[name])
				}
				for _, f := range snap {
					f := f.(map[string]any)
					for _, k := range []string{"path", "fileId", "partition", "instant", "sizeBytes"} {
						if _, ok := f[k]; !ok {
							t.Errorf("snapshot entry %v lacks %q", f, k)
						}
					}
					info, err := os.Stat(filepath.Join(root, f["path"].(string)))
					if err != nil {
						t.Fatalf("snapshot path %v is not relative to the table root: %v", f["path"], err)
					}
					if int64(f["sizeBytes"].(float64)) != info.Size() {
						t.Errorf("%v: sizeBytes %v, file has %d", f["path"], f["sizeBytes"], info.Size())
					}
				}
			}
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"table", "inspect", root}, &out, &errOut); code != 0 {
				t.Fatalf("text inspect: exit %d: %s", code, errOut.String())
			}
			for _, s := range []string{"timeline", "snapshot", "checkpoints", "next offsets"} {
				if !strings.Contains(out.String(), s) {
					t.Errorf("text output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

// TestInspectS3 writes a table on versitygw with commitlog and inspects it
// through an s3:// URL.
func TestInspectS3(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	b := srv.NewBucket(t, "warehouse/pageviews")
	tbl, err := commitlog.Create(ctx, b, commitlog.Config{Name: "pageviews", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt", "hr"}})
	if err != nil {
		t.Fatal(err)
	}
	x, err := tbl.Begin(ctx, commitlog.BeginOptions{WriterID: "ingestd-0"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	path := commitlog.BaseFilePath("dt=2026-11-21/hr=07", commitlog.BaseFileName(commitlog.NewFileID(), commitlog.WriteToken(0, 7, 0), x.Instant()))
	if err := b.Put(ctx, path, strings.NewReader("PAR1 not really parquet PAR1")); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Commit(ctx, commitlog.CommitRequest{
		Files:      []commitlog.FileStat{{Path: path, NumRecords: 3}},
		Checkpoint: &commitlog.Checkpoint{ID: 7, Offsets: commitlog.Offsets{Topic: "pageviews", Next: map[int32]int64{0: 100, 1: 42}}},
	}); err != nil {
		t.Fatal(err)
	}
	b.Close()

	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", s3test.Region)
	rep := inspectJSON(t, "--json", "s3://"+srv.Bucket+"/warehouse/pageviews?endpoint="+srv.Endpoint+"&path_style=true")
	snap := rep["snapshot"].([]any)
	if len(snap) != 1 || snap[0].(map[string]any)["path"] != path {
		t.Fatalf("snapshot %v, want just %s", snap, path)
	}
	offsets := rep["offsets"].([]any)
	if len(offsets) != 2 {
		t.Fatalf("offsets %v, want partitions 0 and 1", offsets)
	}
	p1 := offsets[1].(map[string]any)
	if p1["partition"].(float64) != 1 || p1["next"].(float64) != 42 || p1["checkpointId"].(float64) != 7 || p1["writerId"] != "ingestd-0" {
		t.Fatalf("partition 1 position %v, want next 42 from checkpoint 7 of ingestd-0", p1)
	}
	cps := rep["checkpoints"].([]any)
	if len(cps) != 1 || cps[0].(map[string]any)["offsets"] != "pageviews,0:100,1:42" {
		t.Fatalf("checkpoints %v", cps)
	}
}

func TestInspectErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"table", "inspect", dir}, 1, "not a hudi table"},
		{[]string{"table", "inspect", filepath.Join(dir, "missing")}, 1, "no such"},
		{[]string{"table", "inspect", "ftp://x/y"}, 1, "unsupported scheme"},
		{[]string{"table", "inspect"}, 2, "want one table location"},
		{[]string{"table", "inspect", "--bogus", dir}, 2, "flag provided but not defined"},
		{[]string{"frobnicate"}, 2, "usage"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errOut.String(), tc.code, tc.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("inspect created the directory it was asked to inspect")
	}
}
