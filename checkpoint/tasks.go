package checkpoint

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/lakestream/lakestream/internal/tasks"
)

// WithTasks registers the coordinator ("coordinator: checkpoint 42:
// upload", or "between checkpoints: polling and routing records") and
// every worker ("worker 0: writing 512 rows") in reg while Run runs, for
// the admin endpoint's /debug/tasks. Default nil: none.
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

// phaseChangedLocked tells onPhase, if set, the phase. h.mu is held.
func (h *health) phaseChangedLocked() {
	if h.onPhase != nil {
		h.onPhase(h.phase)
	}
}

// attachTasks registers the coordinator and the workers in the registry of
// WithTasks, if any; the returned function ends their tasks. Run calls it
// before it starts the workers. The coordinator's task changes with the
// checkpoint's phase (health.enter, completed and left, which run with
// c.mu held, so c.checkpoint is the one in progress).
func (c *Coordinator) attachTasks() func() {
	reg := c.opts.tasks
	if reg == nil {
		return func() {}
	}
	coord := reg.Register("coordinator", "")
	coord.Set(stateBetween)
	c.health.mu.Lock()
	c.health.onPhase = func(phase string) {
		if phase == "" {
			coord.Set(stateBetween)
			return
		}
		coord.Set(fmt.Sprintf("checkpoint %d: %s", c.checkpoint, phase))
	}
	c.health.mu.Unlock()
	ws := make([]*tasks.Task, len(c.workers))
	for i, w := range c.workers {
		ws[i] = reg.Register("worker", strconv.Itoa(w.id))
		ws[i].Set(w.state.Load().(string))
		w.state.task.Store(ws[i])
	}
	return func() {
		c.health.mu.Lock()
		c.health.onPhase = nil
		c.health.mu.Unlock()
		coord.Done()
		for i, w := range c.workers {
			w.state.task.Store(nil)
			ws[i].Done()
		}
	}
}
