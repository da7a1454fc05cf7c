package iceberg

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"go.uber.org/goleak"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if ingestdBin != "" {
		os.RemoveAll(filepath.Dir(ingestdBin))
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var storages = []string{"filesystem", "s3"}

// TestPublish: commits, a crash between a Hudi commit and its publish, a
// replacecommit, an archival with its expiry; after each, iceberg-go's scan
// of the Iceberg table returns exactly the rows DuckDB reads from the Hudi
// snapshot, and each instant has exactly one snapshot.
func TestPublish(t *testing.T) {
	for _, storage := range storages {
		t.Run(storage, func(t *testing.T) { testPublish(t, storage) })
	}
}

func testPublish(t *testing.T, storage string) {
	f := newFixture(t, storage)
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	t1 := f.commit(f.events(400, base, 3))
	p := f.publisher()
	res, err := p.CatchUp(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Published, []string{t1}) {
		t.Fatalf("published %v, want [%s]", res.Published, t1)
	}
	f.checkSame(p, testColumns)

	// The hook after a commit.
	t2 := f.commit(f.events(300, base, 3))
	if _, err := p.Publish(f.ctx, t2); err != nil {
		t.Fatal(err)
	}
	f.checkSame(p, testColumns)

	// A crash between the Hudi commit and the publish: a new process's
	// publisher catches up at start.
	t3 := f.commit(f.events(300, base.Add(time.Hour), 3))
	t4 := f.commit(f.events(200, base, 2))
	p2 := f.publisher()
	res, err = p2.CatchUp(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Published, []string{t3, t4}) {
		t.Fatalf("catch-up published %v, want [%s %s]", res.Published, t3, t4)
	}
	// Nothing twice.
	if res, err := p.CatchUp(f.ctx); err != nil || len(res.Published) != 0 {
		t.Fatalf("second catch-up: %v, %v", res, err)
	}
	want := digest{}
	if want = f.checkSame(p, testColumns); want.rows != 1200 {
		t.Fatalf("%d rows, want 1200", want.rows)
	}
	if got := published(t, f.ctx, p); !slices.Equal(got, []string{t1, t2, t3, t4}) {
		t.Fatalf("snapshots publish %v, want %v", got, []string{t1, t2, t3, t4})
	}
	checkMetrics(t, f, p)

	// A replacecommit: the partition's file groups become one.
	part := partitionPath(base, false)
	t5 := f.replace(part)
	if _, err := p.Publish(f.ctx, t5); err != nil {
		t.Fatal(err)
	}
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := tbl.CurrentSnapshot()
	if snap.Summary.Operation != table.OpReplace || snap.Summary.Properties[SummaryInstant] != t5 ||
		snap.Summary.Properties[SummaryWriterID] != "compactor" {
		t.Fatalf("replacecommit snapshot: %s %v", snap.Summary.Operation, snap.Summary.Properties)
	}
	if snap.Summary.Properties["deleted-data-files"] == "" || snap.Summary.Properties["added-data-files"] != "1" {
		t.Fatalf("replacecommit snapshot summary %v", snap.Summary.Properties)
	}
	if got := f.checkSame(p, testColumns); got.rows != want.rows {
		t.Fatalf("after the replace: %d rows, want %d", got.rows, want.rows)
	}

	// Archival: the snapshots expire first, then the archival deletes the
	// replaced files; the table still reads.
	t6 := f.commit(f.events(100, base, 3))
	if _, err := p.Publish(f.ctx, t6); err != nil {
		t.Fatal(err)
	}
	t7 := f.commit(f.events(100, base, 3)) // not published before the expiry: Expire catches up first
	tl, err := f.table.Timeline(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	through := tl.ArchiveThrough(2)
	if through != t5 {
		t.Fatalf("archive through %s, want %s", through, t5)
	}
	if res, err := p.Expire(f.ctx, through); err != nil || res.Expired != 5 || !slices.Equal(res.Published, []string{t7}) {
		t.Fatalf("expire: %+v, %v", res, err)
	}
	// No retention of the replaced files (the default 1h holds the young
	// replacecommit on the timeline, table/hudi/clean.go).
	ar, err := f.table.Archive(f.ctx, hudi.ArchiveOptions{KeepCompleted: 2, ReplacedRetention: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if ar.FilesRemoved == 0 {
		t.Fatalf("the archival removed no replaced file: %+v", ar)
	}
	f.checkSame(p, testColumns)
	checkReferencedExist(t, f, p)
	if got := published(t, f.ctx, p); !slices.Equal(got, []string{t6, t7}) {
		t.Fatalf("after the expiry the snapshots publish %v, want [%s %s]", got, t6, t7)
	}
	// And publishing goes on: nothing archived is published again.
	t8 := f.commit(f.events(100, base, 3))
	res, err = f.publisher().CatchUp(f.ctx)
	if err != nil || !slices.Equal(res.Published, []string{t8}) {
		t.Fatalf("after archival: published %v, %v; want [%s]", res, err, t8)
	}
	f.checkSame(p, testColumns)
	checkVersionHint(t, f)
}

// checkVersionHint: version-hint.text names the newest metadata version.
func checkVersionHint(t *testing.T, f *fixture) {
	t.Helper()
	hint, err := objstore.ReadAll(f.ctx, f.bucket, VersionHintKey)
	if err != nil {
		t.Fatal(err)
	}
	newest := 0
	err = f.bucket.List(f.ctx, MetadataDir+"/", func(info objstore.ObjectInfo) error {
		if n, ok := parseMetadataKey(info.Key); ok && n > newest {
			newest = n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(hint) != fmt.Sprint(newest) {
		t.Fatalf("version hint %q, newest metadata v%d", hint, newest)
	}
}

// checkMetrics compares each data file's metrics with what DuckDB reads
// from the file: _kafka_offset and eventTime bounds, url null counts, and
// the partition values (null for __HIVE_DEFAULT_PARTITION__).
func checkMetrics(t *testing.T, f *fixture, p *Publisher) {
	t.Helper()
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := p.newSession(f.ctx)
	sc := tbl.Schema()
	id := func(name string) int {
		fld, ok := sc.FindFieldByName(name)
		if !ok {
			t.Fatalf("no column %s", name)
		}
		return fld.ID
	}
	offID, evID, urlID, amtID := id("_kafka_offset"), id("eventTime"), id("url"), id("amount")
	db, _, err := harnessDuckDB(t, f)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mfs, err := tbl.CurrentSnapshot().Manifests(s.io)
	if err != nil {
		t.Fatal(err)
	}
	nullPartitions, files := 0, 0
	for _, mf := range mfs {
		entries, err := mf.FetchEntries(s.io, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			df := e.DataFile()
			files++
			rel := strings.TrimPrefix(df.FilePath(), f.location+"/")
			var lo, hi, evLo, evHi, rows, urlNulls, amtLo, amtHi int64
			var dt *string
			q := `SELECT min(_kafka_offset), max(_kafka_offset), min(epoch_us(eventTime)), max(epoch_us(eventTime)), count(*),
				count(*) - count(url), CAST(min(amount)*100 AS BIGINT), CAST(max(amount)*100 AS BIGINT), any_value(dt) FROM hudi WHERE _hoodie_file_name = ?`
			_, name, _ := strings.Cut(rel[strings.LastIndexByte(rel, '/')-1:], "/")
			if err := db.QueryRowContext(f.ctx, q, name).Scan(&lo, &hi, &evLo, &evHi, &rows, &urlNulls, &amtLo, &amtHi, &dt); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			le := func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }
			if df.Count() != rows || le(df.LowerBoundValues()[offID]) != lo || le(df.UpperBoundValues()[offID]) != hi ||
				le(df.LowerBoundValues()[evID]) != evLo || le(df.UpperBoundValues()[evID]) != evHi ||
				df.NullValueCounts()[urlID] != urlNulls || df.ValueCounts()[urlID] != rows {
				t.Fatalf("%s: metrics count %d offsets [%d %d] events [%d %d] url nulls %d values %d; DuckDB %d [%d %d] [%d %d] %d",
					rel, df.Count(), le(df.LowerBoundValues()[offID]), le(df.UpperBoundValues()[offID]),
					le(df.LowerBoundValues()[evID]), le(df.UpperBoundValues()[evID]), df.NullValueCounts()[urlID], df.ValueCounts()[urlID],
					rows, lo, hi, evLo, evHi, urlNulls)
			}
			if got := decimalBound(df.LowerBoundValues()[amtID]); got != amtLo {
				t.Fatalf("%s: amount lower bound %d, DuckDB %d", rel, got, amtLo)
			}
			if got := decimalBound(df.UpperBoundValues()[amtID]); got != amtHi {
				t.Fatalf("%s: amount upper bound %d, DuckDB %d", rel, got, amtHi)
			}
			pv := df.Partition()
			if dt == nil {
				nullPartitions++
				if pv[1000] != nil || pv[1001] != nil {
					t.Fatalf("%s: partition %v, want null dt and hr", rel, pv)
				}
			} else if pv[1000] != *dt {
				t.Fatalf("%s: partition %v, want dt %s", rel, pv, *dt)
			}
		}
	}
	if nullPartitions == 0 || files < 4 {
		t.Fatalf("%d files, %d in the default partition: the test wants some of both", files, nullPartitions)
	}
	// Pruning by the null partition finds exactly those rows.
	_, batches, err := tbl.Scan(table.WithRowFilter(iceberg.IsNull(iceberg.Reference("dt")))).ToArrowRecords(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for rec, err := range batches {
		if err != nil {
			t.Fatal(err)
		}
		n += rec.NumRows()
		rec.Release()
	}
	var want int64
	if err := db.QueryRowContext(f.ctx, "SELECT count(*) FROM hudi WHERE dt IS NULL").Scan(&want); err != nil {
		t.Fatal(err)
	}
	if n != want || n == 0 {
		t.Fatalf("rows with a null dt: iceberg %d, hudi %d", n, want)
	}
}

func decimalBound(b []byte) int64 {
	var v int64
	if len(b) > 0 && b[0]&0x80 != 0 {
		v = -1
	}
	for _, c := range b {
		v = v<<8 | int64(c)
	}
	return v
}
