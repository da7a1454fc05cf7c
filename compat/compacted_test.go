//go:build compat

package compat

// The compacted table: written by ingestd (Iceberg publishing on, as by
// default), compacted by the compactor binary beside the running ingestd,
// then written to again. Every reader, Hudi and Iceberg, checks it.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/table/hudi"
)

// compactorBin is the compactor binary built (CGO_ENABLED=0) for these
// tests.
var compactorBin string

// buildCompactor builds cmd/compactor into dir.
func buildCompactor(dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(dir, "compactor")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/compactor")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build compactor: %v\n%s", err, out)
	}
	return bin, nil
}

// compaction is what the compactor did to a table.
type compaction struct {
	// Instants are the completed replacecommits, oldest first.
	Instants []string
	// Before is the last completed instant before the first of them.
	Before string
	// AsOf is the instant of time travel and the start of the
	// incremental query: a commit before the compaction, with commits
	// after it whose files were compacted too (their rows, in a merged
	// file, keep their commit time).
	AsOf string
	// Partition is a compacted partition that received a file after the
	// compaction: the partition filter's.
	Partition string
	// Replaced are the base files the replacecommits retired, still on
	// storage (the compactor's retention).
	Replaced []hudi.BaseFile
	// Outputs are the files the replacecommits wrote.
	Outputs []string
	// Clusterings are the replacecommits' clustering plans as Hudi's
	// show_clustering lists them.
	Clusterings []clusteringInfo
}

// clusteringInfo is a row of Hudi's `call show_clustering(...,
// show_involved_partition => true)`.
type clusteringInfo struct {
	Instant    string `json:"instant"`
	Groups     int    `json:"groups"`     // input_group_size
	State      string `json:"state"`      // COMPLETED
	Partitions string `json:"partitions"` // involved_partitions: each input slice's partition, comma-separated, in plan order
	// Operation is the completed file's operationType (hudi-rs's answer;
	// Spark's show_clustering has none).
	Operation string `json:"operation,omitempty"`
}

// Compactor settings of the compacted table: every file of the table is
// small (they are tens of KB), one merged file per partition, no quiet
// period, and the replaced files kept long after the run so that a reader
// that read them would return their rows twice.
var compactorArgs = []string{"--small-file-size", "64MiB", "--target-file-size", "128MiB", "--min-files", "2",
	"--quiet-period", "0s", "--retention", "24h"}

// makeCompacted writes 36,000 pageviews over the 3 hours 20 minutes before
// the current hour with ingestd, in three waves of 9,000 (three commits,
// each a file per dt/hr partition: about 2,700 rows in each of the three
// whole hours, large enough that the column chunks are merged page by
// page, not re-encoded; about 900 in the 20 minutes of the oldest, whose
// chunks are re-encoded: too small pages), runs the
// compactor once beside the still running ingestd (compactor run --table
// file://<root>, Iceberg publishing on), then ingests a fourth wave into
// the same partitions and stops ingestd. The table's timeline is commits,
// the compactor's replacecommits (one per partition), then a commit.
func makeCompacted(ctx context.Context, t *testing.T, dir string) []table {
	in := newIngest(ctx, t, dir, "compacted", settings{})
	const wave = 9000
	values := jsonValues(harness.Pageviews(31, 4*wave, time.Now().UTC().Truncate(time.Hour), 3*time.Hour+20*time.Minute))
	in.produce(values[:wave])
	in.start()
	in.waitCommitted()
	for i := 1; i < 3; i++ {
		in.produce(values[i*wave : (i+1)*wave])
		in.waitCommitted()
	}
	summary := runCompactor(ctx, t, dir, in.root)
	in.produce(values[3*wave:])
	in.waitCommitted()
	in.stop()

	c := readCompaction(ctx, t, in.root)
	notes := []string{fmt.Sprintf("compactor run %s beside ingestd: %s", strings.Join(compactorArgs, " "), summary),
		fmt.Sprintf("replacecommits %v retired %d files (kept on storage) into %d; then a commit; time travel and incremental from %s, partition %s",
			c.Instants, len(c.Replaced), len(c.Outputs), c.AsOf, c.Partition)}
	checkCompactedRows(ctx, t, in.root, c)
	return []table{{Name: "compacted", Root: in.root, Good: len(values), Notes: notes, Compaction: c}}
}

// runCompactor runs `compactor run` once on the table and returns its
// summary line; any exit status but 0 fails the test.
func runCompactor(ctx context.Context, t *testing.T, dir, root string) string {
	t.Helper()
	logPath := filepath.Join(dir, "compactor.log")
	args := append([]string{"run", "--table", "file://" + root, "--temp-dir", t.TempDir()}, compactorArgs...)
	cmd := exec.CommandContext(ctx, compactorBin, args...)
	var stdout strings.Builder
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = &stdout, log
	start := time.Now()
	err = cmd.Run()
	if err != nil {
		data, _ := os.ReadFile(logPath)
		var ee *exec.ExitError
		code := -1
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		t.Fatalf("compactor %s: exit status %d (%v), want 0; stdout %q; log %s:\n%s", strings.Join(args, " "), code, err, stdout.String(), logPath, data)
	}
	t.Logf("compactor ran in %.1fs: %s", time.Since(start).Seconds(), strings.TrimSpace(stdout.String()))
	return strings.TrimSpace(stdout.String())
}

// readCompaction reads what the compactor did from the timeline: each
// completed replacecommit, its clustering plan (the requested file) and
// partitionToReplaceFileIds, which must name the same file groups.
func readCompaction(ctx context.Context, t *testing.T, root string) *compaction {
	t.Helper()
	tab, done := openTable(ctx, t, root)
	defer done()
	tl, err := tab.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := tl.Pending(); len(p) > 0 {
		t.Fatalf("compacted: pending instants left: %v", p)
	}
	c := &compaction{}
	var before []string // completed commits before the first replacecommit
	for _, e := range tl.Completed() {
		switch {
		case e.Action == hudi.ActionCommit && len(c.Instants) == 0:
			before = append(before, e.Time)
		case e.Action == hudi.ActionReplaceCommit:
			c.Instants = append(c.Instants, e.Time)
			plan, err := tab.ReadClusteringPlan(ctx, e.Time)
			if err != nil {
				t.Fatal(err)
			}
			if plan == nil {
				t.Fatalf("compacted: replacecommit %s has no clustering plan in its requested file", e.Time)
			}
			m, err := tab.ReadCommitMetadata(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if m.OperationType != hudi.OperationCluster {
				t.Errorf("compacted: replacecommit %s: operationType %q, want %q", e.Time, m.OperationType, hudi.OperationCluster)
			}
			planned := map[string][]string{}
			var parts []string
			for _, g := range plan.Groups {
				for _, s := range g.Slices {
					planned[s.PartitionPath] = append(planned[s.PartitionPath], s.FileID)
					parts = append(parts, s.PartitionPath)
					_, _, ts, ok := hudi.ParseBaseFileName(path.Base(s.DataFilePath))
					if !ok {
						t.Fatalf("compacted: replacecommit %s plans %s, not a base file name", e.Time, s.DataFilePath)
					}
					c.Replaced = append(c.Replaced, hudi.BaseFile{Path: s.DataFilePath, FileID: s.FileID, Partition: s.PartitionPath, Instant: ts})
				}
			}
			if fmt.Sprint(sortedLists(planned)) != fmt.Sprint(sortedLists(m.PartitionToReplaceFileIDs)) {
				t.Fatalf("compacted: replacecommit %s: the plan's file groups %v, partitionToReplaceFileIds %v", e.Time, planned, m.PartitionToReplaceFileIDs)
			}
			for _, stats := range m.PartitionToWriteStats {
				for _, s := range stats {
					c.Outputs = append(c.Outputs, *s.Path)
				}
			}
			c.Clusterings = append(c.Clusterings, clusteringInfo{Instant: e.Time, Groups: len(plan.Groups), State: "COMPLETED",
				Partitions: strings.Join(parts, ",")})
		}
	}
	if len(c.Instants) == 0 {
		t.Fatal("compacted: the compactor committed no replacecommit")
	}
	if len(before) < 2 {
		t.Fatalf("compacted: %d commits before the compaction, want at least 2: %v", len(before), before)
	}
	if last := tl.Completed()[len(tl.Completed())-1]; last.Action != hudi.ActionCommit {
		t.Fatalf("compacted: the newest instant %s is a %s, want the commit of the last wave", last.Time, last.Action)
	}
	c.Before = before[len(before)-1]
	c.AsOf = before[(len(before)-1)/2]
	// The replaced files are still there: a reader that listed files
	// instead of applying the replacecommits would read them.
	for _, f := range c.Replaced {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(f.Path))); err != nil {
			t.Fatalf("compacted: replaced file %s is gone (retention 24h): %v", f.Path, err)
		}
	}
	// The partition filter's partition: compacted, and written again.
	snap, err := tab.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	later := map[string]int{} // files written after the compaction, by partition
	for _, f := range snap.Files {
		if f.Instant > c.Instants[len(c.Instants)-1] {
			later[f.Partition]++
		}
	}
	var compacted []string
	for _, f := range c.Replaced {
		if !slices.Contains(compacted, f.Partition) {
			compacted = append(compacted, f.Partition)
		}
	}
	sort.Strings(compacted)
	for _, p := range compacted {
		if later[p] > 0 {
			c.Partition = p
			break
		}
	}
	if c.Partition == "" {
		t.Fatalf("compacted: no compacted partition received a file after the compaction: %v", later)
	}
	return c
}

// checkCompactedRows checks with DuckDB that the files each
// replacecommit wrote hold exactly the rows of the files it retired, every
// column equal but _hoodie_file_name (which names the new file), and that
// a reader reading every Parquet file of the table, replaced ones
// included, would return rows twice: the Hudi readers' row counts then
// say they applied the replacecommits.
func checkCompactedRows(ctx context.Context, t *testing.T, root string, c *compaction) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var replaced, outputs []string
	for _, f := range c.Replaced {
		replaced = append(replaced, root+"/"+f.Path)
	}
	for _, f := range c.Outputs {
		outputs = append(outputs, root+"/"+f)
	}
	src := func(files []string) string {
		return fmt.Sprintf("(SELECT * EXCLUDE (_hoodie_file_name) FROM read_parquet(%s, hive_partitioning = false))", sqlList(files))
	}
	var missing, extra int64
	q := fmt.Sprintf("SELECT (SELECT count(*) FROM (%s EXCEPT ALL %s)), (SELECT count(*) FROM (%s EXCEPT ALL %s))",
		src(replaced), src(outputs), src(outputs), src(replaced))
	if err := db.QueryRowContext(ctx, q).Scan(&missing, &extra); err != nil {
		t.Fatal(err)
	}
	if missing != 0 || extra != 0 {
		t.Fatalf("compacted: the compactor's outputs %v lack %d rows of the files they replaced and have %d rows those had not", c.Outputs, missing, extra)
	}
}

// sortedLists is m with each list sorted.
func sortedLists(m map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range m {
		out[k] = slices.Sorted(slices.Values(v))
	}
	return out
}
