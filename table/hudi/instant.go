package hudi

import (
	"fmt"
	"strings"
	"time"
)

// Timeline actions. Commit and ReplaceCommit are the ones lakestream writes;
// the others are recognised so that tables written by Hudi itself open.
const (
	ActionCommit        = "commit"
	ActionReplaceCommit = "replacecommit"
	ActionDeltaCommit   = "deltacommit"
	ActionClean         = "clean"
	ActionRollback      = "rollback"
	ActionSavepoint     = "savepoint"
	ActionRestore       = "restore"
	ActionCompaction    = "compaction"
	ActionLogCompaction = "logcompaction"
	ActionIndexing      = "indexing"
	ActionSchemaCommit  = "schemacommit"
)

var knownActions = map[string]bool{
	ActionCommit: true, ActionReplaceCommit: true, ActionDeltaCommit: true,
	ActionClean: true, ActionRollback: true, ActionSavepoint: true,
	ActionRestore: true, ActionCompaction: true, ActionLogCompaction: true,
	ActionIndexing: true, ActionSchemaCommit: true,
}

// State is the state of an instant on the timeline.
type State int

// Instant states, in the order an instant passes through them.
const (
	StateRequested State = iota
	StateInflight
	StateCompleted
)

func (s State) String() string {
	switch s {
	case StateRequested:
		return "requested"
	case StateInflight:
		return "inflight"
	case StateCompleted:
		return "completed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Instant is one timeline file: an instant time, an action and a state.
type Instant struct {
	Time   string
	Action string
	State  State
}

// FileName is the instant's file name in .hoodie/ (timeline layout 1):
// <t>.commit.requested, <t>.inflight, <t>.commit, <t>.replacecommit.inflight...
func (i Instant) FileName() string {
	switch i.State {
	case StateRequested:
		return i.Time + "." + i.Action + ".requested"
	case StateInflight:
		if i.Action == ActionCommit {
			return i.Time + ".inflight"
		}
		return i.Time + "." + i.Action + ".inflight"
	}
	switch i.Action {
	case ActionCompaction:
		return i.Time + "." + ActionCommit
	case ActionLogCompaction:
		return i.Time + "." + ActionDeltaCommit
	}
	return i.Time + "." + i.Action
}

func (i Instant) String() string { return i.Time + "." + i.Action + "/" + i.State.String() }

// instantTimeLayout is Hudi's yyyyMMddHHmmssSSS without the millisecond dot.
const instantTimeLayout = "20060102150405.000"

// FormatInstantTime renders t (in UTC) as an instant time yyyyMMddHHmmssSSS.
func FormatInstantTime(t time.Time) string {
	return strings.Replace(t.UTC().Format(instantTimeLayout), ".", "", 1)
}

// ParseInstantTime parses a 17-digit (yyyyMMddHHmmssSSS) or 14-digit
// (yyyyMMddHHmmss, older Hudi) instant time as UTC.
func ParseInstantTime(s string) (time.Time, error) {
	switch len(s) {
	case 17:
		return time.Parse(instantTimeLayout, s[:14]+"."+s[14:])
	case 14:
		return time.Parse("20060102150405", s)
	}
	return time.Time{}, fmt.Errorf("instant time %q: want 17 digits (yyyyMMddHHmmssSSS)", s)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ParseTimelineFileName parses the name of a file directly in .hoodie/.
// It returns ok=false, err=nil for names that are not instants at all
// (hoodie.properties, directories' names...). A name that starts like an
// instant but does not parse is an error naming the problem.
func ParseTimelineFileName(name string) (inst Instant, ok bool, err error) {
	if name == "" || name[0] < '0' || name[0] > '9' {
		return Instant{}, false, nil
	}
	t, rest, found := strings.Cut(name, ".")
	if !found || rest == "" {
		return Instant{}, false, &FileError{Path: ".hoodie/" + name, Problem: "instant file name has no action"}
	}
	if !isDigits(t) || (len(t) != 17 && len(t) != 14) {
		return Instant{}, false, &FileError{Path: ".hoodie/" + name, Problem: fmt.Sprintf("malformed instant time %q (want 17 digits)", t)}
	}
	action, state := rest, StateCompleted
	switch {
	case rest == "inflight":
		action, state = ActionCommit, StateInflight
	case strings.HasSuffix(rest, ".requested"):
		action, state = strings.TrimSuffix(rest, ".requested"), StateRequested
	case strings.HasSuffix(rest, ".inflight"):
		action, state = strings.TrimSuffix(rest, ".inflight"), StateInflight
	}
	if !knownActions[action] {
		return Instant{}, false, &FileError{Path: ".hoodie/" + name, Problem: fmt.Sprintf("action %q", action), Err: ErrUnknownAction}
	}
	if state == StateCompleted && (action == ActionCompaction || action == ActionLogCompaction) {
		return Instant{}, false, &FileError{Path: ".hoodie/" + name, Problem: fmt.Sprintf("%s has no completed file of its own", action), Err: ErrUnknownAction}
	}
	return Instant{Time: t, Action: action, State: state}, true, nil
}
