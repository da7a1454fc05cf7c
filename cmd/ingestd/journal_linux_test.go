package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// mountTmpfs mounts a tmpfs of size on a new directory, or skips the test
// where mounting is not permitted.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); package checkpoint's tests inject a full disk with errorfs", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillVolume writes a file into dir until the volume is full.
func fillVolume(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return name
		}
	}
}

// ingestRun is ingest running in this process.
type ingestRun struct {
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

func startIngest(cfg Config) *ingestRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &ingestRun{cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	logger := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	go func() { r.done <- ingestTable(ctx, nil, cfg, logger) }()
	return r
}

func (r *ingestRun) count(msg string) int { return strings.Count(r.logs.String(), `"msg":"`+msg+`"`) }

// waitLog waits until msg is logged, failing the test if ingest stops or
// d passes first.
func (r *ingestRun) waitLog(t *testing.T, msg string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for r.count(msg) == 0 {
		select {
		case err := <-r.done:
			t.Fatalf("ingest stopped (%v) before logging %q; log:\n%s", err, msg, r.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged within %v; log:\n%s", msg, d, r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the run as SIGTERM does and returns ingest's error.
func (r *ingestRun) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("ingest did not stop within 30 s; log:\n%s", r.logs.String())
		return nil
	}
}

// TestIngestFullStateDir is issue 12 item 1 end to end, with the state
// directory on a 2 MiB tmpfs: the volume fills while ingestd runs (it
// stops: its journal failed), and the restart on the still full volume
// hung in pebble's Open, logging a background error in a tight loop. Now
// the restart runs without the journal (logged once) and commits; once
// space is freed, the next start uses the journal again, and the table
// holds every record once.
func TestIngestFullStateDir(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline against kfake three times")
	}
	stateDir := filepath.Join(mountTmpfs(t, "2m"), "state")
	const topic = "clicks"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic, topic+".dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	tableDir := t.TempDir()
	cfgPath := writeConfig(t, fmt.Sprintf(`kafka:
  topic: %s
  brokers: [%s]
table:
  url: file://%s
format:
  schema:
    - {name: id, type: int64, optional: false}
checkpoint:
  interval: 200ms
  writer_id: full-state-dir
  state_dir: %s
`, topic, cluster.ListenAddrs()[0], tableDir, stateDir))
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	produced := 0
	produceN := func(n int) {
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, `{"id": %d}`, produced+i), Timestamp: time.Now()}
		}
		produce(t, cluster.ListenAddrs(), recs)
		produced += n
	}
	bucket, err := objstore.NewFilesystem(tableDir)
	if err != nil {
		t.Fatal(err)
	}
	committed := func() int64 {
		tbl, err := hudi.Open(context.Background(), bucket)
		if err != nil {
			return -1
		}
		cps, err := tbl.Checkpoints(context.Background())
		if err != nil {
			return -1
		}
		pos, _ := cps.Next(topic, 0)
		return pos.Next
	}
	waitCommitted := func(r *ingestRun) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for committed() != int64(produced) {
			if time.Now().After(deadline) {
				t.Fatalf("%d records committed, want %d; log:\n%s", committed(), produced, r.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// 1. The volume fills while ingestd runs: its journal fails, and it
	// stops with an error (exit 1).
	r := startIngest(cfg)
	r.waitLog(t, "ingestd running", 60*time.Second)
	produceN(100)
	waitCommitted(r)
	filler := fillVolume(t, filepath.Dir(stateDir))
	var runErr error
	deadline := time.Now().Add(60 * time.Second)
	for runErr == nil {
		produceN(20)
		select {
		case runErr = <-r.done:
		case <-time.After(300 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("ingest still running on a full state volume; log:\n%s", r.logs.String())
			}
		}
	}
	if !errors.Is(runErr, journal.ErrFailed) || !errors.Is(runErr, syscall.ENOSPC) {
		t.Fatalf("ingest on a full state volume stopped with %v, want journal.ErrFailed and ENOSPC", runErr)
	}
	t.Logf("run 1 stopped: %v", runErr)

	// 2. Restart on the still full volume: it runs, without the journal.
	r = startIngest(cfg)
	r.waitLog(t, "ingestd running", 60*time.Second)
	produceN(50)
	waitCommitted(r)
	if err := r.stop(t); err != nil {
		t.Fatalf("run 2: %v", err)
	}
	if n := r.count("journal unavailable: running without it; recovery lists the table"); n != 1 {
		t.Errorf("run 2 logged the unavailable journal %d times, want once; log:\n%s", n, r.logs.String())
	}
	if n := strings.Count(r.logs.String(), "background error"); n > 0 {
		t.Errorf("run 2 logged %d background errors", n)
	}
	if n := strings.Count(r.logs.String(), "\n"); n > 100 {
		t.Errorf("run 2 logged %d lines", n)
	}

	// 3. Space freed: the journal is used again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r = startIngest(cfg)
	r.waitLog(t, "ingestd running", 60*time.Second)
	produceN(30)
	waitCommitted(r)
	if err := r.stop(t); err != nil {
		t.Fatalf("run 3: %v", err)
	}
	if n := r.count("journal unavailable: running without it; recovery lists the table"); n != 0 {
		t.Errorf("run 3 ran without its journal; log:\n%s", r.logs.String())
	}

	// Every record once: DuckDB over the snapshot's files.
	tbl, err := hudi.Open(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := tbl.Timeline(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := tl.Pending(); len(p) != 0 {
		t.Fatalf("pending instants left: %v", p)
	}
	snap, err := tbl.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range snap.Files {
		files = append(files, "'"+filepath.Join(tableDir, f.Path)+"'")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct, maxID int64
	q := fmt.Sprintf(`SELECT count(*), count(DISTINCT id), max(id) FROM read_parquet([%s])`, strings.Join(files, ","))
	if err := db.QueryRow(q).Scan(&rows, &distinct, &maxID); err != nil {
		t.Fatal(err)
	}
	if rows != int64(produced) || distinct != int64(produced) || maxID != int64(produced-1) {
		t.Fatalf("rows %d, distinct ids %d, max id %d; want %d records once", rows, distinct, maxID, produced)
	}
}
