package checkpoint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/redact"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/table"
)

// The phases of the pipeline whose operations can fail, as Health and the
// failure counters name them. A checkpoint goes through begin, barrier,
// upload, dead_letters and commit in that order; write, roll and decode
// happen between checkpoints, maintenance after some, publish after each
// commit.
const (
	// PhaseBegin: the checkpoint's instant is opened on the timeline
	// (Table.Begin), journaled, and the workers start its files.
	PhaseBegin = "begin"
	// PhaseBarrier: the rows read so far (late rows included) are handed
	// to the workers. Only a cancellation fails it.
	PhaseBarrier = "barrier"
	// PhaseWrite: a worker writes rows; a rolled file is uploaded on the
	// way (retried a few times, then fatal).
	PhaseWrite = "write"
	// PhaseRoll: a worker rolls its idle files; a failed upload is left
	// for the next write or the checkpoint's upload.
	PhaseRoll = "roll"
	// PhaseUpload: every worker closes and uploads the checkpoint's files
	// (retried until it succeeds or the shutdown grace period ends).
	PhaseUpload = "upload"
	// PhaseDeadLetters: the dead-letter producer is flushed (fatal).
	PhaseDeadLetters = "dead_letters"
	// PhaseCommit: the commit is written to the timeline (retried).
	PhaseCommit = "commit"
	// PhaseMaintenance: dead writers' instants are rolled back and old
	// instants archived (a failure waits for the next round).
	PhaseMaintenance = "maintenance"
	// PhasePublish: a publisher (WithPublishers) failed to publish a
	// commit. The commit stands; the failure is counted, not retried
	// (the publisher catches up at the next commit).
	PhasePublish = "publish"
	// PhaseDecode: a record's schema could not be fetched from the
	// registry (retried until it can).
	PhaseDecode = "decode"
)

// The error classes of Health and the failure counters: a small, stable
// set, derived from the error (ErrorClass).
const (
	ClassNoSpace  = "no_space" // a disk is full (ENOSPC, EDQUOT), local or the filesystem table's
	ClassFenced   = "fenced"   // the instant was fenced, or a conditional write lost (another writer)
	ClassJournal  = "journal"  // the local checkpoint journal failed
	ClassTimeout  = "timeout"  // a deadline passed (a storage or network timeout)
	ClassCanceled = "canceled" // stopped: shutdown, abort, or the grace period ended
	ClassStorage  = "storage"  // any other object-store, filesystem or network error
	ClassOther    = "other"    // anything else (dead-letter producer, injected failpoints, bugs)
)

// ErrorClass sorts an error of the pipeline into one of the Class
// constants, in their order of precedence.
func ErrorClass(err error) string {
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return ClassNoSpace
	case errors.Is(err, table.ErrFenced) || errors.Is(err, objstore.ErrExists):
		return ClassFenced
	case errors.Is(err, journal.ErrFailed) || errors.Is(err, journal.ErrClosed) || errors.Is(err, journal.ErrCorrupt) || errors.Is(err, journal.ErrLocked):
		return ClassJournal
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout()):
		return ClassTimeout
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case isStorageError(err):
		return ClassStorage
	}
	return ClassOther
}

// isStorageError reports errors of the object store or the local disk: a
// filesystem operation (fs.PathError, os.LinkError, os.SyscallError), the
// network, an S3 API error (smithy.APIError: it has an error code), a
// missing object, or a fault injected by objstore.Faulty.
func isStorageError(err error) bool {
	var (
		pathErr *fs.PathError
		linkErr *os.LinkError
		sysErr  *os.SyscallError
		netErr  net.Error
		apiErr  interface{ ErrorCode() string }
	)
	return errors.As(err, &pathErr) || errors.As(err, &linkErr) || errors.As(err, &sysErr) || errors.As(err, &netErr) ||
		errors.As(err, &apiErr) || errors.Is(err, objstore.ErrNotExist) || errors.Is(err, objstore.ErrInjected)
}

// Health is a snapshot of how the pipeline fares: for a readiness check,
// /status and the metrics. Coordinator.Health returns it.
type Health struct {
	// At is when the snapshot was taken (the coordinator's clock).
	At time.Time
	// Running is true from the start of Run until it returns; Started is
	// when Run started (zero before).
	Running bool
	Started time.Time
	// Interval is the checkpoint interval.
	Interval time.Duration
	// LastCommit is when this process last committed to the table (zero:
	// not yet). LastCompleted is when a checkpoint last completed: it
	// committed, or had nothing to commit (nothing was read since the
	// last one): the table holds everything read until then.
	LastCommit    time.Time
	LastCompleted time.Time
	// Checkpoint is the checkpoint in progress (nil between checkpoints).
	Checkpoint *CheckpointProgress
	// Retrying lists the operations that failed and are being retried,
	// oldest first. Empty when nothing is failing.
	Retrying []RetryState
	// LastError is the most recent failure (retried or not), nil if none.
	LastError *Failure
	// Failures counts the failures by phase and class, in that order.
	Failures []FailureCount
}

// CheckpointProgress is where a checkpoint in progress is.
type CheckpointProgress struct {
	Phase      string    // a Phase constant
	Since      time.Time // when the checkpoint started
	PhaseSince time.Time // when it entered Phase
}

// RetryState is an operation that keeps failing and is being retried.
type RetryState struct {
	Op       string // what is retried, e.g. "commit", "close files of worker 1"
	Phase    string // a Phase constant
	Class    string // the class of the last error (a Class constant)
	Worker   int    // the worker whose operation it is, -1 for the coordinator's
	Attempts int    // failed attempts so far
	Since    time.Time
	Last     time.Time // the last failure
	// Error is the last error's message, with the user-info and query
	// values of every URL in it masked (internal/redact).
	Error string
}

// Failure is one failed operation.
type Failure struct {
	Op    string
	Phase string
	Class string
	Error string // redacted, as RetryState.Error
	At    time.Time
	// Retried says whether the operation was to be tried again.
	Retried bool
}

// FailureCount counts the failures of one phase and class: every failed
// attempt (Failures) and those followed by another attempt (Retries).
// Failures minus Retries failed for good: the checkpoint, or the process,
// stopped on them.
type FailureCount struct {
	Phase    string
	Class    string
	Failures int64
	Retries  int64
}

// Age is how long ago the last checkpoint completed, or, before the first
// one, how long ago Run started. ok is false before Run started.
func (h Health) Age() (d time.Duration, ok bool) {
	since := h.LastCompleted
	if since.IsZero() {
		since = h.Started
	}
	if since.IsZero() {
		return 0, false
	}
	return max(h.At.Sub(since), 0), true
}

// Ready says whether the pipeline is running and keeps its table current:
// a checkpoint completed within intervals checkpoint intervals (or Run
// started less than that long ago). Otherwise it returns why not.
func (h Health) Ready(intervals int) (ready bool, reason string) {
	switch {
	case h.Started.IsZero():
		return false, "the pipeline has not started"
	case !h.Running:
		return false, "the pipeline has stopped"
	}
	age, _ := h.Age()
	intervals = max(intervals, 1)
	limit := time.Duration(intervals) * h.Interval
	if age <= limit {
		return true, ""
	}
	var b strings.Builder
	if h.LastCompleted.IsZero() {
		fmt.Fprintf(&b, "no checkpoint completed since the pipeline started %v ago", age.Round(time.Millisecond))
	} else {
		fmt.Fprintf(&b, "no checkpoint completed for %v (last at %s)", age.Round(time.Millisecond), h.LastCompleted.UTC().Format(time.RFC3339Nano))
	}
	fmt.Fprintf(&b, ", more than %d checkpoint intervals of %v", intervals, h.Interval)
	if len(h.Retrying) > 0 {
		b.WriteString("; retrying ")
		b.WriteString(h.Retrying[0].Describe(h.At))
	} else if cp := h.Checkpoint; cp != nil {
		fmt.Fprintf(&b, "; checkpoint in phase %s since %s", cp.Phase, cp.PhaseSince.UTC().Format(time.RFC3339Nano))
	}
	return false, b.String()
}

// Describe says what is retried, how often and since when, as of now.
func (r RetryState) Describe(now time.Time) string {
	return fmt.Sprintf("%s (phase %s): %d failed attempts since %s (%v), last error (%s): %s",
		r.Op, r.Phase, r.Attempts, r.Since.UTC().Format(time.RFC3339), now.Sub(r.Since).Round(time.Millisecond), r.Class, r.Error)
}

// Health returns a snapshot of how the pipeline fares. It never waits for
// a checkpoint in progress.
func (c *Coordinator) Health() Health {
	h := c.health
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Health{
		At: h.now(), Running: h.running, Started: h.started, Interval: c.opts.interval,
		LastCommit: h.lastCommit, LastCompleted: h.lastCompleted,
		Retrying: h.retryingLocked(),
	}
	if h.phase != "" {
		out.Checkpoint = &CheckpointProgress{Phase: h.phase, Since: h.cpSince, PhaseSince: h.phaseSince}
	}
	if h.lastErr != nil {
		e := *h.lastErr
		out.LastError = &e
	}
	for _, n := range h.counts {
		out.Failures = append(out.Failures, *n)
	}
	slices.SortFunc(out.Failures, func(a, b FailureCount) int {
		return cmp.Or(cmp.Compare(a.Phase, b.Phase), cmp.Compare(a.Class, b.Class))
	})
	return out
}

// health keeps what Health reports. It is written when an operation fails
// or recovers and a few times per checkpoint, never per record: its lock
// is not on the intake's or the workers' path.
type health struct {
	now func() time.Time

	mu            sync.Mutex
	running       bool
	started       time.Time
	lastCommit    time.Time
	lastCompleted time.Time
	phase         string
	cpSince       time.Time
	phaseSince    time.Time
	counts        map[[2]string]*FailureCount
	retrying      map[string]*RetryState
	lastErr       *Failure
	task          *coordinatorTask // if set: the coordinator's /debug/tasks line (tasks.go)
	timing        phaseTiming      // the phases of the checkpoint in progress, and the last one's (slowlog.go)
	trace         *cpTrace         // the checkpoint's spans (trace.go); nil: none
}

func newHealth(now func() time.Time) *health {
	return &health{now: now, counts: map[[2]string]*FailureCount{}, retrying: map[string]*RetryState{}}
}

func (h *health) start() {
	h.mu.Lock()
	h.running, h.started = true, h.now()
	h.mu.Unlock()
}

func (h *health) stop() {
	h.mu.Lock()
	h.running, h.phase = false, ""
	clear(h.retrying)
	h.trace.changed("", h.now())
	h.mu.Unlock()
}

// enter records that the checkpoint in progress entered phase.
func (h *health) enter(phase string) {
	h.mu.Lock()
	now := h.now()
	if h.phase == "" {
		h.cpSince = now
	}
	h.phase, h.phaseSince = phase, now
	h.phaseChangedLocked()
	h.mu.Unlock()
}

// completed records a checkpoint that completed at, committed or not.
func (h *health) completed(at time.Time, committed bool) {
	h.mu.Lock()
	h.lastCompleted, h.phase = at, ""
	if committed {
		h.lastCommit = at
	}
	h.phaseChangedLocked()
	h.mu.Unlock()
}

// left records that the checkpoint in progress ended without completing.
func (h *health) left() {
	h.mu.Lock()
	h.phase = ""
	h.phaseChangedLocked()
	h.mu.Unlock()
}

// failed records a failed attempt of op (in phase, by worker or -1): it
// is counted, becomes the last error, and, if it is to be retried, op is
// listed as retrying until recovered. It returns the error's redacted
// message.
func (h *health) failed(op, phase string, worker int, err error, retry bool) string {
	class, msg := ErrorClass(err), redactMessage(err.Error())
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.retryChangedLocked()
	now := h.now()
	k := [2]string{phase, class}
	n := h.counts[k]
	if n == nil {
		n = &FailureCount{Phase: phase, Class: class}
		h.counts[k] = n
	}
	n.Failures++
	h.lastErr = &Failure{Op: op, Phase: phase, Class: class, Error: msg, At: now, Retried: retry}
	h.trace.failed(op, phase, class, msg, retry, now)
	if !retry {
		delete(h.retrying, op)
		return msg
	}
	n.Retries++
	r := h.retrying[op]
	if r == nil {
		r = &RetryState{Op: op, Phase: phase, Worker: worker, Since: now}
		h.retrying[op] = r
	}
	r.Attempts++
	r.Class, r.Error, r.Last = class, msg, now
	return msg
}

// recovered records that op succeeded (or stopped being retried).
func (h *health) recovered(op string) {
	h.mu.Lock()
	delete(h.retrying, op)
	h.retryChangedLocked()
	h.mu.Unlock()
}

func (h *health) retryingList() []RetryState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.retryingLocked()
}

func (h *health) retryingLocked() []RetryState {
	out := make([]RetryState, 0, len(h.retrying))
	for _, r := range h.retrying {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b RetryState) int { return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Op, b.Op)) })
	return out
}

// failed records a failure of phase that is not retried and returns err.
func (c *Coordinator) failed(phase string, err error) error {
	c.health.failed(phase, phase, -1, err, false)
	return err
}

// stateIdle is the state of a worker waiting for a message.
const stateIdle = "idle"

// describeWorker is what a worker in state does, given what is retried: a
// worker waiting while its own upload, or another operation (of the
// checkpoint, or a decode), is retried is not simply idle.
func describeWorker(state string, worker int, retrying []RetryState, now time.Time) string {
	if state != stateIdle || len(retrying) == 0 {
		return state
	}
	for _, r := range retrying {
		if r.Worker == worker {
			return "waiting to retry " + r.Describe(now)
		}
	}
	return "idle while the coordinator retries " + retrying[0].Describe(now)
}

// redactMessage masks, with internal/redact, the user-info and query
// values of every URL (and user:password@host) in an error message,
// keeping the rest of the message: an SDK's error quotes the request URL,
// and a presigned or configured URL may carry credentials.
func redactMessage(s string) string {
	if !strings.Contains(s, "://") && !strings.ContainsAny(s, "@?") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		i := strings.IndexFunc(s, unicode.IsSpace)
		if i < 0 {
			i = len(s)
		}
		b.WriteString(redactToken(s[:i]))
		s = s[i:]
		j := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsSpace(r) })
		if j < 0 {
			j = len(s)
		}
		b.WriteString(s[:j])
		s = s[j:]
	}
	return b.String()
}

// redactToken redacts one word of a message that looks like a URL, without
// the quotes and punctuation around it.
func redactToken(tok string) string {
	if !strings.Contains(tok, "://") && !strings.ContainsAny(tok, "@?") {
		return tok
	}
	start := strings.IndexFunc(tok, func(r rune) bool { return !strings.ContainsRune(`"'<([{`, r) })
	end := strings.LastIndexFunc(tok, func(r rune) bool { return !strings.ContainsRune(`"'>)]},;:.`, r) }) + 1
	if start < 0 || end <= start {
		return tok
	}
	return tok[:start] + redact.URL(tok[start:end]) + tok[end:]
}
