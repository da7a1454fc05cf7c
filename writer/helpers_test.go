package writer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// orderedGroup is a group whose fields keep the order they were given in
// (parquet.Group orders them by name), as the schemas package builds them.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g orderedGroup) Fields() []parquet.Field { return g.fields }

type namedNode struct {
	name string
	node parquet.Node
}

func newOrderedGroup(nodes ...namedNode) orderedGroup {
	g := parquet.Group{}
	for _, n := range nodes {
		g[n.name] = n.node
	}
	byName := map[string]parquet.Field{}
	for _, f := range g.Fields() {
		byName[f.Name()] = f
	}
	og := orderedGroup{Group: g}
	for _, n := range nodes {
		og.fields = append(og.fields, byName[n.name])
	}
	return og
}

// Column indexes of the test schema.
const (
	colUserID    = 5
	colSession   = 6
	colURL       = 7
	colReferrer  = 8
	colEventTime = 9
	numTestCols  = 10
)

// testSchema: the five meta columns, then userId (int64), sessionNumber
// (int32), url (string), referrer (optional string) and eventTime
// (timestamp micros), with field IDs 1..10.
func testSchema() *parquet.Schema {
	return parquet.NewSchema("pageview", newOrderedGroup(withMetaColumns(
		namedNode{"userId", parquet.FieldID(parquet.Int(64), 6)},
		namedNode{"sessionNumber", parquet.FieldID(parquet.Int(32), 7)},
		namedNode{"url", parquet.FieldID(parquet.String(), 8)},
		namedNode{"referrer", parquet.FieldID(parquet.Optional(parquet.String()), 9)},
		namedNode{"eventTime", parquet.FieldID(parquet.Timestamp(parquet.Microsecond), 10)},
	)...))
}

// withMetaColumns returns the five meta columns (optional strings, field
// IDs 1..5) followed by cols.
func withMetaColumns(cols ...namedNode) []namedNode {
	str := func(id int) parquet.Node { return parquet.FieldID(parquet.Optional(parquet.String()), id) }
	return append([]namedNode{
		{hudimeta.ColCommitTime, str(1)},
		{hudimeta.ColCommitSeqNo, str(2)},
		{hudimeta.ColRecordKey, str(3)},
		{hudimeta.ColPartitionPath, str(4)},
		{hudimeta.ColFileName, str(5)},
	}, cols...)
}

// rec is one row of the test schema, decoded.
type rec struct {
	commitTime, seqno, key, partitionPath, fileName string
	userID                                          int64
	session                                         int32
	url                                             string
	referrer                                        *string
	eventTime                                       int64
}

// makeRow builds a row of the test schema; the meta columns Write fills
// are nulls.
func makeRow(r rec) parquet.Row {
	null := func(c int) parquet.Value { return parquet.NullValue().Level(0, 0, c) }
	row := parquet.Row{
		null(0), null(1),
		parquet.ByteArrayValue([]byte(r.key)).Level(0, 1, 2),
		null(3), null(4),
		parquet.Int64Value(r.userID).Level(0, 0, colUserID),
		parquet.Int32Value(r.session).Level(0, 0, colSession),
		parquet.ByteArrayValue([]byte(r.url)).Level(0, 0, colURL),
		null(colReferrer),
		parquet.Int64Value(r.eventTime).Level(0, 0, colEventTime),
	}
	if r.referrer != nil {
		row[colReferrer] = parquet.ByteArrayValue([]byte(*r.referrer)).Level(0, 1, colReferrer)
	}
	return row
}

func testRec(i int) rec {
	r := rec{
		key:       fmt.Sprintf("key-%06d", i),
		userID:    int64(1000 + i%37),
		session:   int32(i % 5),
		url:       fmt.Sprintf("https://example.com/page/%d", i%101),
		eventTime: 1_700_000_000_000_000 + int64(i)*1000,
	}
	if i%3 == 0 {
		ref := fmt.Sprintf("https://ref.example/%d", i%7)
		r.referrer = &ref
	}
	return r
}

func str(v parquet.Value) string { return string(v.ByteArray()) }

// readFile reads a whole base file back.
func readFile(t *testing.T, b objstore.Store, key string) (*parquet.File, []rec) {
	t.Helper()
	data, err := objstore.ReadAll(context.Background(), b, key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	r := parquet.NewReader(f)
	defer r.Close()
	var recs []rec
	buf := make([]parquet.Row, 64)
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			if len(row) != numTestCols {
				t.Fatalf("%s: row has %d values", key, len(row))
			}
			x := rec{
				commitTime: str(row[0]), seqno: str(row[1]), key: str(row[2]),
				partitionPath: str(row[3]), fileName: str(row[4]),
				userID: row[colUserID].Int64(), session: row[colSession].Int32(),
				url: str(row[colURL]), eventTime: row[colEventTime].Int64(),
			}
			for c := range 5 {
				if row[c].IsNull() {
					t.Fatalf("%s: meta column %d is null", key, c)
				}
			}
			if !row[colReferrer].IsNull() {
				s := str(row[colReferrer])
				x.referrer = &s
			}
			recs = append(recs, x)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read rows of %s: %v", key, err)
		}
	}
	return f, recs
}

func newTestSet(t *testing.T, b objstore.Store, opts ...Option) *Set {
	t.Helper()
	opts = append([]Option{WithSpoolDir(t.TempDir())}, opts...)
	s, err := NewSet(b, testSchema(), 7, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// writeRec writes testRec(i) to bucket p with its event time.
func writeRec(t *testing.T, s *Set, p string, i int) {
	t.Helper()
	r := testRec(i)
	if err := s.Write(context.Background(), p, makeRow(r), r.eventTime); err != nil {
		t.Fatal(err)
	}
}

// seqWriter writes test records 0, 1, 2, ... in order, with writeRec.
type seqWriter struct {
	t *testing.T
	s *Set
	n int // records written
}

// write writes the next record to bucket p.
func (w *seqWriter) write(p string) {
	w.t.Helper()
	writeRec(w.t, w.s, p, w.n)
	w.n++
}

// finishRolledBySize finishes s and checks that it made several files, all
// but the last between minSize bytes and twice the 32 KiB target.
func finishRolledBySize(t *testing.T, s *Set, minSize int64) []File {
	t.Helper()
	files, err := s.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("%d files, want several", len(files))
	}
	for _, f := range files[:len(files)-1] {
		if f.SizeBytes > 2*32<<10 || f.SizeBytes < minSize {
			t.Errorf("%s: %d bytes for a 32 KiB target", f.Path, f.SizeBytes)
		}
	}
	return files
}

// abortAndCheckEmpty aborts s and checks that it left no object in b and no
// file in spool.
func abortAndCheckEmpty(t *testing.T, s *Set, b objstore.Store, spool string) {
	t.Helper()
	if err := s.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, b); len(keys) != 0 {
		t.Errorf("left after Abort: %v", keys)
	}
	if left := spoolFiles(t, spool); len(left) != 0 {
		t.Errorf("spool files left after Abort: %v", left)
	}
}

// newFlakyUploadSet returns a Set writing small files to b, a Faulty over
// mem on which every other Put fails (alternately before and after the
// object landed), with checkpoint 1 begun.
func newFlakyUploadSet(t *testing.T) (s *Set, b *objstore.Faulty, mem *objstore.Memory) {
	t.Helper()
	mem = objstore.NewMemory()
	b = objstore.NewFaulty(mem)
	s = newTestSet(t, b, WithTargetFileSize(16<<10), WithPageBufferSize(2<<10), WithRowGroupBytes(8<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	puts := 0
	b.SetMatcher(func(op objstore.Op, key string) objstore.Injection {
		if op != objstore.OpPut {
			return objstore.InjectNone
		}
		puts++
		switch puts % 4 {
		case 1:
			return objstore.InjectBefore
		case 3:
			return objstore.InjectAfter
		}
		return objstore.InjectNone
	})
	return s, b, mem
}

// finishRetrying calls Finish until it no longer fails with an injected
// error, failing the test on any other error or after 100 retries.
func finishRetrying(t *testing.T, s *Set) []File {
	t.Helper()
	for attempt := 0; ; attempt++ {
		files, err := s.Finish(context.Background())
		if err == nil {
			return files
		}
		if !errors.Is(err, objstore.ErrInjected) || attempt > 100 {
			t.Fatal(err)
		}
	}
}

func listKeys(t *testing.T, b objstore.Store) []string {
	t.Helper()
	var keys []string
	if err := b.List(context.Background(), "", func(o objstore.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkAllRows reads every file and checks that the keys 0..n-1 are each
// present exactly once, in the bucket part(i), with their values.
func checkAllRows(t *testing.T, b objstore.Store, files []File, n int, part func(i int) string) {
	t.Helper()
	seen := make(map[string]bool)
	ids := make(map[string]bool)
	for _, f := range files {
		if ids[f.FileID] {
			t.Errorf("file ID %s used twice", f.FileID)
		}
		ids[f.FileID] = true
		_, recs := readFile(t, b, f.Path)
		if int64(len(recs)) != f.Records {
			t.Errorf("%s: %d rows, File says %d", f.Path, len(recs), f.Records)
		}
		for _, r := range recs {
			if seen[r.key] {
				t.Errorf("key %s written twice", r.key)
			}
			seen[r.key] = true
			if r.partitionPath != f.PartitionPath || r.fileName != path.Base(f.Path) {
				t.Errorf("%s: row %s has partition path %q file %q", f.Path, r.key, r.partitionPath, r.fileName)
			}
		}
	}
	for i := range n {
		k := testRec(i).key
		if !seen[k] {
			t.Errorf("key %s (bucket %s) missing", k, part(i))
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct keys, want %d", len(seen), n)
	}
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func footerValue(md *format.FileMetaData, key string) (string, bool) {
	i := slices.IndexFunc(md.KeyValueMetadata, func(kv format.KeyValue) bool { return kv.Key == key })
	if i < 0 {
		return "", false
	}
	return md.KeyValueMetadata[i].Value, true
}

func hasPrefix(s, p string) bool { return strings.HasPrefix(s, p) }

// sharedBytes is the part of s.BufferedBytes that the dictionary tables
// shared by the open files hold: a cache whose size does not depend on the
// row groups buffered.
func sharedBytes(s *Set) int64 { return s.files.sharedBytes(len(s.open)) }

// bufferedRowGroups is the size of the open files' buffered row groups (by
// length: encoded pages, values not encoded yet, dictionaries), which the
// row group size bounds; BufferedBytes counts the capacity of buffers.
func bufferedRowGroups(s *Set) int64 {
	var n int64
	for _, f := range s.open {
		n += f.bufferedRowGroup()
	}
	return n
}

// faultyDisk is a spool filesystem (WithSpoolFS) that records the spool
// files created, in order, and fails with errorfs.ErrInjected the operations
// fail picks (given the files created before the operation).
type faultyDisk struct {
	mu       sync.Mutex
	created  []string
	fail     func(op errorfs.Op, created []string) bool
	injected int // operations failed
}

func (d *faultyDisk) String() string { return "faultyDisk" }

func (d *faultyDisk) MaybeError(op errorfs.Op) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil && d.fail(op, d.created) {
		d.injected++
		return errorfs.ErrInjected
	}
	if op.Kind == errorfs.OpCreate {
		d.created = append(d.created, op.Path)
	}
	return nil
}

// setFail sets the operations to fail.
func (d *faultyDisk) setFail(fail func(op errorfs.Op, created []string) bool) {
	d.mu.Lock()
	d.fail = fail
	d.mu.Unlock()
}

// failures is the number of operations failed so far.
func (d *faultyDisk) failures() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.injected
}

// option returns the spool filesystem option: the default one, wrapped.
func (d *faultyDisk) option() Option { return WithSpoolFS(errorfs.Wrap(defaultSpoolFS, d)) }
