package hudi

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// TimelineEntry is one instant time with the newest state its files show.
type TimelineEntry struct {
	Instant
	// Files are the instant's timeline files (names in .hoodie/), oldest
	// state first.
	Files []string
	// ModTime is the modification time of the newest state's file.
	ModTime time.Time
	// RequestedModTime is the modification time of the requested file
	// (zero if there is none).
	RequestedModTime time.Time
}

// Timeline is the active timeline: every instant in .hoodie/, by time.
type Timeline struct {
	Entries []TimelineEntry
}

// Completed returns the completed instants whose action writes base files
// (commit, replacecommit, deltacommit), oldest first.
func (tl *Timeline) Completed() []TimelineEntry {
	var out []TimelineEntry
	for _, e := range tl.Entries {
		if e.State == StateCompleted && writesData(e.Action) {
			out = append(out, e)
		}
	}
	return out
}

// Pending returns the instants not yet completed, oldest first.
func (tl *Timeline) Pending() []TimelineEntry {
	var out []TimelineEntry
	for _, e := range tl.Entries {
		if e.State != StateCompleted {
			out = append(out, e)
		}
	}
	return out
}

// Find returns the entry for instant time ts.
func (tl *Timeline) Find(ts string) (TimelineEntry, bool) {
	i := sort.Search(len(tl.Entries), func(i int) bool { return tl.Entries[i].Time >= ts })
	if i < len(tl.Entries) && tl.Entries[i].Time == ts {
		return tl.Entries[i], true
	}
	return TimelineEntry{}, false
}

// Latest returns the newest instant time on the timeline, or "".
func (tl *Timeline) Latest() string {
	if len(tl.Entries) == 0 {
		return ""
	}
	return tl.Entries[len(tl.Entries)-1].Time
}

func writesData(action string) bool {
	switch action {
	case ActionCommit, ActionReplaceCommit, ActionDeltaCommit, ActionCompaction:
		return true
	}
	return false
}

// Timeline lists .hoodie/ and returns the active timeline. Timeline files
// with malformed names or unknown actions are *FileError.
func (t *Table) Timeline(ctx context.Context) (*Timeline, error) {
	byTime := map[string]*TimelineEntry{}
	err := t.bucket.List(ctx, MetaDir+"/", func(info objstore.ObjectInfo) error {
		name := strings.TrimPrefix(info.Key, MetaDir+"/")
		if strings.Contains(name, "/") {
			return nil // sub-directories: archived/, .heartbeat/, .aux/...
		}
		inst, ok, err := ParseTimelineFileName(name)
		if err != nil || !ok {
			return err
		}
		e := byTime[inst.Time]
		if e == nil {
			e = &TimelineEntry{Instant: inst}
			byTime[inst.Time] = e
		}
		e.Files = append(e.Files, name)
		if inst.State == StateRequested {
			e.RequestedModTime = info.ModTime
		}
		switch {
		case inst.State > e.State:
			// A compaction completes as a commit: keep the completed action.
			e.Instant, e.ModTime = inst, info.ModTime
		case inst.State == e.State:
			if inst.Action != e.Action {
				return &FileError{Path: MetaDir + "/" + name, Problem: fmt.Sprintf("instant %s has both %s and %s files", inst.Time, e.Action, inst.Action)}
			}
			e.ModTime = info.ModTime
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	tl := &Timeline{Entries: make([]TimelineEntry, 0, len(byTime))}
	for _, e := range byTime {
		sort.Slice(e.Files, func(i, j int) bool { return fileState(e.Files[i]) < fileState(e.Files[j]) })
		tl.Entries = append(tl.Entries, *e)
	}
	sort.Slice(tl.Entries, func(i, j int) bool { return tl.Entries[i].Time < tl.Entries[j].Time })
	t.noteInstant(tl.Latest())
	return tl, nil
}

func fileState(name string) State {
	inst, _, _ := ParseTimelineFileName(name)
	return inst.State
}

// completedFileName is the name of the completed file of a data-writing
// action.
func completedFileName(ts, action string) string {
	return Instant{Time: ts, Action: action, State: StateCompleted}.FileName()
}

// ReadCommitMetadata reads the metadata of a completed commit or
// replacecommit.
func (t *Table) ReadCommitMetadata(ctx context.Context, e TimelineEntry) (*CommitMetadata, error) {
	if e.State != StateCompleted {
		return nil, fmt.Errorf("instant %s is %s, not completed", e.Time, e.State)
	}
	return t.readCommitMetadata(ctx, MetaDir+"/"+e.FileName(), true)
}

// readCommitMetadata decodes the commit file at name as it reads it.
func (t *Table) readCommitMetadata(ctx context.Context, name string, completed bool) (*CommitMetadata, error) {
	rc, err := t.bucket.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer rc.Close()
	return DecodeCommitMetadata(name, rc, completed)
}
