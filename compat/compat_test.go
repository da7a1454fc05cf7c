//go:build compat

package compat

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/table/hudi"
	"go.uber.org/goleak"
)

// ingestdBin is the ingestd binary built (CGO_ENABLED=0) for these tests.
var ingestdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lakestream-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ingestdBin, err = harness.BuildIngestd(dir)
	if err == nil {
		compactorBin, err = buildCompactor(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// engineTable is what a checker answers about one table.
type engineTable struct {
	Error           string             `json:"error"`
	Columns         [][2]string        `json:"columns"`
	Snapshot        *result            `json:"snapshot"`
	Partition       *result            `json:"partition"`
	PartitionScan   []map[string]any   `json:"partition_scan"`
	PartitionSlices []slice            `json:"partition_slices"`
	AsOf            *result            `json:"as_of"`
	Incremental     *result            `json:"incremental"`
	Commits         json.RawMessage    `json:"commits"`
	Slices          json.RawMessage    `json:"slices"`
	AsOfSlices      json.RawMessage    `json:"as_of_slices"`
	Clustering      json.RawMessage    `json:"clustering"`
	Seconds         map[string]float64 `json:"seconds"`
	errors          map[string]string  // check -> error, filled by readResult
	raw             map[string]json.RawMessage
}

type engineResult struct {
	Engine         string                  `json:"engine"`
	SparkVersion   string                  `json:"spark_version"`
	Jar            string                  `json:"jar"`
	HudiVersion    string                  `json:"hudi_version"`
	SessionSeconds float64                 `json:"session_seconds"`
	TotalSeconds   float64                 `json:"total_seconds"`
	Tables         map[string]*engineTable `json:"tables"`
}

// summaryRow is one line of the summary printed at the end.
type summaryRow struct{ engine, table, check, outcome string }

// TestCompat makes the tables, computes DuckDB's reference, and runs each
// engine's checker on them, one engine after the other.
func TestCompat(t *testing.T) {
	python := os.Getenv("LAKESTREAM_COMPAT_PYTHON")
	if python == "" {
		t.Fatal("LAKESTREAM_COMPAT_PYTHON is not set: run make compat, which installs the engines under .tools/")
	}
	var bundles [][2]string // label, jar
	for _, b := range strings.Fields(os.Getenv("LAKESTREAM_COMPAT_SPARK_BUNDLES")) {
		label, jar, ok := strings.Cut(b, "=")
		if !ok {
			t.Fatalf("LAKESTREAM_COMPAT_SPARK_BUNDLES: %q is not label=jar", b)
		}
		if _, err := os.Stat(jar); err != nil {
			t.Fatalf("Hudi Spark bundle %s: %v", label, err)
		}
		bundles = append(bundles, [2]string{label, jar})
	}
	if len(bundles) == 0 {
		t.Fatal("LAKESTREAM_COMPAT_SPARK_BUNDLES is not set: run make compat")
	}
	_, file, _, _ := runtime.Caller(0)
	scripts := filepath.Dir(file)

	dir := os.Getenv("LAKESTREAM_COMPAT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else {
		var err error
		if dir, err = filepath.Abs(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	var tables []table
	makers := []struct {
		name string
		make func(context.Context, *testing.T, string) []table
	}{{"e2e", makeE2E}, {"torture", makeTorture}, {"late", makeLate}, {"compacted", makeCompacted}}
	for _, mk := range makers {
		if !tableWanted(mk.name) {
			continue
		}
		start := time.Now()
		made := mk.make(ctx, t, filepath.Join(dir, "tables"))
		for _, tb := range made {
			t.Logf("table %s made in %.1fs: %s %v", tb.Name, time.Since(start).Seconds(), tb.Root, tb.Notes)
		}
		tables = append(tables, made...)
	}
	// Every table published as Iceberg too (iceberg_test.go), before any
	// reader: the Hudi readers see the metadata/ directory beside .hoodie/.
	prepareIceberg(ctx, t, tables)
	start := time.Now()
	var refs []reference
	var specs []spec
	for _, tb := range tables {
		r := makeReference(ctx, t, tb)
		refs = append(refs, r)
		specs = append(specs, r.Spec)
		t.Logf("reference %s: %d rows, %d files, %d commits on the active timeline; time travel to %s: %d rows; after it: %d rows; partition %v: %d rows in %d files",
			tb.Name, r.Snapshot.Count, len(r.Slices), len(r.Commits), r.Spec.AsOf, r.AsOf.Count, r.Incremental.Count,
			r.Spec.Partition, r.Partition.Count, len(r.Partition.Files))
	}
	t.Logf("DuckDB references in %.1fs", time.Since(start).Seconds())
	specsPath := filepath.Join(dir, "specs.json")
	writeJSON(t, specsPath, specs)
	writeJSON(t, filepath.Join(dir, "reference.json"), refs)

	var summary []summaryRow
	// One engine at a time.
	for _, b := range bundles {
		engine := "spark+hudi-" + b[0]
		if !engineWanted(engine) {
			continue
		}
		t.Run(engine, func(t *testing.T) {
			before := manifests(t, tables)
			out := filepath.Join(dir, engine+".json")
			runChecker(ctx, t, dir, engine, python, filepath.Join(scripts, "spark_check.py"),
				"--jar", b[1], "--specs", specsPath, "--scratch", filepath.Join(dir, "scratch-"+engine), "--out", out)
			res := readResult(t, out)
			t.Logf("%s: Spark %s with %s: session started in %.1fs, all checks in %.1fs", engine, res.SparkVersion, res.Jar, res.SessionSeconds, res.TotalSeconds)
			summary = append(summary, compareEngine(t, engine, refs, res, false)...)
			checkUnchanged(t, engine, tables, before)
		})
	}
	hudiRS := func(t *testing.T) {
		before := manifests(t, tables)
		out := filepath.Join(dir, "hudi-rs.json")
		runChecker(ctx, t, dir, "hudi-rs", python, filepath.Join(scripts, "hudirs_check.py"), "--specs", specsPath, "--out", out)
		res := readResult(t, out)
		t.Logf("hudi-rs %s: all checks in %.1fs", res.HudiVersion, res.TotalSeconds)
		summary = append(summary, compareEngine(t, "hudi-rs", refs, res, true)...)
		checkUnchanged(t, "hudi-rs", tables, before)
	}
	if engineWanted("hudi-rs") {
		t.Run("hudi-rs", hudiRS)
	}
	// The Iceberg readers (iceberg_test.go).
	summary = append(summary, checkIceberg(ctx, t, dir, python, scripts, tables)...)

	var b strings.Builder
	fmt.Fprintf(&b, "\n| engine | table | check | result |\n|---|---|---|---|\n")
	for _, r := range summary {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.engine, r.table, r.check, r.outcome)
	}
	t.Log(b.String())
	writeFile(t, filepath.Join(dir, "summary.md"), b.String())
}

// tableWanted says whether LAKESTREAM_COMPAT_TABLES (a comma-separated
// list of e2e, torture, late, compacted; unset: all) includes the table
// maker name (torture makes torture_pending too).
func tableWanted(name string) bool {
	list := os.Getenv("LAKESTREAM_COMPAT_TABLES")
	if list == "" {
		return true
	}
	for _, e := range strings.Split(list, ",") {
		if strings.TrimSpace(e) == name {
			return true
		}
	}
	return false
}

// runChecker runs a checker script with the venv's Python, its output in
// <dir>/<name>.log.
func runChecker(ctx context.Context, t *testing.T, dir, name, python, script string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	work := filepath.Join(dir, "cwd-"+name)
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, python, append([]string{script}, args...)...)
	cmd.Dir = work // Spark writes derby.log, spark-warehouse... in its working directory
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "SPARK_LOCAL_IP=127.0.0.1", "PYTHONUNBUFFERED=1")
	start := time.Now()
	if err := cmd.Run(); err != nil {
		data, _ := os.ReadFile(logPath)
		s := string(data)
		if len(s) > 8000 {
			s = "..." + s[len(s)-8000:]
		}
		t.Fatalf("%s: %v after %.1fs (log %s):\n%s", name, err, time.Since(start).Seconds(), logPath, s)
	}
	t.Logf("%s ran in %.1fs (log %s)", name, time.Since(start).Seconds(), logPath)
}

func readResult(t *testing.T, path string) *engineResult {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var res engineResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var raw struct {
		Tables map[string]map[string]json.RawMessage `json:"tables"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for name, et := range res.Tables {
		et.raw = raw.Tables[name]
		et.errors = map[string]string{}
		for check, msg := range et.raw {
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(msg, &e) == nil && e.Error != "" {
				et.errors[check] = e.Error
			}
		}
	}
	return &res
}

// compareEngine compares an engine's answers with the references; every
// difference is a test error naming the engine, the table and the query.
func compareEngine(t *testing.T, engine string, refs []reference, res *engineResult, hudiRS bool) []summaryRow {
	t.Helper()
	var rows []summaryRow
	for _, ref := range refs {
		name := ref.Spec.Name
		got := res.Tables[name]
		outcome := func(check string, problems []string) {
			o := "ok"
			if len(problems) > 0 {
				o = "FAIL: " + strings.Join(problems, "; ")
				t.Errorf("%s, table %s (%s), %s:\n  %s", engine, name, ref.Spec.Path, check, strings.Join(problems, "\n  "))
			}
			rows = append(rows, summaryRow{engine, name, check, o})
		}
		if got == nil || got.Error != "" {
			msg := "no answer"
			if got != nil {
				msg = got.Error
			}
			outcome("open", []string{msg})
			continue
		}
		failed := func(check string) []string {
			if e, ok := got.errors[check]; ok {
				return []string{"error: " + e}
			}
			return nil
		}
		// Snapshot: the schema, then the rows.
		if p := failed("snapshot"); p != nil {
			outcome("snapshot", p)
		} else {
			var p []string
			var want [][2]string
			for _, c := range ref.Spec.Columns {
				want = append(want, [2]string{c.Name, c.Kind})
			}
			if fmt.Sprint(got.Columns) != fmt.Sprint(want) {
				p = append(p, fmt.Sprintf("columns %v, want %v", got.Columns, want))
			}
			p = append(p, diffResult(got.Snapshot, ref.Snapshot)...)
			outcome(fmt.Sprintf("snapshot (%d rows)", ref.Snapshot.Count), p)
		}
		// Partition filter: the rows and the files read.
		check := fmt.Sprintf("partition filter %s (%d of %d files)", partitionText(ref.Spec), len(ref.Partition.Files), len(ref.Slices))
		if p := failed("partition"); p != nil {
			outcome(check, p)
		} else {
			p := diffResult(got.Partition, ref.Partition)
			if hudiRS {
				var want []slice
				for _, s := range ref.Slices {
					if _, ok := ref.Partition.Files[s.BaseFile]; ok {
						want = append(want, s)
					}
				}
				p = append(p, diffSlices("pruned file slices", got.PartitionSlices, want)...)
			} else {
				for _, s := range got.PartitionScan {
					if n, ok := s["numFiles"].(float64); !ok || int(n) != len(ref.Partition.Files) {
						p = append(p, fmt.Sprintf("scan %v read %v files, want %d", s["node"], s["numFiles"], len(ref.Partition.Files)))
					}
				}
				if len(got.PartitionScan) == 0 {
					p = append(p, "no file scan in the plan")
				}
			}
			outcome(check, p)
		}
		// Time travel and incremental.
		if p := failed("as_of"); p != nil {
			outcome("time travel as of "+ref.Spec.AsOf, p)
		} else {
			outcome(fmt.Sprintf("time travel as of %s (%d rows)", ref.Spec.AsOf, ref.AsOf.Count), diffResult(got.AsOf, ref.AsOf))
		}
		if p := failed("incremental"); p != nil {
			outcome("incremental after "+ref.Spec.Begin, p)
		} else {
			outcome(fmt.Sprintf("incremental after %s (%d rows)", ref.Spec.Begin, ref.Incremental.Count), diffResult(got.Incremental, ref.Incremental))
		}
		// The timeline.
		label := "call show_commits"
		if hudiRS {
			label = "timeline: completed commits"
		}
		if p := failed("commits"); p != nil {
			outcome(label, p)
		} else {
			var commits []commitInfo
			if err := json.Unmarshal(got.Commits, &commits); err != nil {
				t.Fatal(err)
			}
			var p []string
			if fmt.Sprint(commits) != fmt.Sprint(ref.Commits) {
				p = append(p, fmt.Sprintf("commits\n    %v\n  want\n    %v", commits, ref.Commits))
			}
			outcome(fmt.Sprintf("%s (%d commits)", label, len(ref.Commits)), p)
		}
		// The clusterings: Spark's show_clustering reads each
		// replacecommit's plan from its requested file; hudi-rs lists
		// the completed replacecommits and their operation type.
		label = fmt.Sprintf("call show_clustering (%d completed)", len(ref.Clusterings))
		if hudiRS {
			label = fmt.Sprintf("timeline: completed replacecommits, operationType CLUSTER (%d)", len(ref.Clusterings))
		}
		if p := failed("clustering"); p != nil {
			outcome(label, p)
		} else {
			var clusterings []clusteringInfo
			var p []string
			if err := json.Unmarshal(got.Clustering, &clusterings); err != nil {
				p = append(p, fmt.Sprintf("answer %s: %v", got.Clustering, err))
			}
			want := ref.Clusterings
			if hudiRS {
				want = nil
				for _, c := range ref.Clusterings {
					want = append(want, clusteringInfo{Instant: c.Instant, Operation: hudi.OperationCluster})
				}
				if cc, ok := got.raw["clustering_commits"]; ok && len(ref.Clusterings) > 0 {
					t.Logf("hudi-rs, table %s: get_completed_clustering_commits lists %s (not compared: it looks for operationType \"cluster\")", name, cc)
				}
			}
			if fmt.Sprint(clusterings) != fmt.Sprint(want) {
				p = append(p, fmt.Sprintf("clusterings\n    %+v\n  want\n    %+v", clusterings, want))
			}
			outcome(label, p)
		}
		if hudiRS {
			if p := failed("slices"); p != nil {
				outcome("file slices", p)
			} else {
				var s, a []slice
				if err := json.Unmarshal(got.Slices, &s); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(got.AsOfSlices, &a); err != nil {
					t.Fatal(err)
				}
				p := diffSlices("latest", s, ref.Slices)
				p = append(p, diffSlices("as of "+ref.Spec.AsOf, a, ref.AsOfSlices)...)
				outcome(fmt.Sprintf("file slices (%d, and %d as of %s)", len(ref.Slices), len(ref.AsOfSlices), ref.Spec.AsOf), p)
			}
		}
	}
	return rows
}

func partitionText(s spec) string {
	var parts []string
	for _, f := range s.PartitionFields {
		parts = append(parts, f+"='"+s.Partition[f]+"'")
	}
	return strings.Join(parts, " AND ")
}

func diffResult(got *result, want result) []string {
	if got == nil {
		return []string{"no answer"}
	}
	var p []string
	if got.Count != want.Count {
		p = append(p, fmt.Sprintf("%d rows, want %d", got.Count, want.Count))
	}
	var cols []string
	for _, c := range sortedKeys(want.Checksums) {
		if got.Checksums[c] != want.Checksums[c] {
			cols = append(cols, c)
		}
	}
	if len(cols) > 0 {
		p = append(p, "checksums differ in columns "+strings.Join(cols, ", "))
	}
	if d := diffCounts(got.Partitions, want.Partitions); d != "" {
		p = append(p, "rows per partition: "+d)
	}
	if want.Files != nil {
		if d := diffCounts(got.Files, want.Files); d != "" {
			p = append(p, "rows per base file read: "+d)
		}
	}
	return p
}

func diffCounts(got, want map[string]int64) string {
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var d []string
	for _, k := range sortedKeys(keys) {
		if got[k] != want[k] {
			d = append(d, fmt.Sprintf("%s: %d, want %d", k, got[k], want[k]))
		}
	}
	if len(d) > 8 {
		d = append(d[:8], fmt.Sprintf("... (%d in all)", len(d)))
	}
	return strings.Join(d, ", ")
}

func diffSlices(what string, got, want []slice) []string {
	sort.Slice(got, func(i, j int) bool { return got[i].Partition+got[i].BaseFile < got[j].Partition+got[j].BaseFile })
	sort.Slice(want, func(i, j int) bool { return want[i].Partition+want[i].BaseFile < want[j].Partition+want[j].BaseFile })
	if fmt.Sprint(got) == fmt.Sprint(want) {
		return nil
	}
	g, w := map[slice]bool{}, map[slice]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	var extra, missing []string
	for _, s := range got {
		if !w[s] {
			extra = append(extra, fmt.Sprintf("%+v", s))
		}
	}
	for _, s := range want {
		if !g[s] {
			missing = append(missing, fmt.Sprintf("%+v", s))
		}
	}
	return []string{fmt.Sprintf("%s file slices: %d, want %d; not in the snapshot: %v; missing: %v", what, len(got), len(want), extra, missing)}
}

// fileState is what manifests record of a file.
type fileState struct {
	size  int64
	mtime time.Time
}

func manifests(t *testing.T, tables []table) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	for _, tb := range tables {
		err := filepath.WalkDir(tb.Root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			out[p] = fileState{info.Size(), info.ModTime()}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkUnchanged fails when an engine wrote into a table it only read.
func checkUnchanged(t *testing.T, engine string, tables []table, before map[string]fileState) {
	t.Helper()
	after := manifests(t, tables)
	var d []string
	for p, s := range after {
		if b, ok := before[p]; !ok {
			d = append(d, "created "+p)
		} else if b != s {
			d = append(d, "changed "+p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			d = append(d, "deleted "+p)
		}
	}
	if len(d) > 0 {
		sort.Strings(d)
		t.Errorf("%s wrote into the tables it read: %s", engine, strings.Join(d, ", "))
	}
}
