package hudi

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/hudifixtures"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/parquet-go/parquet-go"
)

type checkRow struct {
	ID   int64  `parquet:"id"`
	Name string `parquet:"name"`
}

// parquetRows is a Parquet file of n rows, in row groups of at most
// perGroup rows.
func parquetRows(t testing.TB, n, perGroup int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[checkRow](&buf)
	for i := 0; i < n; i++ {
		if _, err := w.Write([]checkRow{{ID: int64(i), Name: strings.Repeat("x", i%7)}}); err != nil {
			t.Fatal(err)
		}
		if (i+1)%perGroup == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type checkTable struct {
	t     *testing.T
	ctx   context.Context
	b     objstore.Store
	tbl   *Table
	files []string // in commit order
}

func newCheckTable(t *testing.T) *checkTable {
	ctx := context.Background()
	b := objstore.NewMemory()
	t.Cleanup(func() { b.Close() })
	tbl, err := Create(ctx, b, Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}})
	if err != nil {
		t.Fatal(err)
	}
	return &checkTable{t: t, ctx: ctx, b: b, tbl: tbl}
}

// commit writes a file of rows rows to partition and commits it, recording
// recorded rows.
func (c *checkTable) commit(partition string, rows, recorded int) string {
	c.t.Helper()
	x, err := c.tbl.Begin(c.ctx, BeginOptions{WriterID: "w0"})
	if err != nil {
		c.t.Fatal(err)
	}
	defer x.Close()
	path := BaseFilePath(partition, BaseFileName(NewFileID(), WriteToken(0, 1, 0), x.Instant()))
	if err := c.b.Put(c.ctx, path, bytes.NewReader(parquetRows(c.t, rows, 100))); err != nil {
		c.t.Fatal(err)
	}
	if _, err := x.Commit(c.ctx, CommitRequest{Files: []FileStat{{Path: path, NumRecords: int64(recorded)}}}); err != nil {
		c.t.Fatal(err)
	}
	c.files = append(c.files, path)
	return path
}

func (c *checkTable) check(opts CheckOptions) *CheckReport {
	c.t.Helper()
	rep, err := c.tbl.Check(c.ctx, opts)
	if err != nil {
		c.t.Fatal(err)
	}
	return rep
}

// wantProblems checks the report lists exactly these path/kind pairs.
func wantProblems(t *testing.T, rep *CheckReport, want ...string) {
	t.Helper()
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.Path+" "+p.Kind)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%v\nwant:\n%v\nreport: %+v", strings.Join(got, "\n"), strings.Join(want, "\n"), rep.Problems)
	}
}

func TestCheckCleanTable(t *testing.T) {
	c := newCheckTable(t)
	c.commit("dt=2026-01-01", 300, 300)
	c.commit("dt=2026-01-02", 250, 250)
	rep := c.check(CheckOptions{Footers: true, Archived: true})
	wantProblems(t, rep)
	if rep.Files != 2 || rep.Rows != 550 || rep.FootersRead != 2 || len(rep.Snapshot.Files) != 2 || len(rep.Unverified) != 0 {
		t.Fatalf("report %+v, want 2 files, 550 rows, 2 footers", rep)
	}
}

// TestCheckMissingFile: a deleted committed file vanishes from the
// snapshot without a word; Check reports it.
func TestCheckMissingFile(t *testing.T) {
	c := newCheckTable(t)
	c.commit("dt=2026-01-01", 300, 300)
	gone := c.commit("dt=2026-01-01", 300, 300)
	if err := c.b.Delete(c.ctx, gone); err != nil {
		t.Fatal(err)
	}
	snap, err := c.tbl.Snapshot(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Files) != 1 {
		t.Fatalf("snapshot %v", snap.Files)
	}
	for _, opts := range []CheckOptions{{}, {Footers: true, Archived: true}} {
		rep := c.check(opts)
		wantProblems(t, rep, gone+" "+ProblemMissing)
		if !strings.Contains(rep.Problems[0].Detail, "300 rows") {
			t.Errorf("detail %q does not say how many rows are gone", rep.Problems[0].Detail)
		}
	}
}

func TestCheckTruncatedFile(t *testing.T) {
	c := newCheckTable(t)
	f := c.commit("dt=2026-01-01", 300, 300)
	data, err := objstore.ReadAll(c.ctx, c.b, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.b.Put(c.ctx, f, bytes.NewReader(data[:len(data)-100])); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, c.check(CheckOptions{}), f+" "+ProblemSize)
	wantProblems(t, c.check(CheckOptions{Footers: true}), f+" "+ProblemSize, f+" "+ProblemUnreadable)
}

// TestCheckRowCount: a file rewritten with other rows, and a commit that
// recorded another count than its file holds.
func TestCheckRowCount(t *testing.T) {
	c := newCheckTable(t)
	rewritten := c.commit("dt=2026-01-01", 300, 300)
	if err := c.b.Put(c.ctx, rewritten, bytes.NewReader(parquetRows(t, 200, 100))); err != nil {
		t.Fatal(err)
	}
	wrong := c.commit("dt=2026-01-02", 300, 301)
	wantProblems(t, c.check(CheckOptions{}), rewritten+" "+ProblemSize)
	rep := c.check(CheckOptions{Footers: true})
	wantProblems(t, rep, rewritten+" "+ProblemRows, rewritten+" "+ProblemSize, wrong+" "+ProblemRows)
	if d := rep.Problems[0].Detail; !strings.Contains(d, "200 rows") || !strings.Contains(d, "300") {
		t.Errorf("detail %q", d)
	}
}

// TestCheckHiddenPartition: a partition that lost its partition metadata
// hides its files from readers.
func TestCheckHiddenPartition(t *testing.T) {
	c := newCheckTable(t)
	f := c.commit("dt=2026-01-01", 10, 10)
	if err := c.b.Delete(c.ctx, "dt=2026-01-01/"+PartitionMetadataFile); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, c.check(CheckOptions{Footers: true}), f+" "+ProblemHidden)
}

// TestCheckArchived: files of archived instants are checked from the
// archive; replaced file groups are not expected.
func TestCheckArchived(t *testing.T) {
	c := newCheckTable(t)
	for range 4 {
		c.commit("dt=2026-01-01", 10, 10)
	}
	// A replacecommit retires the first file group and writes a new one.
	part, name := splitTablePath(c.files[0])
	retired, _, _, _ := ParseBaseFileName(name)
	x, err := c.tbl.Begin(c.ctx, BeginOptions{WriterID: "w0", Action: ActionReplaceCommit})
	if err != nil {
		t.Fatal(err)
	}
	merged := BaseFilePath(part, BaseFileName(NewFileID(), WriteToken(0, 2, 0), x.Instant()))
	if err := c.b.Put(c.ctx, merged, bytes.NewReader(parquetRows(t, 10, 100))); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Commit(c.ctx, CommitRequest{Files: []FileStat{{Path: merged, NumRecords: 10}}, Replaced: map[string][]string{part: {retired}}}); err != nil {
		t.Fatal(err)
	}
	x.Close()
	c.commit("dt=2026-01-02", 10, 10)
	if _, err := c.tbl.Archive(c.ctx, ArchiveOptions{KeepCompleted: 2}); err != nil {
		t.Fatal(err)
	}
	rep := c.check(CheckOptions{Archived: true, Footers: true})
	wantProblems(t, rep)
	if rep.Files != 5 || len(rep.Unverified) != 0 {
		t.Fatalf("report %+v, want 5 files, all verified", rep)
	}
	// Without the archive, the archived instants' files are unverified.
	if rep := c.check(CheckOptions{}); rep.Files != 2 || len(rep.Unverified) != 3 {
		t.Fatalf("active timeline only: %+v, want 2 files checked, 3 unverified", rep)
	}
	gone := c.files[1] // archived
	if err := c.b.Delete(c.ctx, gone); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, c.check(CheckOptions{Archived: true}), gone+" "+ProblemMissing)
}

// TestCheckFixtures: the tables Spark wrote check clean, footers included.
func TestCheckFixtures(t *testing.T) {
	for _, name := range hudifixtures.Names {
		t.Run(name, func(t *testing.T) {
			root := hudifixtures.Unpack(t, name)
			b, err := objstore.NewFilesystem(root)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			tbl, err := Open(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := tbl.Check(context.Background(), CheckOptions{Archived: true, Footers: true})
			if err != nil {
				t.Fatal(err)
			}
			wantProblems(t, rep)
			if len(rep.Unverified) != 0 || rep.FootersRead != len(rep.Snapshot.Files) {
				t.Errorf("read %d footers for %d files (%d unverified)", rep.FootersRead, len(rep.Snapshot.Files), len(rep.Unverified))
			}
			// Delete every file of the snapshot that a commit records.
			n := 0
			for _, f := range rep.Snapshot.Files {
				if !contains(rep.Unverified, f.Path) {
					os.Remove(filepath.Join(root, f.Path))
					n++
				}
			}
			if rep, err = tbl.Check(context.Background(), CheckOptions{}); err != nil || len(rep.Problems) != n {
				t.Fatalf("after deleting %d files: %v, %+v", n, err, rep)
			}
		})
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestFooterRowsMatchesParquetGo: the footer walk reads the row count
// parquet-go reads, over several row groups.
func TestFooterRowsMatchesParquetGo(t *testing.T) {
	for _, n := range []int{0, 1, 99, 100, 1001} {
		data := parquetRows(t, n, 100)
		b := objstore.NewMemory()
		if err := b.Put(context.Background(), "f.parquet", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		rows, err := ReadFooterRows(context.Background(), b, "f.parquet", int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if rows != pf.NumRows() || rows != int64(n) {
			t.Errorf("%d rows: footer walk %d, parquet-go %d", n, rows, pf.NumRows())
		}
		b.Close()
	}
}

// TestFooterRowsRefusesDamage: truncated, foreign and hostile files are
// errors, and a footer claiming a huge list allocates nothing.
func TestFooterRowsRefusesDamage(t *testing.T) {
	good := parquetRows(t, 300, 100)
	footerLen := int(binary.LittleEndian.Uint32(good[len(good)-8:]))
	withFooter := func(footer []byte) []byte {
		out := append([]byte("PAR1"), footer...)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
		return append(out, "PAR1"...)
	}
	cases := map[string][]byte{
		"truncated":           good[:len(good)-1],
		"truncated in half":   good[:len(good)/2],
		"no head magic":       append([]byte("XXXX"), good[4:]...),
		"tiny":                []byte("PAR1PAR1"),
		"footer too long":     append(append([]byte{}, good[:len(good)-8]...), 0xff, 0xff, 0xff, 0x0f, 'P', 'A', 'R', '1'),
		"garbage footer":      withFooter(bytes.Repeat([]byte{0xff}, 64)),
		"empty struct":        withFooter([]byte{0}),
		"huge list":           withFooter([]byte{0x49, 0xfc, 0xff, 0xff, 0xff, 0x07, 0}), // field 4: list of 2^31-1 structs
		"deep nesting":        withFooter(append(bytes.Repeat([]byte{0x1c}, 100), 0)),
		"trailing bytes":      withFooter(append(append([]byte{}, good[len(good)-8-footerLen:len(good)-8]...), 0)),
		"row groups disagree": withFooter([]byte{0x36, 0x0a, 0x19, 0x1c, 0x36, 0x08, 0x00, 0x00}), // num_rows 5; one group of 4
	}
	for name, data := range cases {
		b := objstore.NewMemory()
		if err := b.Put(context.Background(), "f", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if rows, err := ReadFooterRows(context.Background(), b, "f", int64(len(data))); err == nil {
			t.Errorf("%s: %d rows, no error", name, rows)
		}
		b.Close()
	}
	// The same bytes with the groups agreeing are read.
	ok := withFooter([]byte{0x36, 0x0a, 0x19, 0x1c, 0x36, 0x0a, 0x00, 0x00})
	if rows, err := footerRows(ok[4 : len(ok)-8]); err != nil || rows != 5 {
		t.Fatalf("hand-made footer: %d, %v", rows, err)
	}
}

func FuzzFooterRows(f *testing.F) {
	good := parquetRows(f, 300, 100)
	n := int(binary.LittleEndian.Uint32(good[len(good)-8:]))
	f.Add(good[len(good)-8-n : len(good)-8])
	f.Add([]byte{0x36, 0x0a, 0x19, 0x1c, 0x36, 0x0a, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, footer []byte) {
		footerRows(footer) // must not panic or hang
	})
}

// TestFooterRowsRandom: random footers never panic.
func TestFooterRowsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	good := parquetRows(t, 300, 100)
	n := int(binary.LittleEndian.Uint32(good[len(good)-8:]))
	footer := good[len(good)-8-n : len(good)-8]
	for range 20000 {
		f := append([]byte{}, footer...)
		for range 1 + r.IntN(4) {
			f[r.IntN(len(f))] = byte(r.Uint32())
		}
		footerRows(f[:r.IntN(len(f)+1)])
	}
}
