package compaction

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/table/hudi"
)

// TestRunPublishesIceberg: with the Iceberg option, a run publishes its
// replacecommit as an Iceberg replace snapshot, after which iceberg-go's
// scan returns exactly the rows of the Hudi snapshot; a later run past the
// retention expires the Iceberg snapshots that reference the replaced
// files before it deletes them, so that every retained snapshot's files
// exist.
func TestRunPublishesIceberg(t *testing.T) {
	f := newFixture(t, "filesystem")
	location, err := iceberg.TableLocation(filepath.Join(f.dir, "warehouse", "events"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iceberg.New(f.table, location)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.commit(100, 0)
	}
	res, err := f.compactor(f.table, Iceberg(p)).Run(f.ctx)
	if err != nil || len(res.Groups) != 1 {
		t.Fatalf("run: %v, %d groups", err, len(res.Groups))
	}
	tbl, err := p.Table(f.ctx)
	if err != nil || tbl == nil {
		t.Fatalf("iceberg table: %v, %v", tbl, err)
	}
	cur := tbl.Metadata().CurrentSnapshot()
	if cur == nil || cur.Summary.Properties[iceberg.SummaryInstant] != res.Groups[0].Instant || cur.Summary.Operation != "replace" {
		t.Fatalf("current snapshot %+v, want the replace of %s", cur, res.Groups[0].Instant)
	}
	checkIcebergSame(t, f, p)

	f.commit(100, 0) // published as ingestd would
	if _, err := p.CatchUp(f.ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	res, err = f.compactor(f.table, Iceberg(p), Retention(10*time.Millisecond), MinFiles(100)).Run(f.ctx)
	if err != nil || res.Cleaned != 3 {
		t.Fatalf("past the retention: %v, cleaned %d", err, res.Cleaned)
	}
	checkIcebergSame(t, f, p)
	tbl, err = p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := tbl.FS(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(path string) {
		t.Helper()
		key := strings.TrimPrefix(path, location+"/")
		if _, err := f.bucket.Stat(f.ctx, key); err != nil {
			t.Fatalf("a retained iceberg snapshot references %s: %v", key, err)
		}
	}
	for _, sn := range tbl.Metadata().Snapshots() {
		mfs, err := sn.Manifests(fs)
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			entries, err := mf.FetchEntries(fs, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				exists(e.DataFile().FilePath())
			}
		}
	}
}

// checkIcebergSame fails unless iceberg-go's scan of the current Iceberg
// snapshot returns the rows of the Hudi snapshot (DuckDB).
func checkIcebergSame(t *testing.T, f *fixture, p *iceberg.Publisher) {
	t.Helper()
	db, _, err := harness.DuckDB(f.ctx, f.bucket, filepath.Join(f.dir, fmt.Sprint(time.Now().UnixNano())), "hudi")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.QueryContext(f.ctx, "SELECT _hoodie_commit_time, _hoodie_record_key, _hoodie_file_name, userId, dt, hr FROM hudi")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rs.Next() {
		var ct, key, file, dt, hr string
		var uid int64
		if err := rs.Scan(&ct, &key, &file, &uid, &dt, &hr); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprint(ct, "|", key, "|", file, "|", uid, "|", dt, "|", hr))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	rs.Close()
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, batches, err := tbl.Scan().ToArrowRecords(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rec, err := range batches {
		if err != nil {
			t.Fatal(err)
		}
		col := func(name string) int {
			js := rec.Schema().FieldIndices(name)
			if len(js) != 1 {
				t.Fatalf("iceberg scan has no column %s", name)
			}
			return js[0]
		}
		ct, key, file, dt, hr := rec.Column(col("_hoodie_commit_time")), rec.Column(col("_hoodie_record_key")), rec.Column(col("_hoodie_file_name")), rec.Column(col("dt")), rec.Column(col("hr"))
		uid := rec.Column(col("userId")).(*array.Int64)
		for r := range int(rec.NumRows()) {
			got = append(got, fmt.Sprint(ct.ValueStr(r), "|", key.ValueStr(r), "|", file.ValueStr(r), "|", uid.Value(r), "|", dt.ValueStr(r), "|", hr.ValueStr(r)))
		}
		rec.Release()
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(want, got) {
		t.Fatalf("hudi snapshot %d rows, iceberg scan %d rows, not the same", len(want), len(got))
	}
}

// TestRunWritesSidecar: a run writes the stats sidecar of each
// replacecommit before its commit, from the merged output's footer (the
// local file, not the store), so that the publisher reads no footer of a
// compaction's output: with a footer source that fails for any instant
// but the ingest commits (which have no sidecar here), the replace
// snapshot is published and iceberg-go's scan equals the Hudi snapshot.
// A run stopped at iceberg.before-publish leaves the replacecommit
// completed and unpublished; the next catch-up publishes it, from its
// sidecar. On the filesystem and on versitygw.
func TestRunWritesSidecar(t *testing.T) {
	for _, storage := range []string{"filesystem", "s3"} {
		t.Run(storage, func(t *testing.T) {
			f := newFixture(t, storage)
			ingested := map[string]bool{}
			for range 3 {
				ingested[f.commit(100, 0)] = true
			}
			stats := iceberg.WithStats(iceberg.SidecarStats(f.bucket, ingestFooters{t: t, ingest: ingested, footers: iceberg.FooterStats(f.bucket, 4)}))
			p, err := iceberg.New(f.table, f.location, stats)
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.compactor(f.table, Iceberg(p)).Run(f.ctx)
			if err != nil || len(res.Groups) != 1 {
				t.Fatalf("run: %v, %d groups", err, len(res.Groups))
			}
			replace := res.Groups[0].Instant
			if _, err := f.bucket.Stat(f.ctx, filestats.SidecarKey(replace)); err != nil {
				t.Fatalf("sidecar of %s: %v", replace, err)
			}
			tbl, err := p.Table(f.ctx)
			if err != nil || tbl == nil {
				t.Fatalf("iceberg table: %v, %v", tbl, err)
			}
			if cur := tbl.Metadata().CurrentSnapshot(); cur == nil || cur.Summary.Properties[iceberg.SummaryInstant] != replace || cur.Summary.Operation != "replace" {
				t.Fatalf("current snapshot %+v, want the replace of %s", cur, replace)
			}
			checkIcebergSame(t, f, p)

			// Stopped between the commit and the publish.
			for range 3 {
				ingested[f.commit(100, 1)] = true
			}
			if _, err := p.CatchUp(f.ctx); err != nil {
				t.Fatal(err)
			}
			set, err := failpoint.Parse(failpoint.AfterCommitBeforePublish+"=error", 1)
			if err != nil {
				t.Fatal(err)
			}
			res, err = f.compactor(f.open(hudi.WithFailpoints(set)), Iceberg(p), Failpoints(set)).Run(f.ctx)
			if !errors.Is(err, failpoint.ErrInjected) || len(res.Groups) != 1 {
				t.Fatalf("run: %v, %d groups; want the injected error after one group", err, len(res.Groups))
			}
			replace = res.Groups[0].Instant
			if got := published(t, f, p); got[replace] {
				t.Fatalf("%s published despite the failpoint", replace)
			}
			p2, err := iceberg.New(f.open(), f.location, stats)
			if err != nil {
				t.Fatal(err)
			}
			if cu, err := p2.CatchUp(f.ctx); err != nil || !slices.Equal(cu.Published, []string{replace}) {
				t.Fatalf("catch-up: %+v, %v; want %s published", cu, err, replace)
			}
			checkIcebergSame(t, f, p2)
		})
	}
}

// ingestFooters reads the footers of the ingest commits' files (which
// have no sidecar in these tests) and fails for any other instant.
type ingestFooters struct {
	t       *testing.T
	ingest  map[string]bool
	footers iceberg.Stats
}

func (s ingestFooters) InstantStats(ctx context.Context, instant string, files []hudi.WriteStat) (*filestats.Instant, error) {
	if s.ingest[instant] {
		return s.footers.InstantStats(ctx, instant, files)
	}
	s.t.Errorf("instant %s: the publisher read its footers: no stats sidecar", instant)
	return nil, errors.New("no footer reads for a compaction's output")
}

// published returns the instants the Iceberg snapshots publish.
func published(t *testing.T, f *fixture, p *iceberg.Publisher) map[string]bool {
	t.Helper()
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, sn := range tbl.Metadata().Snapshots() {
		out[sn.Summary.Properties[iceberg.SummaryInstant]] = true
	}
	return out
}
