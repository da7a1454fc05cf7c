//go:build compat

package compat

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// column is a column of the table and the kind its checksum treats it as.
type column struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // string, int, long, timestamp, binary, boolean, date
}

// spec is what the checkers are asked about one table.
type spec struct {
	Name            string            `json:"name"`
	Path            string            `json:"path"`
	Columns         []column          `json:"columns"`
	PartitionFields []string          `json:"partition_fields"`
	Partition       map[string]string `json:"partition"` // partition field -> value, for the pruning query
	AsOf            string            `json:"as_of"`     // instant for time travel
	Begin           string            `json:"begin"`     // incremental query: commits after this instant
}

// result is one query's answer: DuckDB's, or an engine's.
type result struct {
	Count      int64             `json:"count"`
	Checksums  map[string]string `json:"checksums"`       // column -> md5 of its sorted canonical values
	Partitions map[string]int64  `json:"partitions"`      // partition path (dt=.../hr=...) -> rows
	Files      map[string]int64  `json:"files,omitempty"` // base file name -> rows read from it
	Error      string            `json:"error,omitempty"`
}

// commitInfo is one completed instant of the active timeline.
type commitInfo struct {
	Instant string `json:"instant"`
	Action  string `json:"action"`
	Records int64  `json:"records"`
	Files   int64  `json:"files"`
}

// slice is a file slice: the base file of a file group.
type slice struct {
	Partition string `json:"partition"`
	FileID    string `json:"file_id"`
	BaseFile  string `json:"base_file"`
	Instant   string `json:"instant"`
}

// reference is DuckDB's (and table/hudi's) answer for one table.
type reference struct {
	Spec        spec         `json:"spec"`
	Snapshot    result       `json:"snapshot"`
	Partition   result       `json:"partition"`
	AsOf        result       `json:"as_of"`
	Incremental result       `json:"incremental"`
	Commits     []commitInfo `json:"commits"`
	Slices      []slice      `json:"slices"`
	AsOfSlices  []slice      `json:"as_of_slices"`
	// Clusterings are the completed replacecommits' clustering plans.
	Clusterings []clusteringInfo `json:"clusterings"`
}

// makeReference reads the table with table/hudi (timeline, snapshot, commit
// metadata) and DuckDB (the rows of the snapshot's files).
func makeReference(ctx context.Context, t *testing.T, tb table) reference {
	t.Helper()
	b, err := objstore.NewFilesystem(tb.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tab, err := hudi.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := tab.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tab.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := tl.Pending(); len(p) > 0 && tb.Name != "torture_pending" {
		t.Fatalf("%s: pending instants left: %v", tb.Name, p)
	}
	completed := tl.Completed()
	if len(completed) < 3 {
		t.Fatalf("%s: %d completed instants on the active timeline, want at least 3", tb.Name, len(completed))
	}

	// Every file of the snapshot written by an instant of the active
	// timeline (and every file a replacecommit retired) is in that
	// instant's commit metadata, and the other way round; no instant
	// updated a file group, and only the compactor's replacecommits
	// replaced some (so time travel is the files up to an instant, the
	// replaced ones while their replacecommit is later, and an
	// incremental query the rows committed after it).
	c := tb.Compaction
	var replaced []hudi.BaseFile
	if c != nil {
		replaced = c.Replaced
	}
	byInstant := map[string]map[string]bool{}
	for _, f := range append(slices.Clone(snap.Files), replaced...) {
		if byInstant[f.Instant] == nil {
			byInstant[f.Instant] = map[string]bool{}
		}
		byInstant[f.Instant][f.Path] = true
	}
	var commits []commitInfo
	for _, e := range completed {
		if e.Action != hudi.ActionCommit && (e.Action != hudi.ActionReplaceCommit || c == nil || !slices.Contains(c.Instants, e.Time)) {
			t.Fatalf("%s: instant %s is a %s: the references assume commits and the compactor's replacecommits only", tb.Name, e.Time, e.Action)
		}
		m, err := tab.ReadCommitMetadata(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		ci := commitInfo{Instant: e.Time, Action: e.Action}
		inMeta := map[string]bool{}
		for _, stats := range m.PartitionToWriteStats {
			for _, s := range stats {
				ci.Records += s.NumWrites
				ci.Files++
				inMeta[*s.Path] = true
				if s.PrevCommit != hudi.NoPrevCommit {
					t.Fatalf("%s: %s updates file group %s: the references assume inserts only", tb.Name, e.Time, s.FileID)
				}
			}
		}
		if fmt.Sprint(sortedKeys(inMeta)) != fmt.Sprint(sortedKeys(byInstant[e.Time])) {
			t.Fatalf("%s: instant %s: commit metadata lists %v, the snapshot has %v", tb.Name, e.Time, sortedKeys(inMeta), sortedKeys(byInstant[e.Time]))
		}
		commits = append(commits, ci)
	}

	// Time travel to the middle of the active timeline; the incremental
	// query reads the commits after it.
	asOf := completed[len(completed)/2].Time
	if c != nil {
		asOf = c.AsOf
	}
	var latest, asOfSlices []slice
	var all, old []string
	parts := map[string][]string{}
	for _, f := range snap.Files {
		s := slice{Partition: f.Partition, FileID: f.FileID, BaseFile: path.Base(f.Path), Instant: f.Instant}
		local := tb.Root + "/" + f.Path
		latest = append(latest, s)
		all = append(all, local)
		parts[f.Partition] = append(parts[f.Partition], local)
		if f.Instant <= asOf {
			asOfSlices = append(asOfSlices, s)
			old = append(old, local)
		}
	}
	// asOf is before every replacecommit: the files they retired were
	// there then.
	for _, f := range replaced {
		if f.Instant <= asOf {
			asOfSlices = append(asOfSlices, slice{Partition: f.Partition, FileID: f.FileID, BaseFile: path.Base(f.Path), Instant: f.Instant})
			old = append(old, tb.Root+"/"+f.Path)
		}
	}
	// The oldest partition: written by several commits in the e2e and
	// torture tables, by late records only in the late table; in the
	// compacted table a compacted partition written again.
	partPath := sortedKeys(parts)[0]
	if c != nil {
		partPath = c.Partition
	}
	cfg := tab.Config()
	partition := map[string]string{}
	for _, kv := range strings.Split(partPath, "/") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("%s: partition %q is not hive style", tb.Name, partPath)
		}
		partition[k] = v
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	cols := columns(ctx, t, db, all)
	ref := reference{
		Spec: spec{Name: tb.Name, Path: tb.Root, Columns: cols, PartitionFields: cfg.PartitionFields,
			Partition: partition, AsOf: asOf, Begin: asOf},
		Commits: commits, Slices: latest, AsOfSlices: asOfSlices,
	}
	if c != nil {
		ref.Clusterings = c.Clusterings
	}
	ref.Snapshot = duckResult(ctx, t, db, all, cols, cfg.PartitionFields, false)
	ref.Partition = duckResult(ctx, t, db, parts[partPath], cols, cfg.PartitionFields, true)
	ref.AsOf = duckResult(ctx, t, db, old, cols, cfg.PartitionFields, false)
	// The rows committed after asOf, wherever they are now: a merged file
	// holds rows of several commits, each keeping its commit time.
	ref.Incremental = duckResultWhere(ctx, t, db, all, fmt.Sprintf("_hoodie_commit_time > '%s'", asOf), cols, cfg.PartitionFields, false)

	// The reference itself: every good record once, the older snapshot
	// and the later commits adding up, each row's _hoodie_file_name its
	// file's name, and the commit time column saying the same as the
	// files: a commit's file holds rows of that commit, a replacecommit's
	// rows of earlier commits.
	if ref.Snapshot.Count != int64(tb.Good) {
		t.Fatalf("%s: DuckDB reads %d rows from the snapshot, %d good records were produced", tb.Name, ref.Snapshot.Count, tb.Good)
	}
	var replaceInstants []string
	if c != nil {
		replaceInstants = c.Instants
	}
	var distinct, wrongName, wrongTime int64
	q := fmt.Sprintf(`SELECT count(DISTINCT (_kafka_partition, _kafka_offset)),
		count(*) FILTER (WHERE _hoodie_file_name <> parse_filename(filename)),
		count(*) FILTER (WHERE CASE WHEN list_contains(%s::VARCHAR[], file_instant) THEN _hoodie_commit_time >= file_instant
			ELSE _hoodie_commit_time <> file_instant END)
		FROM (SELECT *, regexp_extract(filename, '_([0-9]+)\.parquet$', 1) AS file_instant
			FROM read_parquet(%s, hive_partitioning = false, filename = true))`, sqlList(replaceInstants), sqlList(all))
	if err := db.QueryRowContext(ctx, q).Scan(&distinct, &wrongName, &wrongTime); err != nil {
		t.Fatal(err)
	}
	if distinct != ref.Snapshot.Count || wrongName != 0 || wrongTime != 0 {
		t.Fatalf("%s: %d rows, %d distinct Kafka positions, %d rows whose _hoodie_file_name is not their file's, %d rows whose commit time does not fit their file's instant",
			tb.Name, ref.Snapshot.Count, distinct, wrongName, wrongTime)
	}
	if ref.AsOf.Count+ref.Incremental.Count != ref.Snapshot.Count || ref.AsOf.Count == 0 || ref.Incremental.Count == 0 {
		t.Fatalf("%s: as of %s %d rows, after it %d, snapshot %d", tb.Name, asOf, ref.AsOf.Count, ref.Incremental.Count, ref.Snapshot.Count)
	}
	return ref
}

// columns lists the columns DuckDB reads from the files and their kinds.
func columns(ctx context.Context, t *testing.T, db *sql.DB, files []string) []column {
	t.Helper()
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`DESCRIBE SELECT * FROM read_parquet(%s, hive_partitioning = false)`, sqlList(files)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names, _ := rows.Columns()
	var out []column
	for rows.Next() {
		vals := make([]sql.NullString, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		name, typ := vals[0].String, vals[1].String
		kind, ok := map[string]string{
			"VARCHAR": "string", "INTEGER": "int", "BIGINT": "long", "TIMESTAMP WITH TIME ZONE": "timestamp",
			"BLOB": "binary", "BOOLEAN": "boolean", "DATE": "date",
		}[typ]
		if !ok {
			t.Fatalf("column %s: DuckDB type %s has no canonical form in the checksums", name, typ)
		}
		out = append(out, column{Name: name, Kind: kind})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// canonical is the text of a value every checker renders the same way:
// 'N' for null, else 'V' and the value (integers in decimal, timestamps
// as microseconds since the epoch, bytes as upper-case hex, dates as
// yyyy-mm-dd, booleans as true/false).
func canonical(c column) string {
	q := `"` + strings.ReplaceAll(c.Name, `"`, `""`) + `"`
	var v string
	switch c.Kind {
	case "string":
		v = q
	case "int", "long", "boolean":
		v = "CAST(" + q + " AS VARCHAR)"
	case "timestamp":
		v = "CAST(epoch_us(" + q + ") AS VARCHAR)"
	case "binary":
		v = "hex(" + q + ")"
	case "date":
		v = "strftime(" + q + ", '%Y-%m-%d')"
	}
	return "CASE WHEN " + q + " IS NULL THEN 'N' ELSE 'V' || " + v + " END"
}

// duckResult is the count, the column checksums and the rows per
// partition of the rows of files; with perFile, the rows of each file.
func duckResult(ctx context.Context, t *testing.T, db *sql.DB, files []string, cols []column, partFields []string, perFile bool) result {
	t.Helper()
	return duckResultWhere(ctx, t, db, files, "", cols, partFields, perFile)
}

// duckResultWhere is duckResult of the rows of files that match where
// (an SQL condition; "": every row).
func duckResultWhere(ctx context.Context, t *testing.T, db *sql.DB, files []string, where string, cols []column, partFields []string, perFile bool) result {
	t.Helper()
	res := result{Checksums: map[string]string{}, Partitions: map[string]int64{}}
	if len(files) == 0 {
		t.Fatal("no files")
	}
	from := fmt.Sprintf("read_parquet(%s, hive_partitioning = false)", sqlList(files))
	if where != "" {
		from = fmt.Sprintf("(SELECT * FROM %s WHERE %s)", from, where)
	}
	sel := []string{"count(*)"}
	for _, c := range cols {
		e := canonical(c)
		sel = append(sel, fmt.Sprintf("coalesce(md5(string_agg(%s, chr(10) ORDER BY %s)), md5(''))", e, e))
	}
	dest := []any{&res.Count}
	sums := make([]string, len(cols))
	for i := range sums {
		dest = append(dest, &sums[i])
	}
	if err := db.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+from).Scan(dest...); err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		res.Checksums[c.Name] = sums[i]
	}
	var key []string
	for _, f := range partFields {
		key = append(key, fmt.Sprintf(`'%s=' || "%s"`, f, f))
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT %s, count(*) FROM %s GROUP BY 1", strings.Join(key, " || '/' || "), from))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		var n int64
		if err := rows.Scan(&p, &n); err != nil {
			t.Fatal(err)
		}
		res.Partitions[p] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if perFile {
		res.Files = map[string]int64{}
		if where != "" {
			t.Fatal("duckResultWhere: rows per file of a filtered read")
		}
		rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT filename, count(*) FROM read_parquet(%s, hive_partitioning = false, filename = true) GROUP BY 1", sqlList(files)))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var f string
			var n int64
			if err := rows.Scan(&f, &n); err != nil {
				t.Fatal(err)
			}
			res.Files[path.Base(f)] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

func sqlList(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
