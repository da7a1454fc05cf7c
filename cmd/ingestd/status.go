package main

import (
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/source"
)

// pipelineStatus returns the admin endpoint's /status: what every worker
// is doing and holds, every partition's position, lag, event time and pause
// state, the event-time watermark, the hot buckets, the pipeline's
// counters, the checkpoint's health (checkpointStatus) and the armed
// failpoints.
func pipelineStatus(coord *checkpoint.Coordinator, reader *source.Reader, router *bucketing.Router, readyAfter int, fps *failpoint.Set) func() any {
	return func() any {
		st := coord.Stats()
		hot := router.HotBuckets()
		if hot == nil {
			hot = []bucketing.HotBucket{}
		}
		armed := fps.Armed()
		if armed == nil {
			armed = []failpoint.ArmedPoint{}
		}
		out := map[string]any{
			"workers":        coord.WorkerStates(),
			"workerStats":    coord.WorkerStats(),
			"partitions":     reader.PartitionStates(),
			"hotBuckets":     hot,
			"hotSplit":       router.HotSplit(),
			"records":        st.Records,
			"bytes":          st.Bytes,
			"rows":           st.Rows,
			"deadLetters":    st.DeadLetters,
			"lateRecords":    st.LateRecords,
			"lateBatches":    st.LateFlushes,
			"lateBuffered":   st.LateBuffered,
			"checkpoints":    st.Checkpoints,
			"files":          st.Files,
			"rowsCommitted":  st.RowsCommitted,
			"lastInstant":    st.LastInstant,
			"lastCheckpoint": st.LastCheckpoint,
			"lastDuration":   st.LastDuration.String(),
			"checkpoint":     checkpointStatus(coord.Health(), readyAfter),
			"failpoints":     armed,
		}
		if wm, ok := reader.Watermark(); ok {
			out["watermark"] = time.UnixMicro(wm).UTC()
		}
		return out
	}
}

// checkpointHealth is /status's "checkpoint": is the pipeline ready (as
// /readyz), when did it last commit, what is failing and being retried.
// Error messages are redacted by the checkpoint package (internal/redact
// on every URL in them).
type checkpointHealth struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
	// Running: the pipeline runs (from its start until it stops).
	Running bool       `json:"running"`
	Started *time.Time `json:"started,omitempty"`
	// LastCommit is the last commit this process made; LastCompleted the
	// last checkpoint that completed (committed, or had nothing to
	// commit). Age is the time since LastCompleted (since Started before
	// one completed): what /readyz compares with ready_after_intervals
	// checkpoint intervals.
	LastCommit    *time.Time `json:"lastCommit,omitempty"`
	LastCommitAge string     `json:"lastCommitAge,omitempty"`
	LastCompleted *time.Time `json:"lastCompleted,omitempty"`
	Age           string     `json:"age,omitempty"`
	AgeSeconds    float64    `json:"ageSeconds"`
	// InProgress is the checkpoint being made, if one is.
	InProgress *progressStatus `json:"inProgress,omitempty"`
	// Retrying lists what is failing and being retried, oldest first.
	Retrying  []retryStatus  `json:"retrying"`
	LastError *failureStatus `json:"lastError,omitempty"`
	// Failures counts the failed attempts and those retried by phase and
	// error class, as lakestream_checkpoint_failures_total and
	// lakestream_checkpoint_retries_total.
	Failures []failureCount `json:"failures"`
}

type failureCount struct {
	Phase    string `json:"phase"`
	Class    string `json:"class"`
	Failures int64  `json:"failures"`
	Retries  int64  `json:"retries"`
}

type progressStatus struct {
	Phase      string    `json:"phase"`
	Since      time.Time `json:"since"`
	PhaseSince time.Time `json:"phaseSince"`
}

type retryStatus struct {
	Op          string    `json:"op"`
	Phase       string    `json:"phase"`
	Class       string    `json:"class"`
	Worker      *int      `json:"worker,omitempty"`
	Attempts    int       `json:"attempts"`
	Since       time.Time `json:"since"`
	For         string    `json:"for"`
	LastAttempt time.Time `json:"lastAttempt"`
	Error       string    `json:"error"`
}

type failureStatus struct {
	Op      string    `json:"op"`
	Phase   string    `json:"phase"`
	Class   string    `json:"class"`
	At      time.Time `json:"at"`
	Retried bool      `json:"retried"`
	Error   string    `json:"error"`
}

func checkpointStatus(h checkpoint.Health, readyAfter int) checkpointHealth {
	out := checkpointHealth{Running: h.Running, Retrying: []retryStatus{}, Failures: []failureCount{}}
	out.Ready, out.Reason = h.Ready(readyAfter)
	for _, f := range h.Failures {
		out.Failures = append(out.Failures, failureCount{Phase: f.Phase, Class: f.Class, Failures: f.Failures, Retries: f.Retries})
	}
	utc := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	out.Started, out.LastCommit, out.LastCompleted = utc(h.Started), utc(h.LastCommit), utc(h.LastCompleted)
	if !h.LastCommit.IsZero() {
		out.LastCommitAge = h.At.Sub(h.LastCommit).Round(time.Millisecond).String()
	}
	if age, ok := h.Age(); ok {
		out.Age, out.AgeSeconds = age.Round(time.Millisecond).String(), age.Seconds()
	}
	if cp := h.Checkpoint; cp != nil {
		out.InProgress = &progressStatus{Phase: cp.Phase, Since: cp.Since.UTC(), PhaseSince: cp.PhaseSince.UTC()}
	}
	for _, r := range h.Retrying {
		rs := retryStatus{Op: r.Op, Phase: r.Phase, Class: r.Class, Attempts: r.Attempts, Since: r.Since.UTC(),
			For: h.At.Sub(r.Since).Round(time.Millisecond).String(), LastAttempt: r.Last.UTC(), Error: r.Error}
		if r.Worker >= 0 {
			rs.Worker = &r.Worker
		}
		out.Retrying = append(out.Retrying, rs)
	}
	if e := h.LastError; e != nil {
		out.LastError = &failureStatus{Op: e.Op, Phase: e.Phase, Class: e.Class, At: e.At.UTC(), Retried: e.Retried, Error: e.Error}
	}
	return out
}

// readiness is /readyz's check: the pipeline runs, and a checkpoint
// completed within readyAfter checkpoint intervals (checkpoint.Health.Ready).
func readiness(coord *checkpoint.Coordinator, readyAfter int) func() (bool, string) {
	return func() (bool, string) { return coord.Health().Ready(readyAfter) }
}
