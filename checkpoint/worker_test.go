package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/lakestream/lakestream/writer"
	"github.com/parquet-go/parquet-go"
)

// workerTestSchema is the five meta columns and an int64.
func workerTestSchema() *parquet.Schema {
	g := parquet.Group{}
	for i, name := range hudimeta.Columns {
		g[name] = parquet.FieldID(parquet.Optional(parquet.String()), i+1)
	}
	g["n"] = parquet.FieldID(parquet.Int(64), 6)
	return parquet.NewSchema("t", g)
}

// workerTestBatch returns a batch of n rows of workerTestSchema, keys
// k-<i>, in runs of 100 rows per bucket.
func workerTestBatch(t *testing.T, schema *parquet.Schema, n int) *rowBatch {
	t.Helper()
	leaf := func(name string) int {
		l, ok := schema.Lookup(name)
		if !ok {
			t.Fatalf("no column %s", name)
		}
		return l.ColumnIndex
	}
	keyCol, nCol := leaf(hudimeta.ColRecordKey), leaf("n")
	b := &rowBatch{}
	row := make(parquet.Row, 6)
	for i := range n {
		for c := range row {
			row[c] = parquet.NullValue().Level(0, 0, c)
		}
		start := len(b.arena)
		b.arena = fmt.Appendf(b.arena, "k-%d", i)
		row[keyCol] = parquet.ByteArrayValue(b.arena[start:len(b.arena):len(b.arena)]).Level(0, 1, keyCol)
		row[nCol] = parquet.Int64Value(int64(i)).Level(0, 0, nCol)
		b.add(row, fmt.Sprintf("b=%d", i/100%3), int64(i))
	}
	return b
}

// newTestWorker returns worker 0 over a Set writing rows of schema to b in
// small files, with a checkpoint begun; the Set is closed at cleanup.
func newTestWorker(t *testing.T, b objstore.Store, schema *parquet.Schema) *worker {
	t.Helper()
	set, err := writer.NewSet(b, schema, 0, writer.WithSpoolDir(t.TempDir()), writer.WithTargetFileSize(4<<10), writer.WithPageBufferSize(1<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	if err := set.Begin("20261101000000000", 1); err != nil {
		t.Fatal(err)
	}
	return newWorker(0, set, slog.New(slog.DiscardHandler))
}

// TestWorkerWriteBatchRetriesUploads writes a batch whose rolled files
// fail to upload every other time: the worker retries and every row is
// written once.
func TestWorkerWriteBatchRetriesUploads(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMemory()
	faulty := objstore.NewFaulty(mem)
	schema := workerTestSchema()
	w := newTestWorker(t, faulty, schema)
	w.retryMin, w.retryMax = time.Microsecond, time.Millisecond
	puts := 0
	faulty.SetMatcher(func(op objstore.Op, _ string) objstore.Injection {
		if op != objstore.OpPut {
			return objstore.InjectNone
		}
		if puts++; puts%2 == 1 {
			return objstore.InjectBefore
		}
		return objstore.InjectNone
	})
	const n = 3000
	if err := w.writeBatch(ctx, workerTestBatch(t, schema, n)); err != nil {
		t.Fatal(err)
	}
	if faulty.Injected(objstore.OpPut) == 0 {
		t.Fatal("no upload failed during the batch: the test tests nothing")
	}
	faulty.SetMatcher(nil)
	files, err := w.set.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var records int64
	for _, f := range files {
		records += f.Records
	}
	if records != n || len(files) < 3 {
		t.Fatalf("%d files of %d records, want several of %d", len(files), records, n)
	}
}

// TestWorkerWriteBatchGivesUp checks that a write that keeps failing is
// fatal after maxWriteAttempts.
func TestWorkerWriteBatchGivesUp(t *testing.T) {
	ctx := context.Background()
	faulty := objstore.NewFaulty(objstore.NewMemory())
	schema := workerTestSchema()
	w := newTestWorker(t, faulty, schema)
	w.retryMin, w.retryMax = time.Microsecond, time.Microsecond
	faulty.SetFailing(true)
	err := w.writeBatch(ctx, workerTestBatch(t, schema, 3000))
	if !errors.Is(err, errFatal) || !errors.Is(err, objstore.ErrInjected) {
		t.Fatalf("writeBatch on failing storage = %v, want a fatal upload error", err)
	}
	if got := faulty.Calls(objstore.OpPut); got != maxWriteAttempts {
		t.Errorf("%d upload attempts, want %d", got, maxWriteAttempts)
	}
}
