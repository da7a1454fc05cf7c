// Package failpoint stops or fails a process at named points of the commit
// path, so that tests can prove recovery from a crash at each of them. A Set
// is built from a spec (ingestd reads it from $LAKESTREAM_FAILPOINTS) and
// passed to the components that have failpoints; a nil Set does nothing.
package failpoint

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The failpoints of the commit path, in the order a checkpoint meets them.
const (
	BeforeRequested   = "commit.before-requested"     // Begin, before the requested file
	AfterInflight     = "commit.after-inflight"       // Begin, after the inflight file
	AfterFileWrite    = "checkpoint.after-file-write" // files uploaded, nothing committed
	BeforeComplete    = "commit.before-complete"      // commit decided, completed file not written
	AfterComplete     = "commit.after-complete"       // completed file written, not acknowledged
	BeforeGroupCommit = "checkpoint.before-group-commit"
	DuringRollback    = "rollback.during" // files of the instant removed, timeline not yet
	// AfterCommitBeforePublish: the commit completed (with its stats
	// sidecar), its Iceberg snapshot not published (the Iceberg
	// publisher's hook, and the compactor before its publish).
	AfterCommitBeforePublish = "iceberg.before-publish"
)

// Names lists every failpoint.
var Names = []string{BeforeRequested, AfterInflight, AfterFileWrite, BeforeComplete, AfterComplete, BeforeGroupCommit, DuringRollback, AfterCommitBeforePublish}

// CrashExitCode is the exit status of a process stopped by a crash
// failpoint.
const CrashExitCode = 86

// Error is returned by an error failpoint.
type Error struct{ Name string }

func (e *Error) Error() string { return "failpoint " + e.Name + ": injected error" }

// ErrInjected is matched by every *Error.
var ErrInjected = errors.New("failpoint")

// Is makes errors.Is(err, ErrInjected) true.
func (e *Error) Is(target error) bool { return target == ErrInjected }

type action struct {
	kind string // crash, error, sleep
	prob float64
	d    time.Duration
}

// Set is a parsed failpoint spec. It is safe for concurrent use.
type Set struct {
	mu     sync.Mutex
	rng    *rand.Rand
	points map[string]action
	exit   func(code int)
}

// Parse reads a spec: failpoints separated by ';', each
// name=crash|error|sleep(<duration>), optionally followed by @<probability>
// (default 1), e.g. "commit.before-complete=crash@0.3;rollback.during=error".
// An empty spec gives a nil Set.
func Parse(spec string, seed uint64) (*Set, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	s := &Set{rng: rand.New(rand.NewPCG(seed, seed+1)), points: map[string]action{}, exit: os.Exit}
	known := map[string]bool{}
	for _, n := range Names {
		known[n] = true
	}
	var errs []error
	for _, item := range strings.Split(spec, ";") {
		name, act, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || !known[name] {
			errs = append(errs, fmt.Errorf("failpoint %q: want one of %s = action", item, strings.Join(Names, ", ")))
			continue
		}
		a := action{prob: 1}
		if act, p, ok := strings.Cut(act, "@"); ok {
			prob, err := strconv.ParseFloat(p, 64)
			if err != nil || prob < 0 || prob > 1 {
				errs = append(errs, fmt.Errorf("failpoint %s: probability %q", name, p))
			}
			a = parseAction(act, a, name, &errs)
			a.prob = prob
		} else {
			a = parseAction(act, a, name, &errs)
		}
		s.points[name] = a
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func parseAction(act string, a action, name string, errs *[]error) action {
	switch {
	case act == "crash" || act == "error":
		a.kind = act
	case strings.HasPrefix(act, "sleep(") && strings.HasSuffix(act, ")"):
		d, err := time.ParseDuration(act[len("sleep(") : len(act)-1])
		if err != nil {
			*errs = append(*errs, fmt.Errorf("failpoint %s: %v", name, err))
		}
		a.kind, a.d = "sleep", d
	default:
		*errs = append(*errs, fmt.Errorf("failpoint %s: action %q: want crash, error or sleep(<duration>)", name, act))
	}
	return a
}

// ArmedPoint is an armed failpoint and what it does.
type ArmedPoint struct {
	Name string `json:"name"`
	// Action is crash, error or sleep(<duration>), followed by
	// @<probability> when that is below 1, as in the spec.
	Action string `json:"action"`
}

// Armed lists the armed failpoints, by name; nil for a nil Set. ingestd
// shows them in /status: they can be armed in a production binary.
func (s *Set) Armed() []ArmedPoint {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ArmedPoint, 0, len(s.points))
	for name, a := range s.points {
		act := a.kind
		if a.kind == "sleep" {
			act = "sleep(" + a.d.String() + ")"
		}
		if a.prob < 1 {
			act += "@" + strconv.FormatFloat(a.prob, 'g', -1, 64)
		}
		out = append(out, ArmedPoint{Name: name, Action: act})
	}
	slices.SortFunc(out, func(a, b ArmedPoint) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Hit runs the failpoint name: a crash exits the process at once with
// CrashExitCode (no deferred cleanup, like a SIGKILL), an error is returned,
// a sleep sleeps.
func (s *Set) Hit(name string) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	a, ok := s.points[name]
	fire := ok && s.rng.Float64() < a.prob
	s.mu.Unlock()
	if !fire {
		return nil
	}
	switch a.kind {
	case "crash":
		fmt.Fprintf(os.Stderr, "failpoint %s: crash\n", name)
		s.exit(CrashExitCode)
	case "error":
		return &Error{Name: name}
	case "sleep":
		time.Sleep(a.d)
	}
	return nil
}
