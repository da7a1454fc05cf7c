package checkpoint

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/lakestream/lakestream/internal/tasks"
)

// WithTasks registers the coordinator ("coordinator: checkpoint 42:
// upload", "checkpoint 42: commit, retrying commit", "retrying begin
// instant (phase begin)", or "between checkpoints: polling and routing
// records") and every worker ("worker 0: writing 512 rows") in reg while
// Run runs, for the admin endpoint's /debug/tasks. Default nil: none.
func WithTasks(reg *tasks.Registry) Option {
	return func(o *options) { o.tasks = reg }
}

// stateBetween is the coordinator's task state while no checkpoint is in
// progress.
const stateBetween = "between checkpoints: polling and routing records"

// workerState is a worker's state for the admin endpoint and slow-operation
// logs (a string), mirrored to its task, if one is attached.
type workerState struct {
	v    atomic.Value
	task atomic.Pointer[tasks.Task]
}

func (s *workerState) Store(state string) {
	s.v.Store(state)
	s.task.Load().Set(state)
}

func (s *workerState) Load() any { return s.v.Load() }

// coordinatorTask is the coordinator's task: what it does ("checkpoint
// 42: upload", stateBetween) and what it retries. Guarded by health.mu.
type coordinatorTask struct {
	task  *tasks.Task
	label string
	// checkpoint is the checkpoint in progress (c.inst.id): read only
	// when the phase changes (health.enter, completed and left run with
	// c.mu held).
	checkpoint func() int64
}

// phaseChangedLocked records the phase's start (phaseTiming) and updates
// the coordinator's task, if any, to the phase. h.mu is held.
func (h *health) phaseChangedLocked() {
	now := h.now()
	h.timing.changed(h.phase, now)
	h.trace.changed(h.phase, now)
	t := h.task
	if t == nil {
		return
	}
	if h.phase == "" {
		t.label = stateBetween
	} else {
		t.label = fmt.Sprintf("checkpoint %d: %s", t.checkpoint(), h.phase)
	}
	h.refreshTaskLocked()
}

// retryChangedLocked updates the coordinator's task, if any, to what is
// retried. h.mu is held.
func (h *health) retryChangedLocked() {
	if h.task != nil {
		h.refreshTaskLocked()
	}
}

// refreshTaskLocked sets the coordinator's task: its label, and what it
// retries: its own operations (begin instant, commit, ...) and, during a
// checkpoint, the workers' (close files of worker 1). Between checkpoints
// a retried operation of the coordinator's replaces the label: it polls
// nothing meanwhile. The attempts are left out, so that the task's since
// is when the retries began. h.mu is held.
func (h *health) refreshTaskLocked() {
	var ops []string
	phase := ""
	for _, r := range h.retryingLocked() {
		if r.Worker < 0 || h.phase != "" {
			ops = append(ops, r.Op)
			if phase == "" {
				phase = r.Phase
			}
		}
	}
	switch {
	case len(ops) == 0:
		h.task.task.Set(h.task.label)
	case h.phase == "":
		h.task.task.Set(fmt.Sprintf("retrying %s (phase %s)", strings.Join(ops, ", "), phase))
	default:
		h.task.task.Set(h.task.label + ", retrying " + strings.Join(ops, ", "))
	}
}

// attachTasks registers the coordinator and the workers in the registry of
// WithTasks, if any; the returned function ends their tasks. Run calls it
// before it starts the workers.
func (c *Coordinator) attachTasks() func() {
	reg := c.opts.tasks
	if reg == nil {
		return func() {}
	}
	coord := &coordinatorTask{task: reg.Register("coordinator", ""), label: stateBetween, checkpoint: func() int64 { return c.inst.id }}
	c.health.mu.Lock()
	c.health.task = coord
	c.health.refreshTaskLocked()
	c.health.mu.Unlock()
	ws := make([]*tasks.Task, len(c.pool.workers))
	for i, w := range c.pool.workers {
		ws[i] = reg.Register("worker", strconv.Itoa(w.id))
		ws[i].Set(w.state.Load().(string))
		w.state.task.Store(ws[i])
	}
	return func() {
		c.health.mu.Lock()
		c.health.task = nil
		c.health.mu.Unlock()
		coord.task.Done()
		for i, w := range c.pool.workers {
			w.state.task.Store(nil)
			ws[i].Done()
		}
	}
}
