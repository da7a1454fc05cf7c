package iceberg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	ingestdOnce sync.Once
	ingestdBin  string
	ingestdErr  error
)

// buildIngestd builds bin/ingestd once for the package's tests (removed
// with the directory at the end of TestMain's run: the test's temp dir of
// the first caller).
func buildIngestd(t *testing.T) string {
	t.Helper()
	ingestdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lakestream-iceberg-")
		if err != nil {
			ingestdErr = err
			return
		}
		ingestdBin, ingestdErr = harness.BuildIngestd(dir)
	})
	if ingestdErr != nil {
		t.Fatal(ingestdErr)
	}
	return ingestdBin
}

var pageviewColumns = []column{
	textCol("_hoodie_commit_time"), textCol("_hoodie_commit_seqno"), textCol("_hoodie_record_key"), textCol("_hoodie_file_name"),
	textCol("_hoodie_partition_path"), textCol("_kafka_partition"), textCol("_kafka_offset"), tsCol("_kafka_timestamp"),
	textCol("userId"), textCol("sessionNumber"), textCol("pageNumber"), textCol("url"), textCol("referrer"), tsCol("eventTime"),
	textCol("dt"), textCol("hr"),
}

// TestIngestdTable: a table made by bin/ingestd (kfake, pageviews over
// hours, two runs): the first with publishing off (table.iceberg: false),
// published after the fact (as after a crash between the Hudi commits and
// their publish); then one that crashes at failpoint iceberg.before-publish
// after its first commit; the second published by ingestd itself, which
// catches up the crashed commit at start; then a replacecommit; each
// time iceberg-go's scan returns exactly the rows DuckDB reads from the
// Hudi snapshot.
func TestIngestdTable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs ingestd")
	}
	for _, storage := range storages {
		t.Run(storage, func(t *testing.T) { testIngestdTable(t, storage) })
	}
}

func testIngestdTable(t *testing.T, storage string) {
	bin := buildIngestd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const topic, partitions = "pageviews", 3
	k, err := harness.NewKafka(harness.KindKfake, harness.KafkaOptions{Brokers: 1, Partitions: partitions, Topics: []string{topic, topic + ".dlq"}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	var bucket objstore.Store
	var tableURL, location string
	var env []string
	switch storage {
	case "filesystem":
		root := filepath.Join(dir, "warehouse", topic)
		fs, err := objstore.NewFilesystem(root)
		if err != nil {
			t.Fatal(err)
		}
		defer fs.Close()
		bucket, tableURL = fs, "file://"+root
	case "s3":
		srv := s3test.Start(t)
		bucket = srv.NewBucket(t, "warehouse/"+topic)
		tableURL = fmt.Sprintf("s3://%s/warehouse/%s?endpoint=%s&path_style=true", srv.Bucket, topic, srv.Endpoint)
		env = []string{"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey, "AWS_REGION=" + s3test.Region}
	}
	if location, err = TableLocation(tableURL); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC()
	events := harness.Pageviews(11, 4000, now, 4*time.Hour)
	values := make([][]byte, len(events))
	for i, e := range events {
		values[i] = e.JSON()
	}
	recs := harness.Records(topic, partitions, values)
	// Run 1 with publishing switched off, run 2 with it on (the default).
	config := filepath.Join(dir, "table.yaml")
	writeConfig := func(publish bool) {
		t.Helper()
		if err := os.WriteFile(config, []byte(fmt.Sprintf(`kafka:
  brokers: [%s]
  topic: %s
table:
  url: %q
  iceberg: %v
format:
  type: json
%swriter:
  workers: 2
checkpoint:
  interval: 500ms
  writer_id: e2e-0
  state_dir: %q
admin:
  addr: ""
`, k.Brokers[0], topic, tableURL, publish, harness.PageviewSchemaYAML, filepath.Join(dir, "state"))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "ingestd.log")
	defer func() {
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("ingestd log:\n%s", log)
		}
	}()
	run := func(recs []*kgo.Record) {
		t.Helper()
		if err := k.Produce(ctx, recs); err != nil {
			t.Fatal(err)
		}
		want, err := k.EndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		proc, err := harness.StartIngestd(bin, config, logPath, env...)
		if err != nil {
			t.Fatal(err)
		}
		defer proc.Kill()
		err = harness.WaitFor(ctx, 100*time.Millisecond, func() (bool, error) {
			if proc.Exited() {
				return false, fmt.Errorf("ingestd exited: %s", proc.ExitStatus())
			}
			return harness.Committed(ctx, bucket, topic, want)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := proc.Stop(time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(false)
	run(recs[:len(recs)/2])
	if _, err := bucket.Stat(ctx, MetadataDir+"/version-hint.text"); err == nil {
		t.Fatal("ingestd with table.iceberg: false published")
	}

	tbl, err := hudi.Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(tbl, location)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run 1: %d instants published", len(res.Published))
	f := &fixture{t: t, ctx: ctx, bucket: bucket, table: tbl, location: location, dir: dir}
	first := f.checkSame(p, pageviewColumns)

	// A crash between a commit and its publish: ingestd armed with
	// failpoint iceberg.before-publish exits 86 after its first commit,
	// which stands unpublished, with its stats sidecar.
	writeConfig(true)
	if err := k.Produce(ctx, recs[len(recs)/2:3*len(recs)/4]); err != nil {
		t.Fatal(err)
	}
	proc, err := harness.StartIngestd(bin, config, logPath, append(env, "LAKESTREAM_FAILPOINTS="+failpoint.AfterCommitBeforePublish+"=crash")...)
	if err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := proc.Wait(time.Minute); !errors.As(err, &exit) || exit.ExitCode() != failpoint.CrashExitCode {
		t.Fatalf("ingestd with %s armed: %v, want exit %d", failpoint.AfterCommitBeforePublish, err, failpoint.CrashExitCode)
	}
	completed := f.completed()
	crashed := completed[len(completed)-1]
	if slices.Contains(published(t, ctx, p), crashed) {
		t.Fatalf("instant %s published before the crash", crashed)
	}
	if _, err := bucket.Stat(ctx, filestats.SidecarKey(crashed)); err != nil {
		t.Fatalf("the stats sidecar of %s: %v", crashed, err)
	}

	// Run 2: ingestd catches up at start (the crashed commit), then
	// publishes every commit itself: a new publisher finds nothing left
	// to publish.
	run(recs[3*len(recs)/4:])
	res, err = New2(t, tbl, location).CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Published) != 0 {
		t.Fatalf("ingestd left %v unpublished", res.Published)
	}
	all := f.checkSame(p, pageviewColumns)
	allData := f.checkSame(p, pageviewColumns[5:])
	if all.rows != int64(len(events)) || first.rows >= all.rows {
		t.Fatalf("rows: %d after run 1, %d after run 2, want %d in all", first.rows, all.rows, len(events))
	}
	if got, want := published(t, ctx, p), f.completed(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("snapshots publish %v, the timeline completed %v", got, want)
	}

	// A replacecommit of the partition with the most file groups.
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]int{}
	for _, bf := range snap.Files {
		groups[bf.Partition]++
	}
	parts := make([]string, 0, len(groups))
	for part := range groups {
		parts = append(parts, part)
	}
	sort.Slice(parts, func(i, j int) bool { return groups[parts[i]] > groups[parts[j]] })
	schema := openParquet(t, ctx, bucket, snap.Files[0].Path).Schema()
	rt := replaceFileGroups(t, ctx, tbl, schema, []string{"dt", "hr"}, parts[0])
	if _, err := p.Publish(ctx, rt); err != nil {
		t.Fatal(err)
	}
	// The compactor's file has new _hoodie_commit_time, _seqno and
	// _file_name: the rest of every row is as before.
	f.checkSame(p, pageviewColumns)
	if got := f.checkSame(p, pageviewColumns[5:]); got != allData {
		t.Fatalf("after the replace %+v, before %+v", got, allData)
	}
	checkVersionHint(t, f)
}

// New2 is New for a second process's publisher.
func New2(t *testing.T, tbl *hudi.Table, location string) *Publisher {
	t.Helper()
	p, err := New(tbl, location)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
