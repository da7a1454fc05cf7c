// Command demo is `make demo`: it starts an in-process Kafka (kfake, three
// brokers on 127.0.0.1), produces sample pageview events spread over several
// hours with a few malformed ones, runs ingestd into a table on the local
// filesystem for a few checkpoints, and queries the result with DuckDB:
// rows per hour, dead-lettered records by reason, and the timeline. It
// ends with the DuckDB iceberg_scan statement of the table's Iceberg view,
// run when the iceberg extension is available offline (the compat venv's
// duckdb-extension-iceberg under .tools/), printed otherwise.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/objstore"
)

func main() {
	warehouse := flag.String("warehouse", "demo-warehouse", "directory of the demo table")
	bin := flag.String("ingestd", "bin/ingestd", "ingestd binary")
	n := flag.Int("records", 60000, "good records to produce")
	flag.Parse()
	if err := demo(*warehouse, *bin, *n); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const (
	topic      = "pageviews"
	partitions = 6
	maxRecord  = 64 << 10
)

func demo(warehouse, bin string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started := time.Now()
	root, err := filepath.Abs(filepath.Join(warehouse, topic))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := os.MkdirAll(warehouse, 0o755); err != nil {
		return err
	}
	step("starting Kafka (kfake, 3 brokers on 127.0.0.1)")
	k, err := harness.StartKafka(3, partitions, topic, topic+".dlq")
	if err != nil {
		return err
	}
	defer k.Close()

	now := time.Now().UTC()
	events := harness.Pageviews(1, n, now, 6*time.Hour)
	values := make([][]byte, 0, n)
	for _, e := range events {
		values = append(values, e.JSON())
	}
	bad, reasons := harness.Malformed(maxRecord, now)
	half := len(values) / 2
	first := append(append([][]byte{}, values[:half]...), bad...)
	step(fmt.Sprintf("producing %d pageviews over the last 6 hours and %d malformed records to %q (%d partitions)", half, len(bad), topic, partitions))
	if err := k.Produce(ctx, harness.Records(topic, partitions, first)); err != nil {
		return err
	}

	config := filepath.Join(warehouse, topic+".yaml")
	logPath := filepath.Join(warehouse, "ingestd.log")
	os.Remove(logPath)
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`kafka:
  brokers: [%q, %q, %q]
  topic: %s
table:
  url: file://%s
format:
  type: json
  max_record_bytes: %d
%scheckpoint:
  interval: 2s
  writer_id: demo-0
admin:
  addr: ""
`, k.Brokers[0], k.Brokers[1], k.Brokers[2], topic, root, maxRecord, harness.PageviewSchemaYAML)), 0o644); err != nil {
		return err
	}
	step(fmt.Sprintf("running %s run --config %s (log: %s)", bin, config, logPath))
	proc, err := harness.StartIngestd(bin, config, logPath)
	if err != nil {
		return err
	}
	defer proc.Kill()
	time.Sleep(3 * time.Second)
	step(fmt.Sprintf("producing %d more pageviews while ingestd runs", len(values)-half))
	if err := k.Produce(ctx, harness.Records(topic, partitions, values[half:])); err != nil {
		return err
	}
	ends, err := k.EndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	table, err := objstore.NewFilesystem(root)
	if err != nil {
		return err
	}
	step("waiting until the table's committed offsets reach the end of every partition")
	err = harness.WaitFor(ctx, 500*time.Millisecond, func() (bool, error) {
		if proc.Exited() {
			return false, fmt.Errorf("ingestd exited early: %v (see %s)", proc.Wait(0), logPath)
		}
		return harness.Committed(ctx, table, topic, ends)
	})
	if err != nil {
		return err
	}
	step("stopping ingestd with SIGTERM (final checkpoint)")
	if err := proc.Stop(time.Minute); err != nil {
		return fmt.Errorf("ingestd: %v (see %s)", err, logPath)
	}

	step("querying the table with DuckDB")
	db, files, err := harness.DuckDB(ctx, table, filepath.Join(warehouse, "tmp"), "pageviews")
	if err != nil {
		return err
	}
	defer db.Close()
	var total, distinct int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM pageviews`).Scan(&total, &distinct); err != nil {
		return err
	}
	fmt.Printf("\n%d rows in %d Parquet files (%d distinct Kafka positions; %d good records produced)\n\n", total, len(files), distinct, len(values))
	rows, err := db.QueryContext(ctx, `SELECT strftime(date_trunc('hour', eventTime), '%Y-%m-%d %H:00') AS hour, count(*) AS views, count(DISTINCT userId) AS users
		FROM pageviews GROUP BY 1 ORDER BY 1`)
	if err != nil {
		return err
	}
	fmt.Printf("%-18s %8s %8s\n", "HOUR (UTC)", "VIEWS", "USERS")
	for rows.Next() {
		var hour string
		var views, users int64
		if err := rows.Scan(&hour, &views, &users); err != nil {
			return err
		}
		fmt.Printf("%-18s %8d %8d\n", hour, views, users)
	}
	if err := rows.Err(); err != nil {
		return err
	}

	dead, err := k.Consume(ctx, topic+".dlq")
	if err != nil {
		return err
	}
	byReason := map[string]int{}
	for _, r := range dead {
		for _, h := range r.Headers {
			if h.Key == "lakestream.reason" {
				byReason[string(h.Value)]++
			}
		}
	}
	fmt.Printf("\n%d records dead-lettered to %s.dlq (%d malformed produced):\n", len(dead), topic, len(reasons))
	keys := make([]string, 0, len(byReason))
	for r := range byReason {
		keys = append(keys, r)
	}
	sort.Strings(keys)
	for _, r := range keys {
		fmt.Printf("  %-16s %d\n", r, byReason[r])
	}

	fmt.Printf("\n$ %s table inspect %s\n", bin, root)
	cmd := exec.CommandContext(ctx, bin, "table", "inspect", root)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	if err := icebergScan(ctx, root, total); err != nil {
		return err
	}
	fmt.Printf("\ndemo done in %.1fs. More readers (Spark, Trino, pyiceberg): docs/querying.md.\n", time.Since(started).Seconds())
	return nil
}

// icebergScan prints the DuckDB statement that reads the table as Iceberg
// and runs it when the iceberg extension (and avro, which it needs) of the
// embedded DuckDB's version is installed under .tools/ (make compat-venv
// installs the PyPI packages duckdb-extension-iceberg and -avro): loaded
// from the files, never downloaded. Its count must be the Hudi snapshot's.
func icebergScan(ctx context.Context, root string, hudiRows int64) error {
	loc, err := iceberg.TableLocation(root)
	if err != nil {
		return err
	}
	query := fmt.Sprintf("SELECT count(*) AS views, count(DISTINCT userId) AS users FROM iceberg_scan('%s')", strings.ReplaceAll(loc, "'", "''"))
	fmt.Printf("\nThe same table as Iceberg (metadata/ beside .hoodie/), in DuckDB:\n  INSTALL iceberg; LOAD iceberg;\n  %s;\n", query)
	db, err := sql.Open("duckdb", "?autoinstall_known_extensions=false&autoload_known_extensions=false")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var version string
	if err := db.QueryRowContext(ctx, "SELECT version()").Scan(&version); err != nil {
		return err
	}
	var files []string
	for _, name := range []string{"avro", "iceberg"} {
		m, _ := filepath.Glob(filepath.Join(".tools", "compat-venv", "lib", "python*", "site-packages", "duckdb_extension_"+name, "extensions", version, name+".duckdb_extension"))
		if len(m) == 0 {
			fmt.Printf("(not run here: no %s extension file for DuckDB %s under .tools/; `make compat-venv` installs it)\n", name, version)
			return nil
		}
		files = append(files, m[0])
	}
	for _, f := range files {
		if _, err := db.ExecContext(ctx, "LOAD '"+strings.ReplaceAll(f, "'", "''")+"'"); err != nil {
			return fmt.Errorf("load %s: %w", f, err)
		}
	}
	var views, users int64
	if err := db.QueryRowContext(ctx, query).Scan(&views, &users); err != nil {
		return fmt.Errorf("iceberg_scan: %w", err)
	}
	fmt.Printf("%d views, %d users (run with the extension files under .tools/)\n", views, users)
	if views != hudiRows {
		return errors.New("the Iceberg view does not hold the Hudi snapshot's rows")
	}
	return nil
}

func step(s string) { fmt.Printf("==> %s\n", s) }
