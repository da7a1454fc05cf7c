//go:build compat

package compat

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// icebergEngineTable is what an Iceberg checker answers about one table.
type icebergEngineTable struct {
	Error            string             `json:"error"`
	Columns          [][2]string        `json:"columns"`
	Snapshot         *result            `json:"snapshot"`
	Partition        *result            `json:"partition"`
	PartitionFiles   *int               `json:"partition_files"` // data files the scan read or planned
	PartitionPlan    string             `json:"partition_plan"`
	AsOf             *result            `json:"as_of"`
	Partitions       json.RawMessage    `json:"partitions"` // map[string]partitionStats, or {"error": ...}
	Snapshots        json.RawMessage    `json:"snapshots"`  // []icebergSnapshot, or {"error": ...}
	Current          *int64             `json:"current"`
	MetadataLocation string             `json:"metadata_location"`
	Seconds          map[string]float64 `json:"seconds"`
	errors           map[string]string  // check -> error
}

type icebergEngineResult struct {
	Engine       string                         `json:"engine"`
	TotalSeconds float64                        `json:"total_seconds"`
	Tables       map[string]*icebergEngineTable `json:"tables"`
	raw          map[string]json.RawMessage
}

// prepareIceberg publishes what nobody published of each table as
// Iceberg (the publisher's catch-up, as at an ingestd start): ingestd and
// the compactor publish their own instants, so only the torture_pending
// copy (made without its metadata/) has anything to publish. On the
// compacted table a catch-up that publishes something means the compactor
// or ingestd did not publish an instant: an error.
func prepareIceberg(ctx context.Context, t *testing.T, tables []table) {
	t.Helper()
	for _, tb := range tables {
		start := time.Now()
		published := publishIceberg(ctx, t, tb.Root)
		t.Logf("table %s: the Iceberg catch-up published %d instants in %.1fs %v", tb.Name, len(published), time.Since(start).Seconds(), published)
		if tb.Compaction != nil && len(published) > 0 {
			t.Errorf("%s: instants %v were not published as Iceberg by ingestd or the compactor (the catch-up had to)", tb.Name, published)
		}
	}
}

// checkIceberg computes the Iceberg references and runs each Iceberg
// reader on the tables, one after the other.
func checkIceberg(ctx context.Context, t *testing.T, dir, python, scripts string, tables []table) []summaryRow {
	t.Helper()
	start := time.Now()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	var refs []icebergRef
	var specs []icebergSpec
	for _, tb := range tables {
		r := makeIcebergReference(ctx, t, db, tb, tb.Compaction)
		refs = append(refs, r)
		specs = append(specs, r.Spec)
		t.Logf("iceberg reference %s: %d rows in %d files, %d snapshots (metadata %s); time travel to %s (snapshot %d): %d rows; partition %v: %d rows in %d files",
			tb.Name, r.Snapshot.Count, r.Spec.Files, len(r.Spec.Snapshots), filepath.Base(r.Spec.Metadata), r.Spec.AsOf, r.Spec.AsOfSnapshot,
			r.AsOf.Count, r.Spec.Partition, r.Partition.Count, r.Spec.PartitionFiles)
	}
	db.Close()
	t.Logf("Iceberg references in %.1fs", time.Since(start).Seconds())
	specsPath := filepath.Join(dir, "iceberg-specs.json")
	writeJSON(t, specsPath, specs)
	writeJSON(t, filepath.Join(dir, "iceberg-reference.json"), refs)

	// What lakestream published, before any reader: one snapshot per
	// completed instant of the active timeline, in order, each naming its
	// instant, the current one the newest.
	summary := checkPublished(t, refs)

	for _, engine := range []string{"duckdb", "pyiceberg"} {
		name := map[string]string{"duckdb": "duckdb-iceberg", "pyiceberg": "pyiceberg"}[engine]
		if !engineWanted(name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			before := manifests(t, tables)
			out := filepath.Join(dir, name+".json")
			runChecker(ctx, t, dir, name, python, filepath.Join(scripts, "iceberg_check.py"),
				"--engine", engine, "--specs", specsPath, "--out", out)
			res := readIcebergResult(t, out)
			t.Logf("%s: %s; all checks in %.1fs", name, versionText(res.raw), res.TotalSeconds)
			summary = append(summary, compareIceberg(t, name, refs, res)...)
			checkUnchanged(t, name, tables, before)
		})
	}
	if jar := os.Getenv("LAKESTREAM_COMPAT_ICEBERG_SPARK_JAR"); engineWanted("spark+iceberg") {
		t.Run("spark+iceberg", func(t *testing.T) {
			if _, err := os.Stat(jar); err != nil {
				t.Fatalf("Iceberg Spark runtime (LAKESTREAM_COMPAT_ICEBERG_SPARK_JAR): %v", err)
			}
			before := manifests(t, tables)
			out := filepath.Join(dir, "spark+iceberg.json")
			runChecker(ctx, t, dir, "spark+iceberg", python, filepath.Join(scripts, "spark_iceberg_check.py"),
				"--jar", jar, "--specs", specsPath, "--out", out)
			res := readIcebergResult(t, out)
			t.Logf("spark+iceberg: %s; all checks in %.1fs", versionText(res.raw), res.TotalSeconds)
			summary = append(summary, compareIceberg(t, "spark+iceberg", refs, res)...)
			checkUnchanged(t, "spark+iceberg", tables, before)
		})
	}
	if engineWanted("trino") {
		t.Run("trino", func(t *testing.T) {
			before := manifests(t, tables)
			answer := runTrino(ctx, t, dir, specs)
			writeJSON(t, filepath.Join(dir, "trino.json"), answer)
			res := readIcebergResult(t, filepath.Join(dir, "trino.json"))
			t.Logf("trino: %s; all checks in %.1fs", versionText(res.raw), res.TotalSeconds)
			summary = append(summary, compareIceberg(t, "trino", refs, res)...)
			checkUnchanged(t, "trino", tables, before)
		})
	}
	return summary
}

// engineWanted says whether LAKESTREAM_COMPAT_ENGINES (a comma-separated
// list of engine names; unset: all) includes the engine.
func engineWanted(name string) bool {
	list := os.Getenv("LAKESTREAM_COMPAT_ENGINES")
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

// versionText is the version fields of a checker's answer.
func versionText(raw map[string]json.RawMessage) string {
	var parts []string
	for _, k := range sortedKeys(raw) {
		if k == "tables" || k == "total_seconds" {
			continue
		}
		parts = append(parts, k+" "+string(raw[k]))
	}
	return strings.Join(parts, ", ")
}

func readIcebergResult(t *testing.T, path string) *icebergEngineResult {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseIcebergResult(t, data)
}

func parseIcebergResult(t *testing.T, data []byte) *icebergEngineResult {
	t.Helper()
	var res icebergEngineResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Tables map[string]map[string]json.RawMessage `json:"tables"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &res.raw); err != nil {
		t.Fatal(err)
	}
	for name, et := range res.Tables {
		et.errors = map[string]string{}
		for check, msg := range raw.Tables[name] {
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

// checkPublished checks the publisher's metadata against the timeline.
func checkPublished(t *testing.T, refs []icebergRef) []summaryRow {
	t.Helper()
	var rows []summaryRow
	for _, ref := range refs {
		var p []string
		var instants []string
		for _, s := range ref.Spec.Snapshots {
			instants = append(instants, s.Instant)
		}
		if !slices.Equal(instants, ref.Instants) {
			p = append(p, fmt.Sprintf("snapshots name instants %v, the active timeline completed %v", instants, ref.Instants))
		}
		if n := len(ref.Spec.Snapshots); n == 0 || ref.Spec.Current != ref.Spec.Snapshots[n-1].ID {
			p = append(p, fmt.Sprintf("current snapshot %d is not the newest", ref.Spec.Current))
		}
		if ref.Spec.AsOfSnapshot == 0 {
			p = append(p, "no snapshot names instant "+ref.Spec.AsOf)
		}
		o := "ok"
		if len(p) > 0 {
			o = "FAIL: " + strings.Join(p, "; ")
			t.Errorf("lakestream's Iceberg metadata of %s (%s): %s", ref.Spec.Name, ref.Spec.Metadata, strings.Join(p, "; "))
		}
		rows = append(rows, summaryRow{"iceberg publisher", ref.Spec.Name,
			fmt.Sprintf("one snapshot per completed instant (%d), summary names it", len(ref.Instants)), o})
	}
	return rows
}

// compareIceberg compares an Iceberg reader's answers with the references.
func compareIceberg(t *testing.T, engine string, refs []icebergRef, res *icebergEngineResult) []summaryRow {
	t.Helper()
	var rows []summaryRow
	for _, ref := range refs {
		name := ref.Spec.Name
		got := res.Tables[name]
		outcome := func(check string, problems []string) {
			o := "ok"
			if len(problems) > 0 {
				o = "FAIL: " + strings.Join(problems, "; ")
				t.Errorf("%s, Iceberg table %s (%s, metadata %s), %s:\n  %s", engine, name, ref.Spec.Location, ref.Spec.Metadata, check, strings.Join(problems, "\n  "))
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
		if p := failed("snapshot"); p != nil {
			outcome("snapshot", p)
		} else {
			var p []string
			var want [][2]string
			for _, c := range ref.Spec.Columns {
				want = append(want, [2]string{c.Name, c.Kind})
			}
			gotCols := fmt.Sprint(got.Columns)
			if engine == "trino" {
				// Trino's identifiers are case-insensitive: it lists
				// userId as userid.
				gotCols, want = strings.ToLower(gotCols), lowerNames(want)
			}
			if gotCols != fmt.Sprint(want) {
				p = append(p, fmt.Sprintf("columns %v, want %v", got.Columns, want))
			}
			p = append(p, diffResult(got.Snapshot, ref.Snapshot)...)
			outcome(fmt.Sprintf("snapshot (%d rows)", ref.Snapshot.Count), p)
		}
		check := fmt.Sprintf("partition filter %s (%d of %d files)", partitionText(spec{PartitionFields: ref.Spec.PartitionFields, Partition: ref.Spec.Partition}),
			ref.Spec.PartitionFiles, ref.Spec.Files)
		if p := failed("partition"); p != nil {
			outcome(check, p)
		} else {
			p := diffResult(got.Partition, ref.Partition)
			switch {
			case got.PartitionFiles == nil:
				p = append(p, "the engine did not say how many data files it read (plan: "+got.PartitionPlan+")")
			case *got.PartitionFiles != ref.Spec.PartitionFiles:
				p = append(p, fmt.Sprintf("read %d data files, want %d (the partition's): not pruned", *got.PartitionFiles, ref.Spec.PartitionFiles))
			}
			outcome(check, p)
		}
		// The identity partitioning as the engine's partitions metadata
		// table shows it (DuckDB's iceberg extension has none).
		if engine != "duckdb-iceberg" {
			label := fmt.Sprintf("partitions metadata table (%d partitions)", len(ref.Partitions))
			if p := failed("partitions"); p != nil {
				outcome(label, p)
			} else {
				var p []string
				var parts map[string]partitionStats
				if err := json.Unmarshal(got.Partitions, &parts); err != nil {
					p = append(p, fmt.Sprintf("answer %s: %v", got.Partitions, err))
				}
				for _, k := range sortedKeys(ref.Partitions) {
					if g, ok := parts[k]; !ok || g != ref.Partitions[k] {
						p = append(p, fmt.Sprintf("%s: %+v, want %+v", k, g, ref.Partitions[k]))
					}
				}
				for _, k := range sortedKeys(parts) {
					if _, ok := ref.Partitions[k]; !ok {
						p = append(p, fmt.Sprintf("%s: %+v, not a partition of the snapshot", k, parts[k]))
					}
				}
				outcome(label, p)
			}
		}
		if p := failed("as_of"); p != nil {
			outcome("time travel to "+ref.Spec.AsOf, p)
		} else {
			outcome(fmt.Sprintf("time travel to snapshot %d (instant %s, %d rows)", ref.Spec.AsOfSnapshot, ref.Spec.AsOf, ref.AsOf.Count), diffResult(got.AsOf, ref.AsOf))
		}
		label := fmt.Sprintf("snapshots (%d)", len(ref.Spec.Snapshots))
		var snaps []icebergSnapshot
		snapsErr := json.Unmarshal(got.Snapshots, &snaps)
		summaries := engine != "duckdb-iceberg" // DuckDB lists no summaries
		if summaries {
			label = fmt.Sprintf("snapshots (%d) and their summaries' Hudi instants", len(ref.Spec.Snapshots))
		}
		if p := failed("snapshots"); p != nil {
			outcome(label, p)
		} else {
			var p []string
			want := ref.Spec.Snapshots
			if !summaries {
				// The engine lists IDs only.
				want = nil
				for _, s := range ref.Spec.Snapshots {
					want = append(want, icebergSnapshot{ID: s.ID})
				}
			}
			// Engines list them by commit time (milliseconds: ties when
			// one catch-up publishes several); checkPublished checks the
			// order of the metadata.
			if snapsErr != nil {
				p = append(p, fmt.Sprintf("answer %s: %v", got.Snapshots, snapsErr))
			}
			gotSnaps := slices.Clone(snaps)
			if summaries {
				want = slices.Clone(want)
				for _, l := range [][]icebergSnapshot{gotSnaps, want} {
					slices.SortStableFunc(l, func(a, b icebergSnapshot) int { return strings.Compare(a.Instant, b.Instant) })
				}
			}
			if fmt.Sprint(gotSnaps) != fmt.Sprint(want) {
				p = append(p, fmt.Sprintf("snapshots\n    %v\n  want\n    %v", got.Snapshots, want))
			}
			if got.Current != nil && *got.Current != ref.Spec.Current {
				p = append(p, fmt.Sprintf("current snapshot %d, want %d", *got.Current, ref.Spec.Current))
			}
			if got.MetadataLocation != "" && strings.TrimPrefix(got.MetadataLocation, "file://") != ref.Spec.Metadata {
				p = append(p, fmt.Sprintf("read metadata %s, want %s", got.MetadataLocation, ref.Spec.Metadata))
			}
			outcome(label, p)
		}
	}
	return rows
}

func lowerNames(cols [][2]string) [][2]string {
	out := make([][2]string, len(cols))
	for i, c := range cols {
		out[i] = [2]string{strings.ToLower(c[0]), c[1]}
	}
	return out
}
