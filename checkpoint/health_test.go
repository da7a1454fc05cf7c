package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/table/hudi"
)

// waitUntil polls cond until it holds, failing the test after a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after a minute", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func failureCount(h Health, phase, class string) FailureCount {
	for _, f := range h.Failures {
		if f.Phase == phase && f.Class == class {
			return f
		}
	}
	return FailureCount{Phase: phase, Class: class}
}

// failParquetPuts fails every upload of a data file; the timeline's writes
// go through.
func failParquetPuts(op objstore.Op, key string) objstore.Injection {
	if op == objstore.OpPut && strings.HasSuffix(key, ".parquet") {
		return objstore.InjectBefore
	}
	return objstore.InjectNone
}

// TestHealthFollowsFailingUploads runs the pipeline on storage that fails
// every data file upload for a while, then recovers: Health lists the
// retried uploads (phase, class, attempts, since when, the error) and
// counts them, the last commit ages past the readiness limit, the workers
// do not claim to be idle, and after recovery the retries are gone, the
// age starts again and everything is committed.
func TestHealthFollowsFailingUploads(t *testing.T) {
	const interval = 50 * time.Millisecond
	mem := objstore.NewMemory()
	faulty := objstore.NewFaulty(mem)
	all := pageviewRecords(4000, time.Now().UTC())
	p := newPipeline(t, faulty, 2, all[:2000], WithInterval(interval), WithRetry(5*time.Millisecond, 20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.coord.Run(ctx, p.src) }()
	defer func() {
		faulty.SetMatcher(nil) // a failed test ends with a final checkpoint
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if err := p.coord.Close(); err != nil {
			t.Error(err)
		}
	}()

	waitUntil(t, "the first wave committed", func() bool { return p.coord.Stats().RowsCommitted == 2000 })
	before := p.coord.Health()
	if ready, reason := before.Ready(3); !ready || !before.Running || before.LastCommit.IsZero() || len(before.Retrying) != 0 || before.LastError != nil {
		t.Fatalf("healthy pipeline: ready %v (%s), health %+v", ready, reason, before)
	}

	faulty.SetMatcher(failParquetPuts)
	p.src.mu.Lock()
	p.src.recs = append(p.src.recs, all[2000:]...)
	p.src.mu.Unlock()
	var failing Health
	waitUntil(t, "uploads retried and the pipeline unready", func() bool {
		failing = p.coord.Health()
		ready, _ := failing.Ready(3)
		return !ready && len(failing.Retrying) > 0 && failing.Retrying[0].Attempts >= 3
	})
	r := failing.Retrying[0]
	if r.Phase != PhaseUpload || r.Class != ClassStorage || r.Worker < 0 || !strings.HasPrefix(r.Op, "close files of worker") ||
		r.Since.IsZero() || !r.Since.Before(r.Last) || !strings.Contains(r.Error, "injected fault") {
		t.Errorf("retry state %+v: want the upload phase, class storage, a worker, since before last, the error", r)
	}
	if f := failureCount(failing, PhaseUpload, ClassStorage); f.Failures < 3 || f.Retries != f.Failures {
		t.Errorf("upload/storage failures %+v: want at least 3, each retried (all: %+v)", f, failing.Failures)
	}
	if e := failing.LastError; e == nil || e.Phase != PhaseUpload || e.Class != ClassStorage || !e.Retried {
		t.Errorf("last error %+v", e)
	}
	if cp := failing.Checkpoint; cp == nil || cp.Phase != PhaseUpload {
		t.Errorf("checkpoint in progress %+v: want the upload phase", cp)
	}
	if _, reason := failing.Ready(3); !strings.Contains(reason, "no checkpoint completed for") || !strings.Contains(reason, "close files of worker") {
		t.Errorf("unready reason %q: want the age and what is retried", reason)
	}
	ageFailing, _ := failing.Age()
	if ageFailing <= 3*interval || !failing.LastCommit.Equal(before.LastCommit) {
		t.Errorf("age %v, last commit %v (was %v): want past 3 intervals, unchanged", ageFailing, failing.LastCommit, before.LastCommit)
	}
	// While the checkpoint retries, no worker says it is merely idle.
	for range 20 {
		for i, s := range p.coord.WorkerStates() {
			if s == stateIdle {
				t.Fatalf("worker %d says %q while the checkpoint retries %s", i, s, r.Op)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("worker states while failing: %q", p.coord.WorkerStates())

	faulty.SetMatcher(nil)
	waitUntil(t, "everything committed", func() bool { return p.coord.Stats().RowsCommitted == 4000 })
	after := p.coord.Health()
	ageAfter, _ := after.Age()
	if ready, reason := after.Ready(3); !ready || len(after.Retrying) != 0 || ageAfter >= ageFailing || !after.LastCommit.After(failing.LastCommit) {
		t.Errorf("after recovery: ready %v (%s), retrying %+v, age %v (was %v), last commit %v (was %v)",
			ready, reason, after.Retrying, ageAfter, ageFailing, after.LastCommit, failing.LastCommit)
	}
	if f := failureCount(after, PhaseUpload, ClassStorage); f.Failures < failureCount(failing, PhaseUpload, ClassStorage).Failures {
		t.Errorf("failure count went down: %+v", f)
	}
	for i, s := range p.coord.WorkerStates() {
		if strings.Contains(s, "retry") {
			t.Errorf("worker %d still says %q after recovery", i, s)
		}
	}
}

// TestHealthReady: ready while running and a checkpoint completed within
// the limit (or the start was that recent); otherwise the reason says why.
func TestHealthReady(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	h := Health{Interval: 10 * time.Second, At: start}
	if ok, reason := h.Ready(3); ok || !strings.Contains(reason, "not started") {
		t.Errorf("before Run: %v %q", ok, reason)
	}
	h.Running, h.Started = true, start
	h.At = start.Add(29 * time.Second)
	if ok, reason := h.Ready(3); !ok {
		t.Errorf("started 29s ago, limit 30s: unready: %s", reason)
	}
	h.At = start.Add(31 * time.Second)
	if ok, reason := h.Ready(3); ok || !strings.Contains(reason, "since the pipeline started") {
		t.Errorf("no checkpoint 31s after the start: %v %q", ok, reason)
	}
	h.LastCompleted = start.Add(20 * time.Second)
	if ok, reason := h.Ready(3); !ok {
		t.Errorf("completed 11s ago: unready: %s", reason)
	}
	h.At = start.Add(60 * time.Second)
	h.Retrying = []RetryState{{Op: "commit", Phase: PhaseCommit, Class: ClassTimeout, Worker: -1, Attempts: 4, Since: start.Add(25 * time.Second), Error: "put: deadline"}}
	if ok, reason := h.Ready(3); ok || !strings.Contains(reason, "40s") || !strings.Contains(reason, "retrying commit (phase commit): 4 failed attempts") || !strings.Contains(reason, "put: deadline") {
		t.Errorf("40s without a checkpoint, retrying: %v %q", ok, reason)
	}
	if ok, _ := h.Ready(5); !ok {
		t.Error("40s is within 5 intervals of 10s")
	}
	h.Running = false
	if ok, reason := h.Ready(5); ok || !strings.Contains(reason, "stopped") {
		t.Errorf("after Run: %v %q", ok, reason)
	}
}

// TestErrorClass sorts the errors the pipeline really meets.
func TestErrorClass(t *testing.T) {
	diskFull := fmt.Errorf("writer: upload k: put k: %w", &fs.PathError{Op: "write", Path: "/t/k", Err: syscall.ENOSPC})
	for _, c := range []struct {
		err  error
		want string
	}{
		{diskFull, ClassNoSpace},
		{fatal(fmt.Errorf("worker 1: %w", diskFull)), ClassNoSpace},
		{fmt.Errorf("commit: %w", &hudi.FencedError{Instant: "1", Reason: "rolled back"}), ClassFenced},
		{fmt.Errorf("put if absent x: %w", objstore.ErrExists), ClassFenced},
		{fmt.Errorf("writer: before upload of k: %w", fmt.Errorf("journal: add: %w", journal.ErrFailed)), ClassJournal},
		{fmt.Errorf("put k: %w", context.DeadlineExceeded), ClassTimeout},
		{&net.OpError{Op: "dial", Err: timeoutError{}}, ClassTimeout},
		{fmt.Errorf("put k: %w", context.Canceled), ClassCanceled},
		{fmt.Errorf("writer: upload k: %w", &objstore.FaultError{Op: objstore.OpPut, Key: "k"}), ClassStorage},
		{fmt.Errorf("put k: %w", &smithy.GenericAPIError{Code: "InternalError", Message: "We encountered an internal error"}), ClassStorage},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, ClassStorage},
		{fmt.Errorf("stat k: %w", &fs.PathError{Op: "stat", Path: "/t/k", Err: syscall.EACCES}), ClassStorage},
		{&failpoint.Error{Name: failpoint.AfterFileWrite}, ClassOther},
		{fatal(errors.New("flush dead letters: broker down")), ClassOther},
	} {
		if got := ErrorClass(c.err); got != c.want {
			t.Errorf("ErrorClass(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestRedactMessage: every URL in an error keeps its shape and loses its
// credentials and query values; the rest of the message stays.
func TestRedactMessage(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`put k: Put "https://minio:9000/b/k?X-Amz-Signature=s3cr3t&x-id=PutObject": dial tcp 10.0.0.1:9000: connect: connection refused`,
			`put k: Put "https://minio:9000/b/k?X-Amz-Signature=REDACTED&x-id=REDACTED": dial tcp 10.0.0.1:9000: connect: connection refused`},
		{"open s3://b/p?endpoint=http://admin:s3cr3t@127.0.0.1:9/ failed", "open s3://b/p?endpoint=REDACTED failed"},
		{"registry http://user:s3cr3t@registry:8081, retrying", "registry http://REDACTED@registry:8081, retrying"},
		{"writer: upload dt=2025-01-01/hr=00/a.parquet: injected fault", "writer: upload dt=2025-01-01/hr=00/a.parquet: injected fault"},
		{"why?\tno\nidea", "why?\tno\nidea"},
	} {
		got := redactMessage(c.in)
		if got != c.want {
			t.Errorf("redactMessage(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
		if strings.Contains(got, "s3cr3t") {
			t.Errorf("secret kept: %q", got)
		}
	}
}

// TestHealthCountsWriteRetries: a worker's uploads while writing rows are
// counted under the write phase, listed while retried, and the one that
// fails for good is not counted as retried and leaves no retry behind.
func TestHealthCountsWriteRetries(t *testing.T) {
	ctx := context.Background()
	faulty := objstore.NewFaulty(objstore.NewMemory())
	schema := workerTestSchema()
	w := newTestWorker(t, faulty, schema)
	w.retryMin, w.retryMax = time.Millisecond, time.Millisecond
	var during []RetryState
	failed := 0
	faulty.SetMatcher(func(op objstore.Op, _ string) objstore.Injection {
		if op != objstore.OpPut {
			return objstore.InjectNone
		}
		if failed == 2 {
			during = w.health.retryingList() // the third attempt: two failed
		}
		if failed < 2 {
			failed++
			return objstore.InjectBefore
		}
		return objstore.InjectNone
	})
	if err := w.writeBatch(ctx, workerTestBatch(t, schema, 3000)); err != nil {
		t.Fatal(err)
	}
	if len(during) != 1 || during[0].Phase != PhaseWrite || during[0].Worker != 0 || during[0].Attempts != 2 || during[0].Class != ClassStorage {
		t.Errorf("retrying during the third attempt: %+v", during)
	}
	if r := w.health.retryingList(); len(r) != 0 {
		t.Errorf("still retrying after the batch was written: %+v", r)
	}
	h := (&Coordinator{health: w.health}).Health()
	if f := failureCount(h, PhaseWrite, ClassStorage); f.Failures != 2 || f.Retries != 2 {
		t.Errorf("write failures %+v, want 2 retried", f)
	}

	faulty.SetMatcher(nil)
	faulty.SetFailing(true)
	if err := w.writeBatch(ctx, workerTestBatch(t, schema, 3000)); !errors.Is(err, errFatal) {
		t.Fatalf("write on failing storage: %v", err)
	}
	h = (&Coordinator{health: w.health}).Health()
	if f := failureCount(h, PhaseWrite, ClassStorage); f.Failures != 2+maxWriteAttempts || f.Retries != 2+maxWriteAttempts-1 {
		t.Errorf("write failures %+v, want %d, %d retried", f, 2+maxWriteAttempts, 2+maxWriteAttempts-1)
	}
	if len(h.Retrying) != 0 || h.LastError == nil || h.LastError.Retried || h.LastError.Phase != PhaseWrite {
		t.Errorf("after giving up: retrying %+v, last error %+v", h.Retrying, h.LastError)
	}
}
