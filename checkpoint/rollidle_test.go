package checkpoint_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/writer"
)

// calledFrom reports whether a function whose name contains fn is on the
// caller's stack.
func calledFrom(fn string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.Contains(f.Function, fn) {
			return true
		}
		if !more {
			return false
		}
	}
}

// failFirstRollIdleUpload fails the first upload of a Parquet file made by
// writer.Set.RollIdle (a file rolled for its age), with inj.
func failFirstRollIdleUpload(inj objstore.Injection) func(objstore.Op, string) objstore.Injection {
	var failed atomic.Bool
	return func(op objstore.Op, key string) objstore.Injection {
		if op == objstore.OpPut && strings.HasSuffix(key, ".parquet") && calledFrom("(*Set).RollIdle") && failed.CompareAndSwap(false, true) {
			return inj
		}
		return objstore.InjectNone
	}
}

// TestRollIdleUploadErrorIsRetried: an upload of a file rolled for its age
// (RollIdle, on the worker's timer) that fails once must not stick. It used
// to: every Finish returned it, the checkpoint retried forever, and no
// checkpoint was ever committed. The file stays pending in the writer set;
// the checkpoint uploads it again and commits every record exactly once.
func TestRollIdleUploadErrorIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		inj  objstore.Injection
	}{
		{"failed", objstore.InjectBefore},
		{"landed-but-failed", objstore.InjectAfter}, // the retry puts the same key again
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			fs, err := objstore.NewFilesystem(root)
			if err != nil {
				t.Fatal(err)
			}
			faulty := objstore.NewFaulty(fs, objstore.WithMatcher(failFirstRollIdleUpload(tc.inj)))
			recs := pageviewRecords(2000, time.Now().UTC())
			// Files older than 10 ms roll at every tick of the worker's
			// timer (each second); intake lasts about 2 s, so files are
			// rolled for their age before the checkpoint (due at 3 s, or
			// the final one).
			// One upload at a time: the fault is matched by RollIdle on
			// the uploading goroutine's stack, which a batch's upload
			// goroutines do not have.
			p := newPipelineWith(t, faulty, 1, recs, "", []writer.Option{writer.WithMaxFileAge(10 * time.Millisecond), writer.WithUploadConcurrency(1)},
				checkpoint.WithInterval(3*time.Second), checkpoint.WithRetry(time.Millisecond, 20*time.Millisecond))
			p.src.batch, p.src.pause = 100, 100*time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p.src.done = cancel
			run := startRun(ctx, p.coord, p.src)
			select {
			case <-run.done:
			case <-time.After(30 * time.Second):
				p.coord.Abort()
				<-run.done
				p.coord.Close()
				t.Fatalf("Run still going 30 s after the last record (aborted: %v); checkpoints %d, faults injected %d",
					run.err, p.coord.Stats().Checkpoints, faulty.TotalInjected())
			}
			if run.err != nil {
				t.Fatalf("Run = %v", run.err)
			}
			if err := p.coord.Close(); err != nil {
				t.Fatal(err)
			}
			if faulty.TotalInjected() != 1 {
				t.Fatalf("%d faults injected, want the one upload of RollIdle", faulty.TotalInjected())
			}
			if p.coord.Stats().Checkpoints < 1 {
				t.Fatal("no checkpoint committed")
			}
			rows, distinct := countPositions(t, p, root)
			if rows != int64(len(recs)) || distinct != int64(len(recs)) {
				t.Fatalf("table holds %d rows, %d distinct (partition, offset); want each of the %d records once", rows, distinct, len(recs))
			}
			cps, err := p.table.Checkpoints(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for part := int32(0); part < 8; part++ {
				if pos, _ := cps.Next("pageviews", part); pos.Next != 250 {
					t.Fatalf("partition %d committed up to %d, want 250", part, pos.Next)
				}
			}
		})
	}
}

// TestShutdownEndsAFailingCheckpoint: a checkpoint that cannot complete
// (storage down for good) retries until Run's context ends (SIGTERM) and
// then for the shutdown grace period only: Run returns an error, without
// committing, instead of retrying until the second signal (Abort).
func TestShutdownEndsAFailingCheckpoint(t *testing.T) {
	mem := objstore.NewMemory()
	faulty := objstore.NewFaulty(mem)
	recs := pageviewRecords(20000, time.Now().UTC())
	p := newPipeline(t, faulty, 2, recs, checkpoint.WithInterval(20*time.Millisecond), checkpoint.WithRetry(time.Millisecond, 10*time.Millisecond),
		checkpoint.WithShutdownGrace(200*time.Millisecond))
	p.src.batch, p.src.pause = 500, 5*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := startRun(ctx, p.coord, p.src)
	for p.coord.Stats().Checkpoints < 1 && !run.stopped() {
		time.Sleep(time.Millisecond)
	}
	faulty.SetFailing(true)
	time.Sleep(100 * time.Millisecond) // a checkpoint is due and retrying
	committed := p.coord.Stats().Checkpoints
	cancel()
	select {
	case <-run.done:
	case <-time.After(30 * time.Second):
		p.coord.Abort()
		<-run.done
		p.coord.Close()
		t.Fatalf("Run still going 30 s after its context ended, with a grace period of 200 ms (aborted: %v)", run.err)
	}
	p.coord.Close()
	if run.err == nil || !errors.Is(run.err, checkpoint.ErrGraceOver) {
		t.Fatalf("Run = %v, want the grace period's end", run.err)
	}
	if got := p.coord.Stats().Checkpoints; got != committed {
		t.Fatalf("%d checkpoints committed on failing storage", got-committed)
	}
}
