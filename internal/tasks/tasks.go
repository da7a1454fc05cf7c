package tasks

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Registry holds the registered tasks. The zero value is not usable: make
// one with New.
type Registry struct {
	now   func() time.Time
	mu    sync.Mutex
	seq   uint64
	tasks map[*Task]struct{}
}

// Option configures New.
type Option func(*Registry)

// WithClock sets the clock the tasks' times come from. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(r *Registry) {
		if now != nil {
			r.now = now
		}
	}
}

// New returns an empty registry.
func New(opts ...Option) *Registry {
	r := &Registry{now: time.Now, tasks: map[*Task]struct{}{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Task is one registered task. Its methods are safe for concurrent use
// and do nothing on a nil *Task.
type Task struct {
	r           *Registry
	group, name string
	seq         uint64
	started     time.Time
	// guarded by r.mu
	state string
	since time.Time
}

// Register adds a task of group (e.g. "partition") named name (e.g. "3";
// may be empty when the group has one task), in state "started". Two tasks
// may have the same group and name; both are listed. Call Done when it
// ends. A nil r returns nil.
func (r *Registry) Register(group, name string) *Task {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.seq++
	t := &Task{r: r, group: group, name: name, seq: r.seq, started: now, state: "started", since: now}
	r.tasks[t] = struct{}{}
	return t
}

// Set records the task's state. The time of the change (Since) moves only
// when the state differs from the last one.
func (t *Task) Set(state string) {
	if t == nil {
		return
	}
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	if state != t.state {
		t.state, t.since = state, t.r.now()
	}
}

// Done removes the task from its registry. It is idempotent.
func (t *Task) Done() {
	if t == nil {
		return
	}
	t.r.mu.Lock()
	delete(t.r.tasks, t)
	t.r.mu.Unlock()
}

// State is one task in a Snapshot.
type State struct {
	Group string `json:"group"`
	Name  string `json:"name,omitempty"`
	State string `json:"state"`
	// Since is when the task entered State; Started when it was
	// registered.
	Since   time.Time `json:"since"`
	Started time.Time `json:"started"`
	// For is the time in State at the snapshot, rounded to the
	// millisecond (as text, e.g. "1.5s").
	For string `json:"for"`
}

// Label is the task's group and name, e.g. "partition 3", or the group
// alone when the name is empty.
func (s State) Label() string {
	if s.Name == "" {
		return s.Group
	}
	return s.Group + " " + s.Name
}

// Snapshot returns the registered tasks sorted by group, then name (names
// that are numbers in numeric order), then registration. A nil r has none.
func (r *Registry) Snapshot() []State {
	if r == nil {
		return []State{}
	}
	r.mu.Lock()
	now := r.now()
	ts := make([]*Task, 0, len(r.tasks))
	out := make(map[*Task]State, len(r.tasks))
	for t := range r.tasks {
		ts = append(ts, t)
		out[t] = State{Group: t.group, Name: t.name, State: t.state, Since: t.since, Started: t.started,
			For: now.Sub(t.since).Round(time.Millisecond).String()}
	}
	r.mu.Unlock()
	slices.SortFunc(ts, func(a, b *Task) int {
		return cmp.Or(strings.Compare(a.group, b.group), compareNames(a.name, b.name), cmp.Compare(a.seq, b.seq))
	})
	states := make([]State, len(ts))
	for i, t := range ts {
		states[i] = out[t]
	}
	return states
}

// compareNames orders names that are both integers numerically, others as
// strings (integers first).
func compareNames(a, b string) int {
	ai, aerr := strconv.ParseInt(a, 10, 64)
	bi, berr := strconv.ParseInt(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		return cmp.Compare(ai, bi)
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// WriteText writes one line per task: "partition 3: fetching since
// 12:01:02.123 (1.5s)", times in UTC. "no tasks" when there is none.
func WriteText(w io.Writer, states []State) error {
	if len(states) == 0 {
		_, err := io.WriteString(w, "no tasks\n")
		return err
	}
	var b strings.Builder
	for _, s := range states {
		fmt.Fprintf(&b, "%s: %s since %s (%s)\n", s.Label(), s.State, s.Since.UTC().Format("15:04:05.000"), s.For)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Handler serves the snapshot: as text (WriteText), or as JSON
// ({"tasks": [State...]}) with ?format=json or an Accept header that asks
// for application/json.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		states := r.Snapshot()
		if req.URL.Query().Get("format") == "json" || strings.Contains(req.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.Encode(struct {
				Tasks []State `json:"tasks"`
			}{states})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		WriteText(w, states)
	})
}
