//go:build compat

package compat

// Trino reads the Iceberg tables: a single-node Trino (the lib/ of
// trino-server-core and the Iceberg plugin, unpacked by make compat-trino)
// with an Iceberg catalog on Trino's file metastore, each table registered
// with CALL iceberg.system.register_table, queried over Trino's HTTP API
// (POST /v1/statement, then nextUri until the end).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// trino is a running Trino server.
type trino struct {
	url    string
	cmd    *exec.Cmd
	done   chan struct{}
	log    string
	client *http.Client
}

// startTrino starts Trino on a free port of 127.0.0.1, its files under
// dir, and waits until it serves queries. It is stopped at the end of the
// test.
func startTrino(ctx context.Context, t *testing.T, dir string) *trino {
	t.Helper()
	home := os.Getenv("LAKESTREAM_COMPAT_TRINO_HOME")
	java := os.Getenv("LAKESTREAM_COMPAT_TRINO_JAVA")
	if home == "" || java == "" {
		t.Fatal("LAKESTREAM_COMPAT_TRINO_HOME and LAKESTREAM_COMPAT_TRINO_JAVA are not set: run make compat")
	}
	for _, p := range []string{filepath.Join(home, "lib"), filepath.Join(home, "plugin", "iceberg"), java} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("Trino: %v", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, d := range []string{"etc/catalog", "metastore"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// One node, coordinator and worker, bound to 127.0.0.1; the Iceberg
	// catalog on Trino's file metastore (TESTING_FILE_METASTORE: the
	// metastore entries are files under metastore/), the data read through
	// Trino's native local file system (file:// locations; the Hadoop one
	// needs plugin/iceberg/hdfs, which the plugin zip does not ship).
	writeFile(t, filepath.Join(dir, "etc", "config.properties"), fmt.Sprintf(`coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=%d
discovery.uri=http://127.0.0.1:%d
node.environment=compat
node.id=compat-1
node.bind-ip=127.0.0.1
node.internal-address=127.0.0.1
plugin.dir=%s
catalog.config-dir=%s
query.max-memory=512MB
query.max-memory-per-node=256MB
`, port, port, filepath.Join(home, "plugin"), filepath.Join(dir, "etc", "catalog")))
	writeFile(t, filepath.Join(dir, "etc", "catalog", "iceberg.properties"), fmt.Sprintf(`connector.name=iceberg
iceberg.catalog.type=TESTING_FILE_METASTORE
hive.metastore.catalog.dir=file://%s
fs.native-local.enabled=true
local.location=/
iceberg.register-table-procedure.enabled=true
`, filepath.Join(dir, "metastore")))

	tr := &trino{url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{}),
		log: filepath.Join(dir, "server.log"), client: &http.Client{Timeout: 2 * time.Minute}}
	logf, err := os.Create(tr.log)
	if err != nil {
		t.Fatal(err)
	}
	tr.cmd = exec.Command(java, "-Xmx1G", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
		"-Djdk.attach.allowAttachSelf=true", "-Dfile.encoding=UTF-8", "--enable-native-access=ALL-UNNAMED",
		"-Dconfig="+filepath.Join(dir, "etc", "config.properties"),
		"-cp", filepath.Join(home, "lib")+"/*", "io.trino.server.TrinoServer")
	tr.cmd.Dir = dir
	tr.cmd.Stdout, tr.cmd.Stderr = logf, logf
	tr.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := tr.cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	go func() {
		tr.cmd.Wait()
		logf.Close()
		close(tr.done)
	}()
	t.Cleanup(func() { tr.stop(t) })

	start := time.Now()
	for {
		var info struct {
			Starting bool `json:"starting"`
		}
		if err := tr.get(ctx, "/v1/info", &info); err == nil && !info.Starting {
			break
		}
		select {
		case <-tr.done:
			t.Fatalf("Trino exited while starting: %s\n%s", tr.cmd.ProcessState, tail(tr.log, 4000))
		case <-ctx.Done():
			t.Fatalf("Trino did not start: %v\n%s", ctx.Err(), tail(tr.log, 4000))
		case <-time.After(500 * time.Millisecond):
		}
		if time.Since(start) > 3*time.Minute {
			t.Fatalf("Trino did not start in 3 minutes\n%s", tail(tr.log, 4000))
		}
	}
	return tr
}

// stop sends SIGTERM to Trino's process group and waits; after 30 s,
// SIGKILL.
func (tr *trino) stop(t *testing.T) {
	select {
	case <-tr.done:
		return
	default:
	}
	pid := tr.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-tr.done:
	case <-time.After(30 * time.Second):
		t.Logf("Trino did not stop in 30s after SIGTERM: SIGKILL")
		syscall.Kill(-pid, syscall.SIGKILL)
		<-tr.done
	}
}

func (tr *trino) get(ctx context.Context, p string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tr.url+p, nil)
	if err != nil {
		return err
	}
	resp, err := tr.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", p, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// trinoResult is a query's rows and the statistics of its stages.
type trinoResult struct {
	rows  [][]any
	stats json.RawMessage
}

// query runs one statement through the client protocol. Trino answers
// NO_NODES_AVAILABLE for a while after /v1/info stops saying "starting"
// (its node manager has not seen its own announcement yet: once in a
// make compat run, under load); the statement is sent again then, for up
// to a minute.
func (tr *trino) query(ctx context.Context, sql string) (*trinoResult, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := tr.queryOnce(ctx, sql)
		if err == nil || !strings.HasPrefix(err.Error(), "NO_NODES_AVAILABLE:") || time.Now().After(deadline) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (tr *trino) queryOnce(ctx context.Context, sql string) (*trinoResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tr.url+"/v1/statement", strings.NewReader(sql))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Trino-User", "compat")
	req.Header.Set("X-Trino-Catalog", "iceberg")
	req.Header.Set("X-Trino-Schema", "compat")
	req.Header.Set("X-Trino-Time-Zone", "UTC")
	res := &trinoResult{}
	for {
		resp, err := tr.client.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
		}
		var page struct {
			NextURI string          `json:"nextUri"`
			Data    [][]any         `json:"data"`
			Stats   json.RawMessage `json:"stats"`
			Error   *struct {
				Message   string `json:"message"`
				ErrorName string `json:"errorName"`
			} `json:"error"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&page); err != nil {
			return nil, err
		}
		if page.Error != nil {
			return nil, fmt.Errorf("%s: %s", page.Error.ErrorName, page.Error.Message)
		}
		res.rows = append(res.rows, page.Data...)
		res.stats = page.Stats
		if page.NextURI == "" {
			return res, nil
		}
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, page.NextURI, nil); err != nil {
			return nil, err
		}
		req.Header.Set("X-Trino-User", "compat")
	}
}

// runTrino starts Trino, registers every table and answers the checks
// (iceberg_check.py's, in the same JSON shape).
func runTrino(ctx context.Context, t *testing.T, dir string, specs []icebergSpec) map[string]any {
	t.Helper()
	started := time.Now()
	tr := startTrino(ctx, t, filepath.Join(dir, "trino"))
	startSeconds := time.Since(started).Seconds()
	t.Logf("Trino started in %.1fs (log %s)", startSeconds, tr.log)
	out := map[string]any{"engine": "trino", "start_seconds": round2(startSeconds)}
	if r, err := tr.query(ctx, "SELECT version()"); err != nil {
		t.Fatalf("Trino: %v", err)
	} else {
		out["trino_version"] = r.rows[0][0]
	}
	if _, err := tr.query(ctx, "CREATE SCHEMA iceberg.compat"); err != nil {
		t.Fatalf("Trino: %v", err)
	}
	tables := map[string]any{}
	for _, s := range specs {
		tables[s.Name] = trinoTable(ctx, t, tr, s)
	}
	out["tables"] = tables
	tr.stop(t)
	out["total_seconds"] = round2(time.Since(started).Seconds())
	return out
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// trinoTable registers one table and runs the checks on it.
func trinoTable(ctx context.Context, t *testing.T, tr *trino, s icebergSpec) map[string]any {
	out := map[string]any{}
	seconds := map[string]float64{}
	out["seconds"] = seconds
	name := `"` + s.Name + `"`
	// Trino finds the newest v<N>.metadata.json itself and keeps that
	// pointer (a registration freezes it).
	if _, err := tr.query(ctx, fmt.Sprintf("CALL iceberg.system.register_table(schema_name => 'compat', table_name => '%s', table_location => '%s')",
		s.Name, strings.ReplaceAll(s.Location, "'", "''"))); err != nil {
		out["error"] = "register_table: " + err.Error()
		return out
	}
	run := func(check string, fn func() error) {
		start := time.Now()
		if err := fn(); err != nil {
			out[check] = map[string]string{"error": err.Error()}
			t.Logf("trino, table %s, %s: %v", s.Name, check, err)
		}
		seconds[check] = round2(time.Since(start).Seconds())
	}
	run("snapshot", func() error {
		r, err := tr.query(ctx, fmt.Sprintf(`SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = 'compat' AND table_name = '%s' ORDER BY ordinal_position`, s.Name))
		if err != nil {
			return err
		}
		var cols [][2]string
		for _, row := range r.rows {
			typ := fmt.Sprint(row[1])
			kind, ok := map[string]string{"varchar": "string", "integer": "int", "bigint": "long",
				"timestamp(6) with time zone": "timestamp", "varbinary": "binary", "boolean": "boolean", "date": "date"}[typ]
			if !ok {
				kind = typ
			}
			cols = append(cols, [2]string{fmt.Sprint(row[0]), kind})
		}
		out["columns"] = cols
		res, err := trinoAnswer(ctx, tr, s, name, "", false)
		out["snapshot"] = res
		return err
	})
	cond := trinoPartitionFilter(s)
	run("partition", func() error {
		res, err := trinoAnswer(ctx, tr, s, name, "WHERE "+cond, true)
		if err != nil {
			return err
		}
		out["partition"] = res
		// EXPLAIN ANALYZE's table scan says how many splits it read: one
		// per data file (the files are far below the split size).
		r, err := tr.query(ctx, fmt.Sprintf("EXPLAIN ANALYZE SELECT count(*) FROM %s WHERE %s", name, cond))
		if err != nil {
			return err
		}
		plan := fmt.Sprint(r.rows[0][0])
		out["partition_plan"] = plan
		if m := trinoScanSplits.FindStringSubmatch(plan); m != nil {
			n, _ := strconv.Atoi(m[1])
			out["partition_files"] = n
		}
		return nil
	})
	run("partitions", func() error {
		var key []string
		for _, f := range s.PartitionFields {
			key = append(key, fmt.Sprintf("'%s=' || CAST(partition.%s AS varchar)", f, trinoQuote(f)))
		}
		r, err := tr.query(ctx, fmt.Sprintf(`SELECT %s, record_count, file_count FROM "%s$partitions"`, strings.Join(key, " || '/' || "), s.Name))
		if err != nil {
			return err
		}
		parts := map[string]partitionStats{}
		for _, row := range r.rows {
			rc, err1 := row[1].(json.Number).Int64()
			fc, err2 := row[2].(json.Number).Int64()
			if err1 != nil || err2 != nil {
				return fmt.Errorf("partitions row %v", row)
			}
			parts[fmt.Sprint(row[0])] = partitionStats{Records: rc, Files: fc}
		}
		out["partitions"] = parts
		return nil
	})
	run("as_of", func() error {
		res, err := trinoAnswer(ctx, tr, s, fmt.Sprintf("%s FOR VERSION AS OF %d", name, s.AsOfSnapshot), "", false)
		out["as_of"] = res
		return err
	})
	run("snapshots", func() error {
		r, err := tr.query(ctx, fmt.Sprintf(`SELECT snapshot_id, summary['lakestream.hudi.instant'], summary['lakestream.hudi.action'], operation
			FROM "%s$snapshots" ORDER BY committed_at`, s.Name))
		if err != nil {
			return err
		}
		var snaps []map[string]any
		for _, row := range r.rows {
			snaps = append(snaps, map[string]any{"snapshot_id": row[0], "instant": row[1], "action": row[2], "operation": row[3]})
		}
		out["snapshots"] = snaps
		r, err = tr.query(ctx, fmt.Sprintf(`SELECT snapshot_id FROM "%s$history" WHERE is_current_ancestor ORDER BY made_current_at DESC LIMIT 1`, s.Name))
		if err != nil {
			return err
		}
		if len(r.rows) == 1 {
			out["current"] = r.rows[0][0]
		}
		return nil
	})
	return out
}

// trinoScanSplits finds the splits of the table scan in EXPLAIN ANALYZE's
// text: TableScan, or ScanFilter[Project] when a filter stays above it.
var trinoScanSplits = regexp.MustCompile(`(?m)(?:TableScan|ScanFilter|ScanProject|ScanFilterProject)\[[^\n]*\n(?:[^\n]*\n)*?\s*Input: [^\n]*Splits: (\d+)`)

func trinoQuote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func trinoLiteral(s icebergSpec, field, value string) string {
	for _, c := range s.Columns {
		if c.Name == field && (c.Kind == "int" || c.Kind == "long") {
			return value
		}
	}
	return "'" + strings.ReplaceAll(value, "'", "''") + "'"
}

func trinoPartitionFilter(s icebergSpec) string {
	var conds []string
	for _, k := range sortedKeys(s.Partition) {
		conds = append(conds, trinoQuote(k)+" = "+trinoLiteral(s, k, s.Partition[k]))
	}
	return strings.Join(conds, " AND ")
}

// trinoCanonical is reference_test.go's canonical text in Trino SQL.
func trinoCanonical(c column) string {
	q := trinoQuote(c.Name)
	var v string
	switch c.Kind {
	case "string":
		v = q
	case "int", "long", "boolean", "date":
		v = "CAST(" + q + " AS varchar)"
	case "timestamp":
		// Microseconds since the epoch: whole seconds, then the six digits
		// of the fraction (to_unixtime is a double).
		v = fmt.Sprintf(`CAST(CAST(to_unixtime(date_trunc('second', %s)) AS bigint) * 1000000 + CAST(regexp_extract(to_iso8601(%s), '\.(\d{6})', 1) AS bigint) AS varchar)`, q, q)
	case "binary":
		v = "to_hex(" + q + ")"
	}
	return "CASE WHEN " + q + " IS NULL THEN 'N' ELSE 'V' || " + v + " END"
}

// trinoAnswer is the count, the column checksums, the rows per partition
// and (perFile) the rows per data file of a query.
func trinoAnswer(ctx context.Context, tr *trino, s icebergSpec, from, where string, perFile bool) (*result, error) {
	sel := []string{"count(*)"}
	for _, c := range s.Columns {
		sel = append(sel, fmt.Sprintf(`coalesce(lower(to_hex(md5(to_utf8(array_join(array_sort(array_agg(%s)), chr(10)))))), 'd41d8cd98f00b204e9800998ecf8427e')`, trinoCanonical(c)))
	}
	r, err := tr.query(ctx, fmt.Sprintf("SELECT %s FROM %s %s", strings.Join(sel, ", "), from, where))
	if err != nil {
		return nil, err
	}
	if len(r.rows) != 1 {
		return nil, fmt.Errorf("%d rows of aggregates", len(r.rows))
	}
	res := &result{Checksums: map[string]string{}, Partitions: map[string]int64{}}
	if res.Count, err = r.rows[0][0].(json.Number).Int64(); err != nil {
		return nil, err
	}
	for i, c := range s.Columns {
		res.Checksums[c.Name] = fmt.Sprint(r.rows[0][i+1])
	}
	var key []string
	for _, f := range s.PartitionFields {
		key = append(key, fmt.Sprintf("'%s=' || CAST(%s AS varchar)", f, trinoQuote(f)))
	}
	if r, err = tr.query(ctx, fmt.Sprintf("SELECT %s, count(*) FROM %s %s GROUP BY 1", strings.Join(key, " || '/' || "), from, where)); err != nil {
		return nil, err
	}
	for _, row := range r.rows {
		n, err := row[1].(json.Number).Int64()
		if err != nil {
			return nil, err
		}
		res.Partitions[fmt.Sprint(row[0])] = n
	}
	if perFile {
		res.Files = map[string]int64{}
		if r, err = tr.query(ctx, fmt.Sprintf(`SELECT "$path", count(*) FROM %s %s GROUP BY 1`, from, where)); err != nil {
			return nil, err
		}
		for _, row := range r.rows {
			n, err := row[1].(json.Number).Int64()
			if err != nil {
				return nil, err
			}
			res.Files[path.Base(fmt.Sprint(row[0]))] = n
		}
	}
	return res, nil
}

// tail is the end of a file, for an error message.
func tail(p string, n int) string {
	data, err := os.ReadFile(p)
	if err != nil {
		return err.Error()
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}
