package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/hudifixtures"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/parquet-go/parquet-go"
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
	want := map[string]int{ // snapshot sizes, from table/hudi/testdata/fixtures
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
			// Every file Spark committed is there, with the rows its
			// commit recorded.
			if code, stdout, stderr := runCmd("table", "check", root); code != 0 || !strings.HasSuffix(stdout, "OK\n") {
				t.Fatalf("table check: exit %d\n%s%s", code, stdout, stderr)
			}
		})
	}
}

// TestInspectS3 writes a table on versitygw with table/hudi and inspects it
// through an s3:// URL.
func TestInspectS3(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	b := srv.NewBucket(t, "warehouse/pageviews")
	tbl, err := hudi.Create(ctx, b, hudi.Config{Name: "pageviews", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt", "hr"}})
	if err != nil {
		t.Fatal(err)
	}
	x, err := tbl.Begin(ctx, hudi.BeginOptions{WriterID: "ingestd-0"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	path := hudi.BaseFilePath("dt=2026-11-21/hr=07", hudi.BaseFileName(hudi.NewFileID(), hudi.WriteToken(0, 7, 0), x.Instant()))
	if err := b.Put(ctx, path, strings.NewReader("PAR1 not really parquet PAR1")); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Commit(ctx, hudi.CommitRequest{
		Files:      []hudi.FileStat{{Path: path, NumRecords: 3}},
		Checkpoint: &hudi.Checkpoint{ID: 7, Offsets: hudi.Offsets{Topic: "pageviews", Next: map[int32]int64{0: 100, 1: 42}}},
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
		{[]string{"table", "inspect", "ftp://x/y"}, 2, "unsupported scheme"},
		{[]string{"table", "check", "ftp://x/y"}, 2, "unsupported scheme"},
		{[]string{"table", "check", filepath.Join(dir, "missing")}, 1, "no such"},
		{[]string{"table", "check"}, 2, "want one table location"},
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

type testRow struct {
	ID int64 `parquet:"id"`
}

// parquetFile is a Parquet file of n rows.
func parquetFile(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[testRow](&buf)
	for i := range n {
		if _, err := w.Write([]testRow{{ID: int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeTable makes a table in b with one commit per entry of rows, each a
// Parquet file of that many rows; writerID names the writer. It returns
// the files' paths.
func writeTable(t *testing.T, b objstore.Store, partition, writerID string, rows ...int) []string {
	t.Helper()
	ctx := context.Background()
	tbl, err := hudi.Create(ctx, b, hudi.Config{Name: "orders", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i, n := range rows {
		x, err := tbl.Begin(ctx, hudi.BeginOptions{WriterID: writerID})
		if err != nil {
			t.Fatal(err)
		}
		path := hudi.BaseFilePath(partition, hudi.BaseFileName(hudi.NewFileID(), hudi.WriteToken(0, int64(i+1), 0), x.Instant()))
		if err := b.Put(ctx, path, bytes.NewReader(parquetFile(t, n))); err != nil {
			t.Fatal(err)
		}
		if _, err := x.Commit(ctx, hudi.CommitRequest{
			Files:      []hudi.FileStat{{Path: path, NumRecords: int64(n)}},
			Checkpoint: &hudi.Checkpoint{ID: int64(i + 1), Offsets: hudi.Offsets{Topic: "orders", Next: map[int32]int64{0: int64(100 * (i + 1))}}},
		}); err != nil {
			t.Fatal(err)
		}
		x.Close()
		paths = append(paths, path)
	}
	return paths
}

func localTable(t *testing.T) (string, objstore.Store) {
	t.Helper()
	root := t.TempDir()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return root, b
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestInspectReportsMissingFile: a committed file deleted from storage no
// longer vanishes silently: inspect lists it and exits 3, in text and JSON.
func TestInspectReportsMissingFile(t *testing.T) {
	root, b := localTable(t)
	paths := writeTable(t, b, "dt=2026-01-01", "w0", 300, 300)
	if code, _, stderr := runCmd("table", "inspect", root); code != 0 {
		t.Fatalf("intact table: exit %d: %s", code, stderr)
	}
	if err := os.Remove(filepath.Join(root, paths[1])); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd("table", "inspect", root)
	if code != exitDamaged || !strings.Contains(stdout, "DAMAGED") || !strings.Contains(stdout, "missing") ||
		!strings.Contains(stdout, paths[1]) || !strings.Contains(stdout, "300 rows") || !strings.Contains(stderr, "1 committed files missing or damaged") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCmd("table", "inspect", "--json", root)
	var rep struct {
		Status   string
		Snapshot []any
		Problems []hudi.FileProblem
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if code != exitDamaged || rep.Status != "damaged" || len(rep.Problems) != 1 || rep.Problems[0].Path != paths[1] || rep.Problems[0].Kind != "missing" || len(rep.Snapshot) != 1 {
		t.Fatalf("--json: exit %d, %+v", code, rep)
	}
}

// TestTableCheck: `ingestd table check` reads every footer: a deleted, a
// truncated and a rewritten file are each reported, with exit 3; an intact
// table exits 0.
func TestTableCheck(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, path string)
		kinds  []string
	}{
		{"intact", func(*testing.T, string) {}, nil},
		{"deleted", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, []string{"missing"}},
		{"truncated", func(t *testing.T, p string) {
			if err := os.Truncate(p, 100); err != nil {
				t.Fatal(err)
			}
		}, []string{"size", "unreadable"}},
		{"rewritten", func(t *testing.T, p string) {
			if err := os.WriteFile(p, parquetFile(t, 200), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"row-count", "size"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, b := localTable(t)
			paths := writeTable(t, b, "dt=2026-01-01", "w0", 300, 250)
			c.damage(t, filepath.Join(root, paths[0]))
			code, stdout, stderr := runCmd("table", "check", root)
			wantCode := exitOK
			if len(c.kinds) > 0 {
				wantCode = exitDamaged
			}
			if code != wantCode || !strings.Contains(stdout, "checked 2 committed files (550 rows") {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, wantCode, stdout, stderr)
			}
			if len(c.kinds) == 0 && (!strings.Contains(stdout, "read 2 footers") || !strings.HasSuffix(stdout, "OK\n")) {
				t.Fatalf("stdout:\n%s", stdout)
			}
			for _, k := range c.kinds {
				if !strings.Contains(stdout, "  "+k+" ") || !strings.Contains(stdout, paths[0]) {
					t.Errorf("stdout does not report %s of %s:\n%s", k, paths[0], stdout)
				}
			}
			code, stdout, _ = runCmd("table", "check", "--json", root)
			var rep struct {
				Status   string
				Files    int
				Problems []hudi.FileProblem
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, p := range rep.Problems {
				kinds = append(kinds, p.Kind)
			}
			if code != wantCode || rep.Files != 2 || strings.Join(kinds, ",") != strings.Join(c.kinds, ",") || (rep.Status == "ok") != (len(c.kinds) == 0) {
				t.Fatalf("--json: exit %d, %+v", code, rep)
			}
		})
	}
}

// TestInspectEscapesHostileTable: strings read from a table (a writer ID, a
// partition path, a checkpoint key) that hold terminal escapes are printed
// escaped, in text and in JSON.
func TestInspectEscapesHostileTable(t *testing.T) {
	const hostile = "\x1b]0;TITLE\x07\x1b[31m\u009b31m\u202e"
	root, b := localTable(t)
	ctx := context.Background()
	writeTable(t, b, "dt=2026-01-01", "w0", 10)
	// A hostile commit, written by hand as another tool could.
	tbl, err := hudi.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	x, err := tbl.Begin(ctx, hudi.BeginOptions{WriterID: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	part := "dt=" + hostile
	path := hudi.BaseFilePath(part, hudi.BaseFileName(hudi.NewFileID(), "0-1-0", x.Instant()))
	for key, body := range map[string][]byte{part + "/" + hudi.PartitionMetadataFile: []byte("#partition metadata\n"), path: parquetFile(t, 5)} {
		if err := b.Put(ctx, key, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := json.Marshal(map[string]any{
		"partitionToWriteStats": map[string]any{part: []any{map[string]any{"fileId": strings.Split(path[len(part)+1:], "_")[0], "path": path, "numWrites": 5}}},
		"extraMetadata":         map[string]string{"lakestream.writer.id": "evil" + hostile, "lakestream.checkpoint.id": "1", "deltastreamer.checkpoint.key": "orders,1:7"},
		"operationType":         "INSERT",
	})
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	if err := os.WriteFile(filepath.Join(root, ".hoodie", x.Instant()+".commit"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd("table", "inspect", root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.ContainsAny(stdout+stderr, "\x1b\x07\u009b\u202e") {
		t.Fatalf("text output holds raw escapes:\n%q", stdout)
	}
	if !strings.Contains(stdout, `evil\x1b]0;TITLE\a\x1b[31m\u009b31m\u202e`) || !strings.Contains(stdout, `dt=\x1b]0;TITLE`) {
		t.Fatalf("text output does not show the escaped strings:\n%s", stdout)
	}
	code, stdout, stderr = runCmd("table", "inspect", "--json", root)
	if code != 0 || strings.ContainsAny(stdout+stderr, "\x1b\x07\u009b\u202e") {
		t.Fatalf("--json: exit %d, raw escapes in:\n%q", code, stdout)
	}
	var rep struct{ Checkpoints []hudi.WriterCheckpoint }
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Checkpoints) != 2 || rep.Checkpoints[0].WriterID != "evil"+hostile {
		t.Fatalf("--json does not decode to the table's strings: %v %+v", err, rep)
	}
	if code, stdout, _ = runCmd("table", "check", root); code != 0 || strings.ContainsAny(stdout, "\x1b\x07\u009b\u202e") {
		t.Fatalf("check: exit %d:\n%q", code, stdout)
	}
}

// TestTableCommandsRedactURLs: a location with credentials in its endpoint
// or a secret in its query is refused without showing them.
func TestTableCommandsRedactURLs(t *testing.T) {
	for _, u := range []string{
		"s3://bucket/prefix?endpoint=http://admin:SuperSecret123@127.0.0.1:9/",
		"s3://bucket/prefix?secret_key=SuperSecret123",
		"s3://admin:SuperSecret123@bucket/prefix",
		"file://admin:SuperSecret123@/tmp/x",
	} {
		for _, cmd := range []string{"inspect", "check"} {
			code, stdout, stderr := runCmd("table", cmd, u)
			if code != exitUsage || strings.Contains(stdout+stderr, "SuperSecret123") || !strings.Contains(stderr, "REDACTED") {
				t.Errorf("table %s %s: exit %d, stderr:\n%s", cmd, u, code, stderr)
			}
		}
	}
}

// TestTableCheckS3 runs `ingestd table check` against versitygw: footers
// are read with ranged GETs.
func TestTableCheckS3(t *testing.T) {
	srv := s3test.Start(t)
	b := srv.NewBucket(t, "warehouse/orders")
	defer b.Close()
	paths := writeTable(t, b, "dt=2026-01-01", "w0", 300, 20)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", s3test.Region)
	loc := "s3://" + srv.Bucket + "/warehouse/orders?endpoint=" + srv.Endpoint + "&path_style=true"
	if code, stdout, stderr := runCmd("table", "check", loc); code != 0 || !strings.Contains(stdout, "read 2 footers") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if err := b.Put(context.Background(), paths[1], bytes.NewReader(parquetFile(t, 21))); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runCmd("table", "check", loc); code != exitDamaged || !strings.Contains(stdout, "the footer holds 21 rows, the commit recorded 20") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}
