package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// TestBesideIngestd: ingestd (the binary, on in-process Kafka, a
// checkpoint a second) ingests unique pageviews while the compactor runs
// again and again: in process, or as the binary killed at random (SIGKILL
// after a random delay, or a crash failpoint at a random step); at the end
// every produced event is in the table once, as DuckDB reads it, and the
// compactions merged files meanwhile.
func TestBesideIngestd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs ingestd")
	}
	ctx := context.Background()
	dir := t.TempDir()
	ingestd, err := harness.BuildIngestd(dir)
	if err != nil {
		t.Fatal(err)
	}
	const topic, partitions = "pageviews", 3
	k, err := harness.StartKafka(1, partitions, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	root := filepath.Join(dir, "pageviews")
	config := filepath.Join(dir, "table.yaml")
	yaml := fmt.Sprintf("kafka:\n  brokers: [%s]\n  topic: %s\ntable:\n  url: %q\nformat:\n  type: json\n%swriter:\n  workers: 2\ncheckpoint:\n  interval: 1s\n  state_dir: %q\nadmin:\n  addr: \"\"\n",
		strings.Join(k.Brokers, ", "), topic, root, harness.PageviewSchemaYAML, filepath.Join(dir, "state"))
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "ingestd.log")
	proc, err := harness.StartIngestd(ingestd, config, logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Kill()
	defer func() {
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			s := string(log)
			t.Logf("ingestd log (tail):\n%s", s[max(0, len(s)-4000):])
		}
	}()
	const total = 24000
	prod, err := k.ProduceUnique(topic, partitions, 7, time.Now().UTC(), 2000, total)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Stop()

	bin := filepath.Join(dir, "compactor")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	points := []string{failpoint.BeforeRequested, failpoint.AfterInflight, failpoint.AfterFileWrite,
		failpoint.BeforeComplete, failpoint.AfterComplete, failpoint.DuringRollback, failpoint.AfterCommitBeforePublish}
	killed := 0
	kill := func() {
		t.Helper()
		cmd := exec.Command(bin, "run", "--config", config, "--writer-id", "compactor-test")
		cmd.Env = append(os.Environ(), "LAKESTREAM_PUSHGATEWAY_URL=")
		if rng.IntN(2) == 0 {
			cmd.Env = append(cmd.Env, "LAKESTREAM_FAILPOINTS="+points[rng.IntN(len(points))]+"=crash")
		}
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(time.Duration(rng.IntN(400))*time.Millisecond, func() { cmd.Process.Kill() })
		err := cmd.Wait()
		timer.Stop()
		switch code := cmd.ProcessState.ExitCode(); {
		case code == exitOK:
		case code == failpoint.CrashExitCode || code == -1: // crashed, killed
			killed++
		default:
			t.Fatalf("compactor: %v\n%s", err, out.String())
		}
	}

	merged := 0
	filesRE := regexp.MustCompile(`files (\d+) -> (\d+)`)
	compact := func() {
		t.Helper()
		code, stdout, stderr := runCmd("run", "--config", config, "--writer-id", "compactor-test")
		if code != exitOK {
			t.Fatalf("compactor: exit %d\n%s\n%s", code, stdout, stderr)
		}
		if m := filesRE.FindStringSubmatch(stdout); m != nil {
			in, _ := strconv.Atoi(m[1])
			merged += in
		}
	}
	for prod.Produced() < total {
		time.Sleep(700 * time.Millisecond)
		if _, err := os.Stat(filepath.Join(root, ".hoodie", "hoodie.properties")); err == nil {
			if rng.IntN(2) == 0 {
				compact()
			} else {
				kill()
			}
		}
	}
	if err := prod.Stop(); err != nil {
		t.Fatal(err)
	}
	ends, err := k.EndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := harness.WaitFor(wctx, 200*time.Millisecond, func() (bool, error) { return harness.Committed(wctx, b, topic, ends) }); err != nil {
		t.Fatalf("ingestd did not commit every record: %v", err)
	}
	compact()
	if merged == 0 {
		t.Fatal("the compactor merged no file")
	}
	db, files, err := harness.DuckDB(ctx, b, t.TempDir(), "pv")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var count, distinct int
	if err := db.QueryRow("SELECT count(*), count(DISTINCT userId) FROM pv").Scan(&count, &distinct); err != nil {
		t.Fatal(err)
	}
	if count != total || distinct != total {
		t.Fatalf("%d rows, %d distinct IDs, want %d of each", count, distinct, total)
	}
	tbl, err := hudi.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := tbl.Check(ctx, hudi.CheckOptions{Footers: true})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("table check: %v, %+v", err, rep.Problems)
	}
	t.Logf("%d events once each in %d files; the compactor merged %d files meanwhile, and was killed %d times", total, len(files), merged, killed)
	if err := proc.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
}
