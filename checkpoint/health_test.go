package checkpoint_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
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
	p := newPipeline(t, faulty, 2, all[:2000], checkpoint.WithInterval(interval), checkpoint.WithRetry(5*time.Millisecond, 20*time.Millisecond))
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
	var failing checkpoint.Health
	waitUntil(t, "uploads retried and the pipeline unready", func() bool {
		failing = p.coord.Health()
		ready, _ := failing.Ready(3)
		return !ready && len(failing.Retrying) > 0 && failing.Retrying[0].Attempts >= 3
	})
	r := failing.Retrying[0]
	if r.Phase != checkpoint.PhaseUpload || r.Class != checkpoint.ClassStorage || r.Worker < 0 || !strings.HasPrefix(r.Op, "close files of worker") ||
		r.Since.IsZero() || !r.Since.Before(r.Last) || !strings.Contains(r.Error, "injected fault") {
		t.Errorf("retry state %+v: want the upload phase, class storage, a worker, since before last, the error", r)
	}
	if f := checkpoint.FailureCountOf(failing, checkpoint.PhaseUpload, checkpoint.ClassStorage); f.Failures < 3 || f.Retries != f.Failures {
		t.Errorf("upload/storage failures %+v: want at least 3, each retried (all: %+v)", f, failing.Failures)
	}
	if e := failing.LastError; e == nil || e.Phase != checkpoint.PhaseUpload || e.Class != checkpoint.ClassStorage || !e.Retried {
		t.Errorf("last error %+v", e)
	}
	if cp := failing.Checkpoint; cp == nil || cp.Phase != checkpoint.PhaseUpload {
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
			if s == checkpoint.StateIdle {
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
	if f := checkpoint.FailureCountOf(after, checkpoint.PhaseUpload, checkpoint.ClassStorage); f.Failures < checkpoint.FailureCountOf(failing, checkpoint.PhaseUpload, checkpoint.ClassStorage).Failures {
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
	h := checkpoint.Health{Interval: 10 * time.Second, At: start}
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
	h.Retrying = []checkpoint.RetryState{{Op: "commit", Phase: checkpoint.PhaseCommit, Class: checkpoint.ClassTimeout, Worker: -1, Attempts: 4, Since: start.Add(25 * time.Second), Error: "put: deadline"}}
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
