package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
	"github.com/lakestream/lakestream/schemas/registrytest"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	topic      = "pageviews"
	partitions = 4
	maxRecord  = 16 << 10
)

// TestIngestEndToEnd produces records over several hours into Kafka (kfake,
// Apache Kafka or both: LAKESTREAM_KAFKA), runs the ingestd binary into a
// table, stops it and restarts it mid-stream, and checks through DuckDB
// that the snapshot holds every good record exactly once with the values
// produced, and the DLQ every bad one with its reason.
func TestIngestEndToEnd(t *testing.T) {
	for _, kind := range kafkaKinds(t) {
		t.Run(kind, func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				format  string
				storage string
			}{
				{"json-filesystem", "json", "filesystem"},
				{"avro-s3", "avro", "s3"},
			} {
				t.Run(tc.name, func(t *testing.T) { testIngest(t, kind, tc.format, tc.storage) })
			}
		})
	}
}

// kafkaKinds lists the kinds of Kafka to run against (LAKESTREAM_KAFKA).
func kafkaKinds(t *testing.T) []string {
	t.Helper()
	kinds, err := harness.KafkaKinds()
	if err != nil {
		t.Fatal(err)
	}
	return kinds
}

// startKafka starts a cluster of kind for the test, stopped (the JVMs
// killed) when the test and its cleanups end. Apache Kafka runs one broker
// unless asked for more: each is a JVM.
func startKafka(t *testing.T, kind string, o harness.KafkaOptions) *harness.Kafka {
	t.Helper()
	if kind == harness.KindKafka && o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	k, err := harness.NewKafka(kind, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	if k.Apache != nil {
		t.Logf("Apache Kafka: %d broker(s) started in %v (format %v), topics created in %v", len(k.Brokers),
			k.Apache.StartTime.Round(time.Millisecond), k.Apache.FormatTime.Round(time.Millisecond), k.TopicsTime.Round(time.Millisecond))
	}
	return k
}

func testIngest(t *testing.T, kind, format, storage string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	brokers := 3
	if kind == harness.KindKafka {
		brokers = 1
	}
	k := startKafka(t, kind, harness.KafkaOptions{Brokers: brokers, Partitions: partitions, Topics: []string{topic, topic + ".dlq"}})
	defer func() {
		if t.Failed() && k.Apache != nil {
			t.Logf("kafka logs:\n%s", k.Apache.LogTails(4000))
		}
	}()

	var table objstore.Store
	var tableURL string
	var env []string
	switch storage {
	case "filesystem":
		root := filepath.Join(dir, "warehouse", topic)
		fs, err := objstore.NewFilesystem(root)
		if err != nil {
			t.Fatal(err)
		}
		table, tableURL = fs, "file://"+root
	case "s3":
		srv := s3test.Start(t)
		table = srv.NewBucket(t, "warehouse/"+topic)
		tableURL = fmt.Sprintf("s3://%s/warehouse/%s?endpoint=%s&path_style=true", srv.Bucket, topic, srv.Endpoint)
		env = []string{"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey, "AWS_REGION=" + s3test.Region}
	}
	defer table.Close()

	// Good records over 5 hours, in two waves, and the bad ones.
	now := time.Now().UTC()
	const m = 12000
	events := harness.Pageviews(7, m, now, 5*time.Hour)
	encode := func(e harness.Pageview) []byte { return e.JSON() }
	registry := ""
	var avroID uint32
	if format == "avro" {
		reg := registrytest.NewServer(t)
		id := reg.Register(topic+"-value", harness.PageviewAvroSchema)
		avroID = id
		registry = reg.URL
		encode = func(e harness.Pageview) []byte {
			v := map[string]any{"userId": e.UserID, "sessionNumber": e.SessionNumber, "pageNumber": e.PageNumber,
				"url": e.URL, "referrer": nil, "eventTime": e.EventTime.UnixMicro()}
			if e.Referrer != nil {
				v["referrer"] = *e.Referrer
			}
			b, err := registrytest.EncodeConfluent(id, harness.PageviewAvroSchema, v)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	values := make([][]byte, m)
	for i, e := range events {
		values[i] = encode(e)
	}
	bad, reasons := harness.Malformed(maxRecord, now)
	if format == "avro" {
		truncated := []byte{0, byte(avroID >> 24), byte(avroID >> 16), byte(avroID >> 8), byte(avroID), 0xff}
		bad, reasons = [][]byte{[]byte("plain text, no magic byte"), {0, 0, 0, 0x7f, 0x7f, 1}, truncated}, []string{"bad-magic", "unknown-schema-id", "invalid-avro"}
	}
	recs := harness.Records(topic, partitions, append(append([][]byte{}, values...), bad...))
	// Expected: (partition, offset) of every good record, by position.
	type pos struct {
		p int32
		o int64
	}
	wantEvent := map[pos]harness.Pageview{}
	nextOffset := map[int32]int64{}
	wantReason := map[pos]string{}
	for i, r := range recs {
		p := pos{r.Partition, nextOffset[r.Partition]}
		nextOffset[r.Partition]++
		if i < m {
			wantEvent[p] = events[i]
		} else {
			wantReason[p] = reasons[i-m]
		}
	}
	first, second := interleave(recs, m/2)
	if err := k.Produce(ctx, first); err != nil {
		t.Fatal(err)
	}

	adminAddr := freeAddr(t)
	config := filepath.Join(dir, "table.yaml")
	registryLine := ""
	if registry != "" {
		registryLine = "  registry: " + registry + "\n"
	}
	writeFile(t, config, fmt.Sprintf(`kafka:
  brokers: [%s]
  topic: %s
table:
  url: %q
format:
  type: %s
%s  max_record_bytes: %d
%swriter:
  workers: 2
checkpoint:
  interval: 1s
  writer_id: e2e-0
  state_dir: %q
admin:
  addr: %s
`, strings.Join(k.Brokers, ", "), topic, tableURL, format, registryLine, maxRecord, harness.PageviewSchemaYAML, filepath.Join(dir, "state"), adminAddr))
	logPath := filepath.Join(dir, "ingestd.log")
	defer func() {
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("ingestd log:\n%s", tail(string(log), 6000))
		}
	}()

	// Run 1: ingest the first wave, then stop mid-stream with SIGTERM.
	proc, err := harness.StartIngestd(ingestdBin, config, logPath, env...)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Kill()
	waitCommitted(ctx, t, k, table, proc)
	checkAdmin(t, adminAddr)
	if err := k.Produce(ctx, second[:len(second)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := proc.Stop(time.Minute); err != nil {
		t.Fatalf("stop ingestd: %v", err)
	}
	// Run 2: the rest, produced while ingestd is down and while it runs.
	if err := k.Produce(ctx, second[len(second)/2:]); err != nil {
		t.Fatal(err)
	}
	proc, err = harness.StartIngestd(ingestdBin, config, logPath, env...)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Kill()
	waitCommitted(ctx, t, k, table, proc)
	if err := proc.Stop(time.Minute); err != nil {
		t.Fatalf("stop ingestd: %v", err)
	}

	db, files, err := harness.DuckDB(ctx, table, filepath.Join(dir, "download"), "pageviews")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t.Logf("%d files in the snapshot", len(files))
	rows, err := db.QueryContext(ctx, `SELECT _kafka_partition, _kafka_offset, userId, sessionNumber, pageNumber, url, referrer, epoch_us(eventTime),
		_hoodie_record_key, _hoodie_partition_path, _hoodie_file_name, _hoodie_commit_time, dt, hr FROM pageviews`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[pos]bool{}
	for rows.Next() {
		var p pos
		var e harness.Pageview
		var ref sql.NullString
		var micros int64
		var key, partPath, fileName, commitTime, dt, hr string
		if err := rows.Scan(&p.p, &p.o, &e.UserID, &e.SessionNumber, &e.PageNumber, &e.URL, &ref, &micros, &key, &partPath, &fileName, &commitTime, &dt, &hr); err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("record %v appears twice", p)
		}
		seen[p] = true
		want, ok := wantEvent[p]
		if !ok {
			t.Fatalf("row at %v was not produced as a good record", p)
		}
		if ref.Valid {
			e.Referrer = &ref.String
		}
		e.EventTime = time.UnixMicro(micros).UTC()
		if got, wantJSON := string(e.JSON()), string(want.JSON()); got != wantJSON {
			t.Fatalf("row at %v:\n got %s\nwant %s", p, got, wantJSON)
		}
		if wantKey := fmt.Sprintf("%s-%d-%d", topic, p.p, p.o); key != wantKey {
			t.Fatalf("row at %v: _hoodie_record_key %q, want %q", p, key, wantKey)
		}
		if wantPath := want.EventTime.Format("dt=2006-01-02/hr=15"); partPath != wantPath {
			t.Fatalf("row at %v: _hoodie_partition_path %q, want %q", p, partPath, wantPath)
		}
		// The partition fields are columns too (Hudi's Spark reader wants
		// them among the table's columns).
		if wantDt, wantHr := want.EventTime.Format("2006-01-02"), want.EventTime.Format("15"); dt != wantDt || hr != wantHr {
			t.Fatalf("row at %v: partition columns dt %q hr %q, want %q %q", p, dt, hr, wantDt, wantHr)
		}
		if !strings.HasSuffix(fileName, "_"+commitTime+".parquet") {
			t.Fatalf("row at %v: file name %q does not end with its commit time %s", p, fileName, commitTime)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != m {
		t.Fatalf("%d rows in the table, want exactly %d", len(seen), m)
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Partition, "dt=") {
			t.Fatalf("file %s outside a dt=/hr= partition", f.Path)
		}
	}
	hours := map[string]bool{}
	for _, f := range files {
		hours[f.Partition] = true
	}
	if len(hours) < 5 {
		t.Fatalf("rows span %d hourly partitions, want at least 5", len(hours))
	}

	// Every bad record is in the DLQ once, with its reason and origin.
	dead, err := k.Consume(ctx, topic+".dlq")
	if err != nil {
		t.Fatal(err)
	}
	gotReason := map[pos]string{}
	for _, r := range dead {
		h := headers(r)
		var p pos
		fmt.Sscan(h["lakestream.source.partition"], &p.p)
		fmt.Sscan(h["lakestream.source.offset"], &p.o)
		if _, dup := gotReason[p]; dup {
			t.Fatalf("record %v dead-lettered twice", p)
		}
		gotReason[p] = h["lakestream.reason"]
	}
	if fmt.Sprint(sortedReasons(gotReason)) != fmt.Sprint(sortedReasons(wantReason)) {
		t.Fatalf("dead letters:\n got %v\nwant %v", sortedReasons(gotReason), sortedReasons(wantReason))
	}
}

// interleave splits records into the first n good ones plus every bad one,
// and the rest.
func interleave(recs []*kgo.Record, n int) (first, second []*kgo.Record) {
	first = append(first, recs[:n]...)
	second = append(second, recs[n:]...)
	return first, second
}

func waitCommitted(ctx context.Context, t *testing.T, k *harness.Kafka, table objstore.Store, proc *harness.Process) {
	t.Helper()
	ends, err := k.EndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	err = harness.WaitFor(ctx, 200*time.Millisecond, func() (bool, error) {
		if proc.Exited() {
			return false, fmt.Errorf("ingestd exited: %v", proc.Wait(0))
		}
		return harness.Committed(ctx, table, topic, ends)
	})
	if err != nil {
		t.Fatalf("waiting for the table to reach %v: %v", ends, err)
	}
}

func headers(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func sortedReasons[K comparable](m map[K]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%v=%s", k, v))
	}
	sort.Strings(out)
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// checkAdmin reads the admin endpoint: every worker's state and every
// partition's position and lag.
func checkAdmin(t *testing.T, addr string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatalf("admin endpoint: %v", err)
	}
	defer resp.Body.Close()
	var st struct {
		Workers    []string `json:"workers"`
		Partitions []struct {
			Partition int32 `json:"Partition"`
			Lag       int64 `json:"Lag"`
		} `json:"partitions"`
		Checkpoints int64 `json:"checkpoints"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("admin /status: %v", err)
	}
	if len(st.Workers) != 2 || len(st.Partitions) != partitions || st.Checkpoints == 0 {
		t.Fatalf("admin /status: %+v, want 2 workers, %d partitions and some checkpoints", st, partitions)
	}
}
