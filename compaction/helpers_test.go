package compaction

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

const testTopic = "events"

// fixture is a table written the way ingestd writes one: the schemas
// package's row, the writer's files, table/hudi's commits.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	bucket objstore.Store
	table  *hudi.Table
	schema *schemas.TableSchema
	dir    string
	// location is the table's Iceberg location.
	location string
	rng      *rand.Rand
	offsets  map[int32]int64
	cp       int64
}

func newFixture(t *testing.T, storage string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, dir: t.TempDir(), rng: rand.New(rand.NewPCG(1, 2)), offsets: map[int32]int64{}}
	switch storage {
	case "filesystem":
		fs, err := objstore.NewFilesystem(filepath.Join(f.dir, "warehouse", "events"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		f.bucket = fs
		loc, err := iceberg.TableLocation(filepath.Join(f.dir, "warehouse", "events"))
		if err != nil {
			t.Fatal(err)
		}
		f.location = loc
	case "s3":
		srv := s3test.Start(t)
		b := srv.NewBucket(t, "warehouse/events")
		t.Cleanup(func() { b.Close() })
		f.bucket = b
		f.location = "s3://" + srv.Bucket + "/warehouse/events"
	default:
		t.Fatalf("storage %q", storage)
	}
	opt := func(b bool) *bool { return &b }
	user, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{
		{Name: "userId", Type: "int64", Optional: opt(false)},
		{Name: "url", Type: "string"},
		{Name: "score", Type: "float64"},
		{Name: "eventTime", Type: "timestamp", Optional: opt(false)},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.schema, err = schemas.NewTableSchema(user, schemas.TableOptions{EventTimeField: "eventTime", PartitionColumns: []string{"dt", "hr"}})
	if err != nil {
		t.Fatal(err)
	}
	f.table = f.open()
	return f
}

// open opens the table again, as another process would.
func (f *fixture) open(opts ...hudi.Option) *hudi.Table {
	f.t.Helper()
	tbl, err := hudi.Create(f.ctx, f.bucket, hudi.Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"},
		PartitionFields: []string{"dt", "hr"}}, opts...)
	if err != nil {
		f.t.Fatal(err)
	}
	return tbl
}

func partitionColumnValues(path string) ([][]byte, error) {
	var out [][]byte
	for _, seg := range strings.Split(path, "/") {
		_, v, _ := strings.Cut(seg, "=")
		out = append(out, []byte(v))
	}
	return out, nil
}

var base = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func partitionOf(hour int) string {
	return base.Add(time.Duration(hour) * time.Hour).Format("dt=2006-01-02/hr=15")
}

// commit writes n rows to each partition (hours after base) in one commit,
// as one ingest checkpoint does: a new file group per partition.
func (f *fixture) commit(n int, hours ...int) string {
	f.t.Helper()
	return f.commitWith(nil, n, hours...)
}

// commitWith is commit with writer options.
func (f *fixture) commitWith(wopts []writer.Option, n int, hours ...int) string {
	f.t.Helper()
	x, err := f.table.Begin(f.ctx, hudi.BeginOptions{WriterID: "ingest-0"})
	if err != nil {
		f.t.Fatal(err)
	}
	defer x.Close()
	f.cp++
	set, err := writer.NewSet(f.bucket, f.schema.Parquet(), 0, append([]writer.Option{writer.WithSpoolDir(f.t.TempDir()),
		writer.WithPartitionColumns([]string{"dt", "hr"}, partitionColumnValues)}, wopts...)...)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := set.Begin(x.Instant(), f.cp); err != nil {
		f.t.Fatal(err)
	}
	for _, h := range hours {
		for range n {
			p := int32(f.rng.IntN(3))
			ts := base.Add(time.Duration(h)*time.Hour + time.Duration(f.rng.IntN(3600))*time.Second)
			if err := set.Write(f.ctx, partitionOf(h), f.row(p, f.offsets[p], ts), ts.UnixMicro()); err != nil {
				f.t.Fatal(err)
			}
			f.offsets[p]++
		}
	}
	files, err := set.Finish(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	req := hudi.CommitRequest{Checkpoint: &hudi.Checkpoint{ID: f.cp, Offsets: hudi.Offsets{Topic: testTopic, Next: maps.Clone(f.offsets)}}}
	for _, fl := range files {
		req.Files = append(req.Files, fl.Stat())
	}
	if _, err := x.Commit(f.ctx, req); err != nil {
		f.t.Fatal(err)
	}
	return x.Instant()
}

func (f *fixture) row(part int32, offset int64, ts time.Time) parquet.Row {
	ps := f.schema.Parquet()
	cols := f.schema.Columns()
	row := make(parquet.Row, len(cols))
	for i, path := range cols {
		leaf, _ := ps.Lookup(path...)
		var v parquet.Value
		null := false
		switch path[0] {
		case "_hoodie_record_key":
			v = parquet.ByteArrayValue(fmt.Appendf(nil, "%s-%d-%d", testTopic, part, offset))
		case "userId":
			v = parquet.Int64Value(f.rng.Int64N(1000))
		case "url":
			if null = f.rng.IntN(4) == 0; !null {
				v = parquet.ByteArrayValue(fmt.Appendf(nil, "https://example.com/%d", f.rng.IntN(500)))
			}
		case "score":
			if null = f.rng.IntN(3) == 0; !null {
				v = parquet.DoubleValue(f.rng.Float64())
			}
		case "eventTime", "_kafka_timestamp":
			v = parquet.Int64Value(ts.UnixMicro())
		case "_kafka_partition":
			v = parquet.Int32Value(part)
		case "_kafka_offset":
			v = parquet.Int64Value(offset)
		default:
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

// rows is the snapshot's multiset of rows as DuckDB reads them, every
// column but _hoodie_file_name (the only one a compaction changes), each
// row rendered as text, with its count.
func (f *fixture) rows() map[string]int {
	f.t.Helper()
	db, files, err := harness.DuckDB(f.ctx, f.bucket, filepath.Join(f.dir, fmt.Sprint(time.Now().UnixNano())), "hudi")
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	out := map[string]int{}
	if len(files) == 0 {
		return out
	}
	q := "SELECT CAST(t AS VARCHAR), count(*) FROM (SELECT * EXCLUDE (_hoodie_file_name) FROM hudi) t GROUP BY ALL"
	rs, err := db.QueryContext(f.ctx, q)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var s string
		var n int
		if err := rs.Scan(&s, &n); err != nil {
			f.t.Fatal(err)
		}
		out[s] = n
	}
	if err := rs.Err(); err != nil {
		f.t.Fatal(err)
	}
	f.checkFileNames(db, files)
	return out
}

// checkFileNames: every row's _hoodie_file_name names its file (tables
// on the filesystem, whose files DuckDB reads where they are).
func (f *fixture) checkFileNames(db *sql.DB, files []hudi.BaseFile) {
	f.t.Helper()
	fs, ok := f.bucket.(*objstore.Filesystem)
	if !ok {
		return
	}
	var paths []string
	for _, bf := range files {
		paths = append(paths, "'"+filepath.Join(fs.Root(), bf.Path)+"'")
	}
	var bad int
	q := "SELECT count(*) FROM read_parquet([" + strings.Join(paths, ",") + "], filename = true) WHERE _hoodie_file_name != regexp_extract(filename, '[^/]+$')"
	if err := db.QueryRowContext(f.ctx, q).Scan(&bad); err != nil {
		f.t.Fatal(err)
	}
	if bad != 0 {
		f.t.Fatalf("%d rows whose _hoodie_file_name is not their file's name", bad)
	}
}

func sameRows(t *testing.T, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d distinct rows, want %d", len(got), len(want))
	}
	for r, n := range want {
		if got[r] != n {
			t.Fatalf("row %s: %d times, want %d", r, got[r], n)
		}
	}
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// snapshot returns the snapshot's files by partition.
func (f *fixture) snapshot() map[string][]hudi.BaseFile {
	f.t.Helper()
	snap, err := f.table.Snapshot(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string][]hudi.BaseFile{}
	for _, bf := range snap.Files {
		out[bf.Partition] = append(out[bf.Partition], bf)
	}
	return out
}

// baseFiles lists every base file on the store, sorted.
func (f *fixture) baseFiles() []string {
	f.t.Helper()
	var out []string
	err := f.bucket.List(f.ctx, "", func(info objstore.ObjectInfo) error {
		if strings.HasPrefix(info.Key, hudi.MetaDir+"/") {
			return nil
		}
		if _, _, _, ok := hudi.ParseBaseFileName(filepath.Base(info.Key)); ok {
			out = append(out, info.Key)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func (f *fixture) compactor(tbl *hudi.Table, opts ...Option) *Compactor {
	f.t.Helper()
	c, err := New(tbl, append([]Option{TempDir(f.t.TempDir()), SmallFileBytes(1 << 20), TargetFileBytes(4 << 20)}, opts...)...)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}
