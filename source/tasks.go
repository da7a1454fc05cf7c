package source

import (
	"strconv"

	"github.com/lakestream/lakestream/internal/tasks"
)

// partTask is an owned partition's task in the registry of WithTasks
// (the zero value, without a registry, does nothing). Guarded by
// Reader.mu.
type partTask struct {
	task  *tasks.Task
	state string
}

// newPartTask registers partition p's task, in state "fetching".
func (r *Reader) newPartTask(p int32) partTask {
	t := partTask{task: r.opts.tasks.Register("partition", strconv.Itoa(int(p)))}
	t.set("fetching")
	return t
}

// set records the partition's state when it changed.
func (t *partTask) set(state string) {
	if t.task != nil && state != t.state {
		t.state = state
		t.task.Set(state)
	}
}

func (t *partTask) done() { t.task.Done() }

// partTaskStateLocked is what partition p is doing: paused (and why),
// caught up (nothing queued, its position at the last stable offset: a
// fetch waits for new records) or fetching. It changes only with fetches
// and polls, so it is set where they adjust the pauses. r.mu is held.
func (r *Reader) partTaskStateLocked(p int32, ps *partState) string {
	switch {
	case ps.fetchPaused():
		return "paused (" + ps.pauseReason() + ")"
	case !r.unreadLocked(p, ps):
		return "caught up"
	}
	return "fetching"
}
