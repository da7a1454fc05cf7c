package checkpoint_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/tasks"
)

// taskOf returns the state of the task labelled label ("coordinator",
// "worker 1"), or "" if there is none.
func taskOf(reg *tasks.Registry, label string) (tasks.State, bool) {
	for _, s := range reg.Snapshot() {
		if s.Label() == label {
			return s, true
		}
	}
	return tasks.State{}, false
}

// TestTasks runs the pipeline with WithTasks on storage whose data file
// uploads fail for a while: the coordinator's task names the checkpoint
// and its phase (upload) and what it retries (the workers' uploads) since
// the retries began, without moving while they go on, each worker has one, between checkpoints the
// coordinator says so, and every task ends with Run.
func TestTasks(t *testing.T) {
	reg := tasks.New()
	faulty := objstore.NewFaulty(objstore.NewMemory())
	all := pageviewRecords(2000, time.Now().UTC())
	p := newPipeline(t, faulty, 2, all[:1000], checkpoint.WithInterval(50*time.Millisecond), checkpoint.WithRetry(5*time.Millisecond, 20*time.Millisecond), checkpoint.WithTasks(reg))
	if n := len(reg.Snapshot()); n != 0 {
		t.Fatalf("%d tasks before Run", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.coord.Run(ctx, p.src) }()
	stopped := false
	defer func() {
		faulty.SetMatcher(nil)
		cancel()
		if err := <-done; err != nil && !stopped {
			t.Errorf("run: %v", err)
		}
		p.coord.Close()
	}()

	waitUntil(t, "the first wave committed", func() bool { return p.coord.Stats().RowsCommitted == 1000 })
	for _, label := range []string{"coordinator", "worker 0", "worker 1"} {
		if _, ok := taskOf(reg, label); !ok {
			t.Errorf("no task %q in %+v", label, reg.Snapshot())
		}
	}
	waitUntil(t, "the coordinator between checkpoints", func() bool {
		s, _ := taskOf(reg, "coordinator")
		return s.State == checkpoint.StateBetween
	})

	faulty.SetMatcher(failParquetPuts)
	p.src.mu.Lock()
	p.src.recs = append(p.src.recs, all[1000:]...)
	p.src.mu.Unlock()
	var coord tasks.State
	waitUntil(t, "the coordinator in the upload phase, retried", func() bool {
		coord, _ = taskOf(reg, "coordinator")
		h := p.coord.Health()
		return len(h.Retrying) > 0 && h.Retrying[len(h.Retrying)-1].Attempts >= 3
	})
	h := p.coord.Health()
	wantState := regexp.MustCompile(`^checkpoint \d+: upload, retrying close files of worker [01](, close files of worker [01])?$`)
	if !wantState.MatchString(coord.State) || h.Checkpoint == nil || coord.Since.Before(h.Checkpoint.PhaseSince) || coord.Since.Sub(h.Retrying[len(h.Retrying)-1].Since).Abs() > 10*time.Millisecond {
		t.Errorf("coordinator task %+v; health's checkpoint %+v, retrying %+v: want checkpoint N: upload, retrying the workers' uploads, since the last one's first failure", coord, h.Checkpoint, h.Retrying)
	}
	// Between attempts the workers wait (WorkerStates adds what is
	// retried); during one they close their files.
	for _, label := range []string{"worker 0", "worker 1"} {
		if s, _ := taskOf(reg, label); s.State != checkpoint.StateIdle && s.State != "closing files for checkpoint" {
			t.Errorf("%s: %+v", label, s)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if again, _ := taskOf(reg, "coordinator"); again.State != coord.State || !again.Since.Equal(coord.Since) {
		t.Errorf("coordinator task moved while still retrying: %+v, was %+v", again, coord)
	}

	faulty.SetMatcher(nil)
	waitUntil(t, "everything committed", func() bool { return p.coord.Stats().RowsCommitted == 2000 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	stopped = true
	done <- nil
	if got := reg.Snapshot(); len(got) != 0 {
		t.Errorf("tasks after Run returned: %+v", got)
	}
}
