package iceberg

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	iceberg "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/parquet-go/parquet-go"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

const testTopic = "events"

// fixture is a lakestream table written the way ingestd writes one: the
// schemas package's row (meta, user, Kafka and partition columns with
// their field IDs), the writer's files, table/hudi's commits.
type fixture struct {
	t        testing.TB
	ctx      context.Context
	bucket   objstore.Store
	table    *hudi.Table
	schema   *schemas.TableSchema
	location string
	dir      string
	rng      *rand.Rand
	offsets  map[int32]int64
	cp       int64
}

// newFixture makes an empty table on storage "filesystem" or "s3"
// (versitygw).
func newFixture(t testing.TB, storage string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, dir: t.TempDir(), rng: rand.New(rand.NewPCG(1, 2)), offsets: map[int32]int64{}}
	switch storage {
	case "filesystem":
		root := filepath.Join(f.dir, "warehouse", "events")
		fs, err := objstore.NewFilesystem(root)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		f.bucket = fs
		loc, err := TableLocation(root)
		if err != nil {
			t.Fatal(err)
		}
		f.location = loc
	case "s3":
		srv := s3test.Start(t)
		f.bucket = srv.NewBucket(t, "warehouse/events")
		f.location = "s3://" + srv.Bucket + "/warehouse/events"
	default:
		t.Fatalf("storage %q", storage)
	}
	var err error
	f.schema = testSchema(t, false)
	f.table, err = hudi.Create(ctx, f.bucket, hudi.Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"},
		PartitionFields: []string{"dt", "hr"}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) publisher(opts ...Option) *Publisher {
	f.t.Helper()
	p, err := New(f.table, f.location, opts...)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// event is one row of the test table.
type event struct {
	userID    int64
	url       *string
	amount    *int64 // cents
	score     *float64
	eventTime time.Time
	partition int32
	offset    int64
}

// partitionPath is the Hudi partition of t ("" = the default partition:
// null dt and hr).
func partitionPath(t time.Time, null bool) string {
	if null {
		return "dt=__HIVE_DEFAULT_PARTITION__/hr=__HIVE_DEFAULT_PARTITION__"
	}
	return t.UTC().Format("dt=2006-01-02/hr=15")
}

func partitionColumnValues(path string) ([][]byte, error) {
	var out [][]byte
	for _, seg := range strings.Split(path, "/") {
		_, v, _ := strings.Cut(seg, "=")
		if v == "__HIVE_DEFAULT_PARTITION__" {
			out = append(out, nil)
		} else {
			out = append(out, []byte(v))
		}
	}
	return out, nil
}

// events makes n events over hours, some with nulls, some (nullPart) in
// the default partition.
func (f *fixture) events(n int, base time.Time, hours int) map[string][]event {
	out := map[string][]event{}
	for range n {
		p := int32(f.rng.IntN(3))
		e := event{userID: f.rng.Int64N(1000) - 500, eventTime: base.Add(time.Duration(f.rng.IntN(hours*3600)) * time.Second).Add(time.Duration(f.rng.IntN(1000)) * time.Microsecond),
			partition: p, offset: f.offsets[p]}
		f.offsets[p]++
		if f.rng.IntN(4) > 0 {
			u := fmt.Sprintf("https://example.com/%d", f.rng.IntN(100000))
			e.url = &u
		}
		if f.rng.IntN(3) > 0 {
			a := f.rng.Int64N(2_000_000) - 1_000_000
			e.amount = &a
		}
		if f.rng.IntN(3) > 0 {
			s := f.rng.Float64()*200 - 100
			e.score = &s
		}
		part := partitionPath(e.eventTime, f.rng.IntN(20) == 0)
		out[part] = append(out[part], e)
	}
	return out
}

// row renders e as the table's parquet.Row.
func (f *fixture) row(e event) parquet.Row {
	ps := f.schema.Parquet()
	cols := f.schema.Columns()
	row := make(parquet.Row, len(cols))
	for i, path := range cols {
		leaf, ok := ps.Lookup(path...)
		if !ok {
			f.t.Fatalf("column %v", path)
		}
		var v parquet.Value
		null := false
		switch path[0] {
		case "_hoodie_record_key":
			v = parquet.ByteArrayValue([]byte(fmt.Sprintf("%s-%d-%d", testTopic, e.partition, e.offset)))
		case "userId":
			v = parquet.Int64Value(e.userID)
		case "url":
			if null = e.url == nil; !null {
				v = parquet.ByteArrayValue([]byte(*e.url))
			}
		case "amount":
			if null = e.amount == nil; !null {
				v = parquet.Int64Value(*e.amount)
			}
		case "score":
			if null = e.score == nil; !null {
				v = parquet.DoubleValue(*e.score)
			}
		case "eventTime", "_kafka_timestamp":
			v = parquet.Int64Value(e.eventTime.UnixMicro())
		case "_kafka_partition":
			v = parquet.Int32Value(e.partition)
		case "_kafka_offset":
			v = parquet.Int64Value(e.offset)
		default: // meta and partition columns the writer fills
			null = true
		}
		if null {
			row[i] = parquet.NullValue().Level(0, 0, i)
		} else {
			row[i] = v.Level(0, leaf.MaxDefinitionLevel, i)
		}
	}
	return row
}

func (f *fixture) newSet() *writer.Set {
	f.t.Helper()
	set, err := writer.NewSet(f.bucket, f.schema.Parquet(), 0, writer.WithSpoolDir(f.t.TempDir()),
		writer.WithPartitionColumns([]string{"dt", "hr"}, partitionColumnValues))
	if err != nil {
		f.t.Fatal(err)
	}
	return set
}

// commit writes the events in one commit with a checkpoint and returns its
// instant.
func (f *fixture) commit(byPart map[string][]event) string {
	f.t.Helper()
	x, err := f.table.Begin(f.ctx, hudi.BeginOptions{WriterID: "test-0"})
	if err != nil {
		f.t.Fatal(err)
	}
	defer x.Close()
	f.cp++
	set := f.newSet()
	if err := set.Begin(x.Instant(), f.cp); err != nil {
		f.t.Fatal(err)
	}
	parts := make([]string, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	for _, p := range parts {
		for _, e := range byPart[p] {
			if err := set.Write(f.ctx, p, f.row(e), e.eventTime.UnixMicro()); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	files, err := set.Finish(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	req := hudi.CommitRequest{Checkpoint: &hudi.Checkpoint{ID: f.cp, Offsets: hudi.Offsets{Topic: testTopic, Next: f.offsetsCopy()}}}
	for _, fl := range files {
		req.Files = append(req.Files, fl.Stat())
	}
	if _, err := x.Commit(f.ctx, req); err != nil {
		f.t.Fatal(err)
	}
	return x.Instant()
}

func (f *fixture) offsetsCopy() map[int32]int64 {
	m := map[int32]int64{}
	for p, o := range f.offsets {
		m[p] = o
	}
	return m
}

// replace rewrites every file group of partition into one new file group
// with a replacecommit, as the compactor will, and returns its instant.
func (f *fixture) replace(partition string) string {
	f.t.Helper()
	return replaceFileGroups(f.t, f.ctx, f.table, f.schema.Parquet(), []string{"dt", "hr"}, partition)
}

// replaceFileGroups rewrites every file group of partition of table into
// one new file group of the same rows with a replacecommit (the
// compactor's job, by hand): writer.Set writes the file, table/hudi commits
// it with CommitRequest.Replaced.
func replaceFileGroups(t testing.TB, ctx context.Context, tbl *hudi.Table, schema *parquet.Schema, partCols []string, partition string) string {
	t.Helper()
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	x, err := tbl.Begin(ctx, hudi.BeginOptions{WriterID: "compactor", Action: hudi.ActionReplaceCommit})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	set, err := writer.NewSet(tbl.Bucket(), schema, 0, writer.WithSpoolDir(t.TempDir()),
		writer.WithPartitionColumns(partCols, partitionColumnValues))
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Begin(x.Instant(), 0); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, bf := range snap.Files {
		if bf.Partition != partition {
			continue
		}
		ids = append(ids, bf.FileID)
		for _, r := range readRows(t, ctx, tbl.Bucket(), bf.Path) {
			if err := set.Write(ctx, partition, r, writer.NoEventTime); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(ids) < 2 {
		t.Fatalf("partition %s has %d file groups: nothing to compact", partition, len(ids))
	}
	files, err := set.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := hudi.CommitRequest{Replaced: map[string][]string{partition: ids}}
	for _, fl := range files {
		req.Files = append(req.Files, fl.Stat())
	}
	if _, err := x.Commit(ctx, req); err != nil {
		t.Fatal(err)
	}
	return x.Instant()
}

func openParquet(t testing.TB, ctx context.Context, b objstore.Store, key string) *parquet.File {
	t.Helper()
	data, err := objstore.ReadAll(ctx, b, key)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(strings.NewReader(string(data)), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

func readRows(t testing.TB, ctx context.Context, b objstore.Store, key string) []parquet.Row {
	t.Helper()
	pf := openParquet(t, ctx, b, key)
	var out []parquet.Row
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				out = append(out, r.Clone())
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
	}
	return out
}

// A column compared between the Hudi snapshot (DuckDB) and the Iceberg
// scan (iceberg-go): its DuckDB expression rendered as text.
type column struct {
	name string
	sql  string // DuckDB expression yielding VARCHAR
}

func textCol(name string) column { return column{name, "CAST(" + name + " AS VARCHAR)"} }
func tsCol(name string) column   { return column{name, "CAST(epoch_us(" + name + ") AS VARCHAR)"} }
func centsCol(name string) column {
	return column{name, "CAST(CAST(" + name + " * 100 AS BIGINT) AS VARCHAR)"}
}

// digest is an order-independent summary of a set of rows.
type digest struct {
	rows int64
	sum  uint64
	xor  uint64
}

func (d *digest) add(fields []string) {
	h := fnv.New64a()
	h.Write([]byte(strings.Join(fields, "\x1f")))
	v := h.Sum64()
	d.rows++
	d.sum += v
	d.xor ^= v * 0x9e3779b97f4a7c15
}

const nullText = "\\N"

// hudiDigest reads the Hudi snapshot with DuckDB.
func hudiDigest(t testing.TB, ctx context.Context, b objstore.Store, dir string, cols []column) digest {
	t.Helper()
	db, _, err := harness.DuckDB(ctx, b, filepath.Join(dir, fmt.Sprint(time.Now().UnixNano())), "hudi")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = "COALESCE(" + c.sql + ", '" + nullText + "')"
	}
	rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM hudi")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var d digest
	vals := make([]string, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		d.add(vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

// icebergDigest scans the newest Iceberg snapshot with iceberg-go.
func icebergDigest(t testing.TB, ctx context.Context, p *Publisher, cols []column) digest {
	t.Helper()
	tbl, err := p.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tbl == nil {
		t.Fatal("no iceberg table")
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	_, batches, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var d digest
	for rec, err := range batches {
		if err != nil {
			t.Fatal(err)
		}
		idx := make([]int, len(cols))
		for i, n := range names {
			js := rec.Schema().FieldIndices(n)
			if len(js) != 1 {
				t.Fatalf("iceberg scan has no column %s: %s", n, rec.Schema())
			}
			idx[i] = js[0]
		}
		vals := make([]string, len(cols))
		for r := 0; r < int(rec.NumRows()); r++ {
			for i, j := range idx {
				vals[i] = arrowText(t, rec.Column(j), r)
			}
			d.add(vals)
		}
		rec.Release()
	}
	return d
}

func arrowText(t testing.TB, a arrow.Array, i int) string {
	if a.IsNull(i) {
		return nullText
	}
	switch c := a.(type) {
	case *array.String:
		return c.Value(i)
	case *array.LargeString:
		return c.Value(i)
	case *array.Int32:
		return fmt.Sprint(c.Value(i))
	case *array.Int64:
		return fmt.Sprint(c.Value(i))
	case *array.Timestamp:
		unit := c.DataType().(*arrow.TimestampType).Unit
		v := int64(c.Value(i))
		switch unit {
		case arrow.Millisecond:
			v *= 1000
		case arrow.Nanosecond:
			v /= 1000
		}
		return fmt.Sprint(v)
	case *array.Decimal128:
		return fmt.Sprint(int64(c.Value(i).LowBits()))
	}
	t.Fatalf("arrow type %s", a.DataType())
	return ""
}

var testColumns = []column{
	textCol("_hoodie_commit_time"), textCol("_hoodie_record_key"), textCol("_hoodie_file_name"),
	textCol("_hoodie_partition_path"), textCol("_kafka_partition"), textCol("_kafka_offset"), tsCol("_kafka_timestamp"),
	textCol("userId"), textCol("url"), centsCol("amount"), tsCol("eventTime"), textCol("dt"), textCol("hr"),
}

// checkSame fails unless iceberg-go's scan of the Iceberg table returns
// exactly the rows DuckDB reads from the Hudi snapshot.
func (f *fixture) checkSame(p *Publisher, cols []column) digest {
	f.t.Helper()
	h := hudiDigest(f.t, f.ctx, f.bucket, f.dir, cols)
	i := icebergDigest(f.t, f.ctx, p, cols)
	if h != i {
		f.t.Fatalf("iceberg scan %+v, hudi snapshot %+v", i, h)
	}
	return h
}

// published returns the Hudi instant of every snapshot of the newest
// metadata, in snapshot order.
func published(t *testing.T, ctx context.Context, p *Publisher) []string {
	t.Helper()
	tbl, err := p.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tbl == nil {
		return nil
	}
	var out []string
	for _, s := range tbl.Metadata().Snapshots() {
		out = append(out, s.Summary.Properties[SummaryInstant])
	}
	return out
}

// completed returns the completed data instants of the active timeline.
func (f *fixture) completed() []string {
	f.t.Helper()
	tl, err := f.table.Timeline(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, e := range tl.Completed() {
		out = append(out, e.Time)
	}
	return out
}

var _ = sql.ErrNoRows

func harnessDuckDB(t *testing.T, f *fixture) (*sql.DB, []hudi.BaseFile, error) {
	return harness.DuckDB(f.ctx, f.bucket, filepath.Join(f.dir, fmt.Sprint(time.Now().UnixNano())), "hudi")
}

// checkReferencedExist fails if a snapshot of the newest metadata
// references a data file, manifest or manifest list that is not there.
func checkReferencedExist(t *testing.T, f *fixture, p *Publisher) {
	t.Helper()
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := p.newSession(f.ctx)
	exists := func(path string) {
		key, err := s.io.key("stat", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.bucket.Stat(f.ctx, key); err != nil {
			t.Fatalf("a retained snapshot references %s: %v", key, err)
		}
	}
	for _, sn := range tbl.Metadata().Snapshots() {
		exists(sn.ManifestList)
		mfs, err := sn.Manifests(s.io)
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			exists(mf.FilePath())
			entries, err := mf.FetchEntries(s.io, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				exists(e.DataFile().FilePath())
			}
		}
	}
}

// plan reads p's state and the instants it would publish, as a round of
// CatchUp does, and checks that there are want of them.
func plan(t testing.TB, f *fixture, p *Publisher, want int) (*session, *state, []pendingInstant) {
	t.Helper()
	s := p.newSession(f.ctx)
	st, err := s.state()
	if err != nil {
		t.Fatal(err)
	}
	todo, err := p.unpublished(f.ctx, st)
	if err != nil || len(todo) != want {
		t.Fatalf("planned %d instants, err %v; want %d", len(todo), err, want)
	}
	return s, st, todo
}

// testSchema is the fixture's table schema; userIDOptional makes userId
// optional (another schema with the same field IDs).
func testSchema(t testing.TB, userIDOptional bool) *schemas.TableSchema {
	t.Helper()
	opt := func(b bool) *bool { return &b }
	user, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{
		{Name: "userId", Type: "int64", Optional: opt(userIDOptional)},
		{Name: "url", Type: "string"},
		{Name: "amount", Type: "decimal(10,2)"},
		{Name: "score", Type: "float64"},
		{Name: "eventTime", Type: "timestamp", Optional: opt(false)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := schemas.NewTableSchema(user, schemas.TableOptions{EventTimeField: "eventTime", PartitionColumns: []string{"dt", "hr"}})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// currentManifests returns the manifests the current snapshot of p's
// table lists, and the table.
func currentManifests(t testing.TB, f *fixture, p *Publisher) ([]iceberg.ManifestFile, *table.Table) {
	t.Helper()
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := tbl.CurrentSnapshot().Manifests(p.newSession(f.ctx).io)
	if err != nil {
		t.Fatal(err)
	}
	return mfs, tbl
}
