package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

// newTable writes commits checkpoints of rows rows in each of two hours'
// partitions, as ingestd does, and returns the table's directory.
func newTable(t *testing.T, commits, rows int) (string, objstore.Store) {
	t.Helper()
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "events")
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	opt := func(b bool) *bool { return &b }
	user, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{
		{Name: "userId", Type: "int64", Optional: opt(false)},
		{Name: "url", Type: "string"},
		{Name: "eventTime", Type: "timestamp", Optional: opt(false)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := schemas.NewTableSchema(user, schemas.TableOptions{EventTimeField: "eventTime", PartitionColumns: []string{"dt", "hr"}})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := hudi.Create(ctx, b, hudi.Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt", "hr"}})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	offset := int64(0)
	for cp := 1; cp <= commits; cp++ {
		x, err := tbl.Begin(ctx, hudi.BeginOptions{WriterID: "ingest-0"})
		if err != nil {
			t.Fatal(err)
		}
		set, err := writer.NewSet(b, ts.Parquet(), 0, writer.WithSpoolDir(t.TempDir()),
			writer.WithPartitionColumns([]string{"dt", "hr"}, func(p string) ([][]byte, error) {
				var out [][]byte
				for _, seg := range strings.Split(p, "/") {
					_, v, _ := strings.Cut(seg, "=")
					out = append(out, []byte(v))
				}
				return out, nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		if err := set.Begin(x.Instant(), int64(cp)); err != nil {
			t.Fatal(err)
		}
		for h := range 2 {
			for range rows {
				at := base.Add(time.Duration(h)*time.Hour + time.Duration(offset%3600)*time.Second)
				row := make(parquet.Row, len(ts.Columns()))
				for i, path := range ts.Columns() {
					leaf, _ := ts.Parquet().Lookup(path...)
					var v parquet.Value
					switch path[0] {
					case "_hoodie_record_key":
						v = parquet.ByteArrayValue(fmt.Appendf(nil, "events-0-%d", offset))
					case "userId":
						v = parquet.Int64Value(offset % 97)
					case "url":
						v = parquet.ByteArrayValue(fmt.Appendf(nil, "https://example.com/%d", offset%13))
					case "eventTime", "_kafka_timestamp":
						v = parquet.Int64Value(at.UnixMicro())
					case "_kafka_partition":
						v = parquet.Int32Value(0)
					case "_kafka_offset":
						v = parquet.Int64Value(offset)
					default:
						row[i] = parquet.NullValue().Level(0, 0, i)
						continue
					}
					row[i] = v.Level(0, leaf.MaxDefinitionLevel, i)
				}
				if err := set.Write(ctx, at.Format("dt=2006-01-02/hr=15"), row, at.UnixMicro()); err != nil {
					t.Fatal(err)
				}
				offset++
			}
		}
		files, err := set.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req := hudi.CommitRequest{Checkpoint: &hudi.Checkpoint{ID: int64(cp), Offsets: hudi.Offsets{Topic: "events", Next: maps.Clone(map[int32]int64{0: offset})}}}
		for _, fl := range files {
			req.Files = append(req.Files, fl.Stat())
		}
		if _, err := x.Commit(ctx, req); err != nil {
			t.Fatal(err)
		}
		x.Close()
	}
	return root, b
}

// rowsOf returns the snapshot's rows (every column but the file name)
// with their counts, and the number of files, as DuckDB reads them.
func rowsOf(t *testing.T, b objstore.Store) (map[string]int, int) {
	t.Helper()
	db, files, err := harness.DuckDB(context.Background(), b, t.TempDir(), "hudi")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.Query("SELECT CAST(t AS VARCHAR), count(*) FROM (SELECT * EXCLUDE (_hoodie_file_name) FROM hudi) t GROUP BY ALL")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var s string
		var n int
		if err := rs.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out, len(files)
}

// rowDigest is rowsOf for tables too large to hold their rows in memory:
// the row count and the sum of the rows' hashes (the same multiset of
// rows gives the same digest), computed by DuckDB, and the file count.
func rowDigest(t *testing.T, b objstore.Store) (string, int) {
	t.Helper()
	db, files, err := harness.DuckDB(context.Background(), b, t.TempDir(), "hudi")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var digest string
	err = db.QueryRow("SELECT count(*) || ' rows, hash sum ' || CAST(sum(CAST(hash(CAST(t AS VARCHAR)) AS HUGEINT)) AS VARCHAR) FROM (SELECT * EXCLUDE (_hoodie_file_name) FROM hudi) t").Scan(&digest)
	if err != nil {
		t.Fatal(err)
	}
	return digest, len(files)
}

func sameRows(t *testing.T, got, want map[string]int) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("%d distinct rows, want %d (or counts differ)", len(got), len(want))
	}
}

func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	if code, _, _ := runCmd(); code != exitUsage {
		t.Fatalf("no command: exit %d", code)
	}
	if code, _, stderr := runCmd("run"); code != exitUsage || !strings.Contains(stderr, "no table") {
		t.Fatalf("no table: exit %d, %s", code, stderr)
	}
	// Every problem at once.
	code, _, stderr := runCmd("run", "--table", t.TempDir(), "--shard", "4/2", "--target-file-size", "big", "--min-files", "1")
	if code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{`--shard "4/2"`, "--target-file-size", "min files 1"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %q:\n%s", want, stderr)
		}
	}
	// Not a table: an error, not usage.
	if code, _, stderr := runCmd("run", "--table", t.TempDir()); code != exitFailed {
		t.Fatalf("not a table: exit %d, %s", code, stderr)
	}
}

// TestRun: ingestd's table.yaml names the table; a dry run prints the plan
// and changes nothing; a run compacts (exit 0, the summary line, the
// metrics pushed); the next finds nothing to do (exit 0).
func TestRun(t *testing.T) {
	root, b := newTable(t, 5, 100)
	before, files := rowsOf(t, b)
	if files != 10 {
		t.Fatalf("%d files", files)
	}
	cfg := filepath.Join(t.TempDir(), "table.yaml")
	yaml := "kafka:\n  topic: events\ntable:\n  url: file://" + root + "\nformat:\n  schema:\n    - {name: userId, type: int64}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var pushes []string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		pushes = append(pushes, r.Method+" "+r.URL.Path+"\n"+string(body))
		mu.Unlock()
	}))
	defer gw.Close()
	t.Setenv("LAKESTREAM_PUSHGATEWAY_URL", gw.URL)

	code, stdout, stderr := runCmd("run", "--config", cfg, "--dry-run", "--small-file-size", "1MiB", "--target-file-size", "4MiB")
	if code != exitOK || !strings.Contains(stdout, "2 groups, 10 files") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, n := rowsOf(t, b); n != 10 {
		t.Fatalf("the dry run changed the table: %d files", n)
	}
	code, stdout, stderr = runCmd("run", "--config", cfg, "--small-file-size", "1MiB", "--target-file-size", "4MiB")
	if code != exitOK || !strings.Contains(stdout, "2 groups, files 10 -> 2") {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, `"msg":"run done"`) || !strings.Contains(stderr, `"msg":"group committed"`) {
		t.Fatalf("log lines:\n%s", stderr)
	}
	after, n := rowsOf(t, b)
	if n != 2 {
		t.Fatalf("%d files after the run, want 2", n)
	}
	sameRows(t, after, before)
	mu.Lock()
	// The grouping key: job, shard "0/1" (base64, it holds a slash), table.
	path, _, _ := strings.Cut(pushes[0], "\n")
	if len(pushes) != 1 || !strings.HasPrefix(path, "POST /metrics/job/lakestream-compactor/") ||
		!strings.Contains(path, "/shard@base64/MC8x") || !strings.Contains(path, "/table/events") ||
		!strings.Contains(pushes[0], "lakestream_compactor_last_run_input_files") || !strings.Contains(pushes[0], "lakestream_compactor_last_success_timestamp_seconds") {
		t.Fatalf("pushes: %q", pushes)
	}
	// Every gauge of the contract (docs/operations.md, "Compactor metrics").
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## Compactor metrics")
	section, _, _ = strings.Cut(section, "\n## ")
	names := regexp.MustCompile("`(lakestream_compactor_[a-z_]+)`").FindAllStringSubmatch(section, -1)
	if len(names) < 7 {
		t.Fatalf("docs/operations.md lists %d compactor metrics", len(names))
	}
	for _, m := range names {
		if !strings.Contains(pushes[0], m[1]) {
			t.Errorf("metric %s of docs/operations.md not pushed", m[1])
		}
	}
	mu.Unlock()
	code, stdout, _ = runCmd("run", "--config", cfg, "--small-file-size", "1MiB", "--target-file-size", "4MiB")
	if code != exitOK || !strings.Contains(stdout, "0 groups, files 0 -> 0") {
		t.Fatalf("second run: exit %d\n%s", code, stdout)
	}
}

// TestKilled: the compactor killed (a crash failpoint exits at once, as
// SIGKILL would) after uploading its file, and after deciding its commit,
// leaves the table with the same rows; the next run finishes or undoes the
// work.
func TestKilled(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "compactor")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, fp := range []string{failpoint.AfterFileWrite, failpoint.BeforeComplete, failpoint.AfterInflight} {
		t.Run(fp, func(t *testing.T) {
			root, b := newTable(t, 4, 100)
			before, _ := rowsOf(t, b)
			cmd := exec.Command(bin, "run", "--table", root, "--small-file-size", "1MiB")
			cmd.Env = append(os.Environ(), "LAKESTREAM_FAILPOINTS="+fp+"=crash", "LAKESTREAM_PUSHGATEWAY_URL=")
			out, err := cmd.CombinedOutput()
			if cmd.ProcessState.ExitCode() != failpoint.CrashExitCode {
				t.Fatalf("exit %v, want the crash's %d\n%s", err, failpoint.CrashExitCode, out)
			}
			got, _ := rowsOf(t, b)
			sameRows(t, got, before)
			cmd = exec.Command(bin, "run", "--table", root, "--small-file-size", "1MiB")
			cmd.Env = append(os.Environ(), "LAKESTREAM_PUSHGATEWAY_URL=")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("next run: %v\n%s", err, out)
			}
			got, n := rowsOf(t, b)
			if n != 2 {
				t.Fatalf("%d files after the next run, want 2", n)
			}
			sameRows(t, got, before)
		})
	}
}

// TestMeasure (LAKESTREAM_MEASURE=N, LAKESTREAM_MEASURE_ROWS=R, default
// 2000; LAKESTREAM_MEASURE_ARGS: more flags of compactor run): a table of N checkpoints of R rows in each of two partitions,
// compacted by the binary; logs the summary line, the time and the peak
// RSS, and checks the rows' digest (rowDigest) is the same after. A
// measurement for the docs.
func TestMeasure(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LAKESTREAM_MEASURE"))
	if n == 0 {
		t.Skip("set LAKESTREAM_MEASURE=<checkpoints> to measure")
	}
	bin := filepath.Join(t.TempDir(), "compactor")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	rows, _ := strconv.Atoi(os.Getenv("LAKESTREAM_MEASURE_ROWS"))
	if rows == 0 {
		rows = 2000
	}
	root, b := newTable(t, n, rows)
	before, files := rowDigest(t, b)
	start := time.Now()
	args := append([]string{"-f", "maxrss_kb=%M", bin, "run", "--table", root}, strings.Fields(os.Getenv("LAKESTREAM_MEASURE_ARGS"))...)
	cmd := exec.Command("/usr/bin/time", args...)
	cmd.Env = append(os.Environ(), "LAKESTREAM_PUSHGATEWAY_URL=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	elapsed := time.Since(start)
	after, outFiles := rowDigest(t, b)
	if after != before {
		t.Fatalf("rows after the compaction %s, before %s", after, before)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	t.Logf("%d files -> %d, wall %s\n%s%s", files, outFiles, elapsed.Round(time.Millisecond), stdout.String(), lines[len(lines)-1])
}

// TestLoopSIGTERM: --loop compacts, then waits; SIGTERM ends it with
// status 0.
func TestLoopSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "compactor")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root, b := newTable(t, 3, 100)
	cmd := exec.Command(bin, "run", "--table", root, "--small-file-size", "1MiB", "--loop", "--interval", "1h")
	cmd.Env = append(os.Environ(), "LAKESTREAM_PUSHGATEWAY_URL=")
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "files 6 -> 2") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no summary: %s", stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	if _, n := rowsOf(t, b); n != 2 {
		t.Fatalf("%d files", n)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
