//go:build compat

package compat

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/twmb/franz-go/pkg/kfake"
)

const (
	topic      = "pageviews"
	partitions = 4
	maxRecord  = 16 << 10
)

// table is one table made for the engines.
type table struct {
	Name string // e2e, torture, late
	Root string // absolute path of the table root
	// Good is the number of good records produced: the table must hold
	// each once.
	Good int
	// Notes says what happened while it was made (failpoints fired...).
	Notes []string
	// Compaction is what the compactor did to it (nil: not compacted).
	Compaction *compaction
}

// ingest drives one ingestd configuration against an in-process Kafka.
type ingest struct {
	t      *testing.T
	ctx    context.Context
	k      *harness.Kafka
	bucket objstore.Store
	root   string
	config string
	log    string
	proc   *harness.Process
}

// settings are extra lines of an ingestd configuration, by section.
type settings struct{ kafka, format, checkpoint string }

func newIngest(ctx context.Context, t *testing.T, dir, name string, extra settings, kopts ...kfake.Opt) *ingest {
	t.Helper()
	k, err := harness.StartKafkaWith(3, partitions, kopts, topic, topic+".dlq")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	root := filepath.Join(dir, name)
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	in := &ingest{t: t, ctx: ctx, k: k, bucket: b, root: root,
		config: filepath.Join(dir, name+".yaml"), log: filepath.Join(dir, name+".log")}
	state := filepath.Join(dir, name+".state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, in.config, fmt.Sprintf(`kafka:
  brokers: [%s]
  topic: %s
%stable:
  url: %q
  name: compat_%s
format:
  type: json
  max_record_bytes: %d
%s%swriter:
  workers: 2
checkpoint:
%s  interval: 1s
  writer_id: compat-%s-0
  state_dir: %q
admin:
  addr: ""
`, strings.Join(k.Brokers, ", "), topic, extra.kafka, "file://"+root, name, maxRecord, harness.PageviewSchemaYAML, extra.format, extra.checkpoint, name, state))
	t.Cleanup(func() {
		if in.proc != nil {
			in.proc.Kill()
		}
		if t.Failed() {
			log, _ := os.ReadFile(in.log)
			s := string(log)
			if len(s) > 6000 {
				s = s[len(s)-6000:]
			}
			t.Logf("%s: ingestd log (%s):\n%s", name, in.log, s)
		}
	})
	return in
}

func (in *ingest) produce(values [][]byte) {
	in.t.Helper()
	if err := in.k.Produce(in.ctx, harness.Records(topic, partitions, values)); err != nil {
		in.t.Fatal(err)
	}
}

func (in *ingest) start(env ...string) {
	in.t.Helper()
	p, err := harness.StartIngestd(ingestdBin, in.config, in.log, env...)
	if err != nil {
		in.t.Fatal(err)
	}
	in.proc = p
}

// waitCommitted waits until the table's offsets reach the end of every
// partition.
func (in *ingest) waitCommitted() {
	in.t.Helper()
	ends, err := in.k.EndOffsets(in.ctx, topic)
	if err != nil {
		in.t.Fatal(err)
	}
	err = harness.WaitFor(in.ctx, 200*time.Millisecond, func() (bool, error) {
		if in.proc.Exited() {
			return false, fmt.Errorf("ingestd exited: %v", in.proc.Wait(0))
		}
		return harness.Committed(in.ctx, in.bucket, topic, ends)
	})
	if err != nil {
		in.t.Fatalf("waiting for the table to reach %v: %v", ends, err)
	}
}

// stop sends SIGTERM (a final checkpoint) and waits.
func (in *ingest) stop() {
	in.t.Helper()
	if err := in.proc.Stop(time.Minute); err != nil {
		in.t.Fatalf("stop ingestd: %v", err)
	}
}

// crashAt starts ingestd with failpoint name armed to crash and waits for
// it to exit. It reports whether the failpoint fired (exit 86); a process
// that does not reach it within a minute is SIGKILLed.
func (in *ingest) crashAt(name string) bool {
	in.t.Helper()
	in.start("LAKESTREAM_FAILPOINTS="+name+"=crash", "LAKESTREAM_FAILPOINT_SEED=1")
	select {
	case <-in.proc.Done():
	case <-time.After(time.Minute):
		in.proc.Kill()
		return false
	}
	if code := in.proc.ExitCode(); code != failpoint.CrashExitCode {
		in.t.Fatalf("ingestd armed with %s exited with %s, want exit %d", name, in.proc.ExitStatus(), failpoint.CrashExitCode)
	}
	return true
}

func (in *ingest) deadLetters() map[string]int {
	in.t.Helper()
	dead, err := in.k.Consume(in.ctx, topic+".dlq")
	if err != nil {
		in.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range dead {
		for _, h := range r.Headers {
			if h.Key == "lakestream.reason" {
				out[string(h.Value)]++
			}
		}
	}
	return out
}

func jsonValues(events []harness.Pageview) [][]byte {
	out := make([][]byte, len(events))
	for i, e := range events {
		out[i] = e.JSON()
	}
	return out
}

// makeE2E is the e2e table (TestIngestEndToEnd's JSON run): 12,000
// pageviews over 5 hours and the malformed records, in three waves: the
// first ingested, the second half ingested before a SIGTERM and half
// produced while ingestd is down, the third after the restart.
func makeE2E(ctx context.Context, t *testing.T, dir string) []table {
	in := newIngest(ctx, t, dir, "e2e", settings{})
	now := time.Now().UTC()
	values := jsonValues(harness.Pageviews(7, 12000, now, 5*time.Hour))
	bad, _ := harness.Malformed(maxRecord, now)

	in.produce(append(append([][]byte{}, values[:5000]...), bad...))
	in.start()
	in.waitCommitted()
	in.produce(values[5000:7000])
	time.Sleep(500 * time.Millisecond)
	in.stop()
	in.produce(values[7000:9000])
	in.start()
	in.waitCommitted()
	in.produce(values[9000:])
	in.waitCommitted()
	in.stop()
	return []table{{Name: "e2e", Root: in.root, Good: len(values)}}
}

// makeTorture crashes ingestd at every failpoint of the commit path
// (files uploaded and never committed, commits decided and finished
// forward by the next start, a rollback interrupted), SIGKILLs it
// mid-checkpoint, and keeps 5 instants on the active timeline so that the
// older ones are archived: every rolled-back instant's files must stay
// invisible and every archived instant's visible.
func makeTorture(ctx context.Context, t *testing.T, dir string) []table {
	// A short session: a crashed process's group membership expires in
	// seconds, not the default 45.
	in := newIngest(ctx, t, dir, "torture", settings{
		kafka:      "  session_timeout: 3s\n  rebalance_timeout: 10s\n",
		checkpoint: "  keep_instants: 5\n",
	}, kfake.GroupMinSessionTimeout(time.Second))

	now := time.Now().UTC()
	values := jsonValues(harness.Pageviews(11, 24000, now, 3*time.Hour))
	next := 0
	wave := func(n int) {
		in.produce(values[next : next+n])
		next += n
	}
	var notes []string
	wave(1000)
	in.start()
	in.waitCommitted()
	for range 2 {
		wave(1000)
		in.waitCommitted()
	}
	in.stop()

	fired := 0
	var pending table
	for _, fp := range []string{failpoint.AfterFileWrite, failpoint.BeforeComplete, failpoint.AfterComplete,
		failpoint.BeforeGroupCommit, failpoint.AfterInflight, failpoint.DuringRollback} {
		committed := next
		wave(1000)
		if in.crashAt(fp) {
			fired++
			notes = append(notes, "crashed at "+fp)
		} else {
			notes = append(notes, "did not reach "+fp+" (SIGKILL)")
		}
		if fp == failpoint.AfterFileWrite {
			// The table as a reader finds it before the next start rolls
			// the instant back: its files are on storage, uncommitted.
			pending = table{Name: "torture_pending", Root: filepath.Join(dir, "torture_pending"), Good: committed,
				Notes: []string{"copied after the crash at " + fp}}
			// Without its Iceberg metadata: every path in it is the
			// original's (docs/operations.md, "Moving a table"); the
			// copy is published for its own location.
			if err := copyTreeExcept(in.root, pending.Root, "metadata"); err != nil {
				t.Fatal(err)
			}
			if n := uncommittedFiles(ctx, t, pending.Root); n == 0 {
				t.Fatalf("torture_pending: no uncommitted base files on storage after the crash at %s", fp)
			} else {
				pending.Notes = append(pending.Notes, fmt.Sprintf("%d uncommitted base files", n))
			}
		}
	}
	// The next start settles what the crashes left, then ingests on.
	in.start()
	in.waitCommitted()
	wave(1000)
	time.Sleep(700 * time.Millisecond)
	if err := in.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	notes = append(notes, "SIGKILL mid-stream")
	in.start()
	// Twelve more checkpoints in one process: archival runs every ten.
	for range 12 {
		wave(1000)
		in.waitCommitted()
	}
	in.stop()
	if fired < 4 {
		t.Fatalf("torture: only %d failpoints fired: %v", fired, notes)
	}
	// Rollbacks happened, and some instants were archived.
	rolled, _ := os.ReadDir(filepath.Join(in.root, ".hoodie", ".lakestream", "rolledback"))
	archived, _ := os.ReadDir(filepath.Join(in.root, ".hoodie", "archived"))
	if len(rolled) == 0 || len(archived) == 0 {
		t.Fatalf("torture: %d rolled-back instants and %d archive files, want some of each (%v)", len(rolled), len(archived), notes)
	}
	notes = append(notes, fmt.Sprintf("%d instants rolled back, %d archive files", len(rolled), len(archived)))
	return []table{{Name: "torture", Root: in.root, Good: next, Notes: notes}, pending}
}

// makeLate is a table with the Kafka key column (binary), unicode and
// awkward strings, records that do not match the schema (dead-lettered)
// or carry unknown fields (kept), and late records: hours and two days
// behind the watermark, written by later commits into old partitions.
func makeLate(ctx context.Context, t *testing.T, dir string) []table {
	in := newIngest(ctx, t, dir, "late", settings{format: "  include_key: true\n"})
	now := time.Now().UTC().Truncate(time.Millisecond)
	ts := func(d time.Duration) string { return now.Add(-d).Format("2006-01-02T15:04:05.000Z07:00") }

	// On time: the last 40 minutes.
	current := harness.Pageviews(21, 6000, now, 40*time.Minute)
	var good [][]byte
	for _, e := range current {
		good = append(good, e.JSON())
	}
	// Good records of other shapes: unknown fields, optional fields absent
	// or null, unicode, quotes, newlines, an empty string.
	odd := []string{
		`{"userId": 1, "eventTime": "` + ts(time.Minute) + `", "unknownField": {"nested": [1, 2]}, "another": null}`,
		`{"userId": 2, "eventTime": "` + ts(2*time.Minute) + `"}`,
		`{"userId": 3, "sessionNumber": null, "pageNumber": null, "url": null, "referrer": null, "eventTime": "` + ts(3*time.Minute) + `"}`,
		`{"userId": 4, "url": "https://shop.example.com/search?q=caf\u00e9+\u65e5\u672c+\ud83d\ude00", "eventTime": "` + ts(4*time.Minute) + `"}`,
		`{"userId": 5, "url": "line one\nline two\ttab \"quoted\" back\\slash", "referrer": "", "eventTime": "` + ts(5*time.Minute) + `"}`,
		`{"userId": -9223372036854775808, "sessionNumber": 2147483647, "pageNumber": -2147483648, "url": "/extremes", "eventTime": "` + ts(6*time.Minute) + `"}`,
	}
	for _, v := range odd {
		good = append(good, []byte(v))
	}
	// Records that do not match the schema: dead-lettered, not in the table.
	mismatched := []string{
		`{"userId": "one", "eventTime": "` + ts(time.Minute) + `"}`,
		`{"userId": 6, "sessionNumber": "seven", "eventTime": "` + ts(time.Minute) + `"}`,
		`{"userId": 7, "pageNumber": 1.5, "eventTime": "` + ts(time.Minute) + `"}`,
		`{"userId": 8, "url": 42, "eventTime": "` + ts(time.Minute) + `"}`,
		`{"userId": 9, "sessionNumber": 2147483648, "eventTime": "` + ts(time.Minute) + `"}`,
		`{"userId": 10, "referrer": ["a"], "eventTime": "` + ts(time.Minute) + `"}`,
	}
	var bad [][]byte
	for _, v := range mismatched {
		bad = append(bad, []byte(v))
	}
	malformed, _ := harness.Malformed(maxRecord, now)
	bad = append(bad, malformed...)

	in.produce(append(append([][]byte{}, good...), bad...))
	in.start()
	in.waitCommitted()
	// Late: 3 to 5 hours behind, and two days behind (a new dt).
	late := harness.Pageviews(22, 2000, now.Add(-3*time.Hour), 2*time.Hour)
	late = append(late, harness.Pageviews(23, 500, now.Add(-48*time.Hour), time.Hour)...)
	lateValues := jsonValues(late)
	in.produce(lateValues[:1200])
	in.waitCommitted()
	// More on-time records, then the rest of the late ones.
	more := jsonValues(harness.Pageviews(24, 2000, now, 10*time.Minute))
	in.produce(more)
	in.waitCommitted()
	in.produce(lateValues[1200:])
	in.waitCommitted()
	in.stop()

	dead := in.deadLetters()
	total := 0
	for _, n := range dead {
		total += n
	}
	if total != len(bad) || dead["schema-mismatch"] < len(mismatched) {
		t.Fatalf("late: dead letters %v, want %d of them (%d schema-mismatch at least)", dead, len(bad), len(mismatched))
	}
	return []table{{Name: "late", Root: in.root, Good: len(good) + len(lateValues) + len(more),
		Notes: []string{fmt.Sprintf("dead letters by reason: %v", dead), fmt.Sprintf("%d late records", len(lateValues))}}}
}

// copyTree copies a table, modification times included (Hudi 1.x takes
// an instant's completion time on a version 6 table from its file's).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.Chtimes(target, info.ModTime(), info.ModTime())
	})
}

// uncommittedFiles counts the base files on storage that the snapshot
// does not show.
func uncommittedFiles(ctx context.Context, t *testing.T, root string) int {
	t.Helper()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tab, err := hudi.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tab.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	visible := map[string]bool{}
	for _, f := range snap.Files {
		visible[filepath.Join(root, filepath.FromSlash(f.Path))] = true
	}
	n := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") && !visible[p] {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
}
