package checkpoint

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/writer"
)

// TestWorkerRollIdleErrors: a failed upload in RollIdle leaves the worker
// without an error, and the checkpoint's Finish uploads the file; a fatal
// error, once the worker has one, fails the checkpoint's Finish, so the
// rows the worker then drops are never committed without.
func TestWorkerRollIdleErrors(t *testing.T) {
	ctx := context.Background()
	faulty := objstore.NewFaulty(objstore.NewMemory())
	schema := workerTestSchema()
	var clock atomic.Int64
	set, err := writer.NewSet(faulty, schema, 0, writer.WithSpoolDir(t.TempDir()), writer.WithMaxFileAge(time.Minute),
		writer.WithClock(func() time.Time { return time.Unix(0, clock.Load()) }))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if err := set.Begin("20261101000000000", 1); err != nil {
		t.Fatal(err)
	}
	w := newWorker(0, set, slog.New(slog.DiscardHandler))
	finish := func() workerReply {
		m := workerMsg{kind: msgFinish, reply: make(chan workerReply, 1)}
		w.handle(ctx, m)
		return <-m.reply
	}
	const n = 300 // three buckets
	if err := w.writeBatch(ctx, workerTestBatch(t, schema, n)); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(time.Hour)) // every open file is past the maximum age
	faulty.SetFailing(true)
	w.rollIdle(ctx)
	faulty.SetFailing(false)
	if faulty.Injected(objstore.OpPut) == 0 {
		t.Fatal("RollIdle uploaded nothing: the test tests nothing")
	}
	if w.err != nil {
		t.Fatalf("worker error after a failed upload in RollIdle: %v", w.err)
	}
	r := finish()
	if r.err != nil {
		t.Fatalf("Finish after a failed upload in RollIdle: %v", r.err)
	}
	var records int64
	for _, f := range r.files {
		records += f.Records
	}
	if records != n {
		t.Fatalf("Finish returned files of %d records, want %d", records, n)
	}

	// A fatal error sticks: the rows sent after it are dropped and Finish
	// reports it, at once, as fatal (the checkpoint is not retried).
	if err := set.Begin("20261101000000001", 2); err != nil {
		t.Fatal(err)
	}
	w.err = fatal(errors.New("lost rows"))
	b := <-w.free
	*b = *workerTestBatch(t, schema, 10)
	w.handle(ctx, workerMsg{kind: msgRows, batch: b})
	if r := finish(); !errors.Is(r.err, errFatal) {
		t.Fatalf("Finish after a fatal error = %v, want it, fatal", r.err)
	}
}
