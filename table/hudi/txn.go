package hudi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/fence"
)

// BeginOptions describe the instant a writer opens.
type BeginOptions struct {
	// WriterID names the writer (required): an ingestd replica, the compactor.
	WriterID string
	// Action is ActionCommit (default) or ActionReplaceCommit.
	Action string
	// Operation is the operationType recorded; default INSERT for commits
	// and CLUSTER for replacecommits.
	Operation string
	// Topic and Partitions are the Kafka partitions the writer owns; they
	// are recorded in the inflight file so that a new owner of one of them
	// can fence this instant (FenceOthers).
	Topic      string
	Partitions []int32
	// Requested is the body of the requested file (a replacecommit's
	// clustering plan, EncodeClusteringPlan); default empty, as Hudi
	// writes a commit's.
	Requested []byte
}

// Txn is an open instant: requested and inflight are on the timeline, its
// heartbeat is kept fresh until Commit, Abort or Close.
type Txn struct {
	table     *Table
	instant   string
	action    string
	operation string
	writerID  string

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	committed bool
}

const maxInstantAttempts = 1000

// Begin opens a new instant: a unique instant time (never reused: a
// collision, whatever the two actions, is resolved by put-if-absent of the
// instant claim, InstantClaimDir/<t>, and a later time), the requested and
// inflight files, and a heartbeat.
func (t *Table) Begin(ctx context.Context, o BeginOptions) (*Txn, error) {
	if o.WriterID == "" {
		return nil, errors.New("begin: writer ID is required")
	}
	if o.Action == "" {
		o.Action = ActionCommit
	}
	if o.Action != ActionCommit && o.Action != ActionReplaceCommit {
		return nil, fmt.Errorf("begin: action %q: lakestream writes %s or %s", o.Action, ActionCommit, ActionReplaceCommit)
	}
	if parts := t.props[PropMetadataParts]; parts != "" {
		return nil, &FileError{Path: PropertiesPath, Problem: fmt.Sprintf("the table has a metadata table (%s=%s): readers would list files through it and miss lakestream's commits", PropMetadataParts, parts), Err: ErrUnsupported}
	}
	if o.Operation == "" {
		o.Operation = OperationInsert
		if o.Action == ActionReplaceCommit {
			o.Operation = OperationCluster
		}
	}
	if _, err := t.Timeline(ctx); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	var ts string
	for attempt := 0; ; attempt++ {
		if attempt == maxInstantAttempts {
			return nil, fmt.Errorf("begin: no free instant time after %d attempts", attempt)
		}
		ts = t.nextInstantTime()
		if _, found, err := t.readDecision(ctx, ts); err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		} else if found {
			continue // a rolled-back instant: never reuse its time
		}
		req := Instant{Time: ts, Action: o.Action, State: StateRequested}
		if err := t.opts.failpoints.Hit(failpoint.BeforeRequested); err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		// The claim makes the time ours whatever the action: a commit and a
		// replacecommit requested at one time have differently named
		// requested files, and would both be created.
		if claimed, err := t.claimInstant(ctx, ts, o.Action, o.WriterID); err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		} else if !claimed {
			continue
		}
		err := t.bucket.PutIfAbsent(ctx, MetaDir+"/"+req.FileName(), bytes.NewReader(o.Requested))
		if errors.Is(err, objstore.ErrExists) {
			// Taken by a writer that does not claim times (Hudi's own, or
			// a lakestream from before claims).
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("begin: create %s: %w", req.FileName(), err)
		}
		break
	}
	// Ours from here on: FenceOthers in this process leaves it alone.
	t.markOpen(ts, o.WriterID)
	x := &Txn{table: t, instant: ts, action: o.Action, operation: o.Operation, writerID: o.WriterID,
		stop: make(chan struct{}), done: make(chan struct{})}
	begun := false
	defer func() {
		if !begun {
			// Abandoned half open: recovery settles it like a crashed
			// writer's.
			close(x.done)
			t.markClosed(ts)
		}
	}()
	if err := x.beat(ctx); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	inflight := CommitMetadata{OperationType: o.Operation, ExtraMetadata: map[string]string{MetaWriterID: o.WriterID}}
	if o.Topic != "" {
		inflight.ExtraMetadata[MetaPartitions] = fence.FormatPartitions(o.Topic, o.Partitions)
	}
	body, err := inflight.Marshal()
	if err != nil {
		return nil, err
	}
	name := Instant{Time: ts, Action: o.Action, State: StateInflight}.FileName()
	// The instant is ours since the requested file is: a plain put makes a
	// retry after an ambiguous failure harmless.
	if err := t.bucket.Put(ctx, MetaDir+"/"+name, bytes.NewReader(body)); err != nil {
		return nil, fmt.Errorf("begin: create %s: %w", name, err)
	}
	if err := t.opts.failpoints.Hit(failpoint.AfterInflight); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	begun = true
	go x.heartbeatLoop()
	t.opts.logger.Debug("instant opened", "instant", ts, "action", o.Action, "writer", o.WriterID)
	return x, nil
}

// instantClaim is the body of an instant claim, for whoever debugs a
// table; only the claim's existence counts.
type instantClaim struct {
	Instant string `json:"instant"`
	Action  string `json:"action"`
	By      string `json:"by"`
}

func instantClaimKey(ts string) string { return InstantClaimDir + "/" + ts }

// claimInstant creates the claim of instant time ts with put-if-absent and
// reports whether it is ours. A put whose reply was lost and is retried
// reads as someone else's claim: the time is then skipped, never shared.
func (t *Table) claimInstant(ctx context.Context, ts, action, writerID string) (bool, error) {
	body, err := json.Marshal(instantClaim{Instant: ts, Action: action, By: writerID})
	if err != nil {
		return false, err
	}
	err = t.bucket.PutIfAbsent(ctx, instantClaimKey(ts), bytes.NewReader(body))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, objstore.ErrExists):
		return false, nil
	default:
		return false, fmt.Errorf("claim instant time %s: %w", ts, err)
	}
}

// nextInstantTime is now, or one millisecond past the newest instant seen.
func (t *Table) nextInstantTime() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := FormatInstantTime(t.opts.now())
	if ts <= t.lastInstant {
		last, err := ParseInstantTime(t.lastInstant)
		if err == nil {
			ts = FormatInstantTime(last.Add(time.Millisecond))
		}
	}
	t.lastInstant = ts
	return ts
}

// Instant returns the instant time, which names every base file the
// transaction writes.
func (x *Txn) Instant() string { return x.instant }

// Action returns ActionCommit or ActionReplaceCommit.
func (x *Txn) Action() string { return x.action }

func (x *Txn) heartbeatKey() string { return x.table.heartbeats().Key(x.instant) }

func (x *Txn) beat(ctx context.Context) error { return x.table.heartbeats().Beat(ctx, x.instant) }

func (x *Txn) heartbeatLoop() {
	defer close(x.done)
	tick := time.NewTicker(x.table.opts.heartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-x.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), x.table.opts.heartbeatInterval)
			if err := x.beat(ctx); err != nil {
				x.table.opts.logger.Warn("heartbeat failed", "instant", x.instant, "err", err)
			}
			cancel()
		}
	}
}

// Close stops the heartbeat. An instant neither committed nor aborted stays
// pending until its heartbeat expires and a writer rolls it back; from now
// on this process's FenceOthers and Recover settle it like another
// process's. Close is idempotent.
func (x *Txn) Close() error {
	x.closeOnce.Do(func() {
		close(x.stop)
		x.table.markClosed(x.instant)
	})
	<-x.done
	return nil
}

// FileStat describes one base file the transaction wrote (table.FileStat):
// its Path is <partition>/<BaseFileName>.
type FileStat = table.FileStat

// Checkpoint is what a commit records about the writer's progress.
type Checkpoint struct {
	ID      int64
	Offsets Offsets
}

// CommitRequest is the content of a commit.
type CommitRequest struct {
	Files []FileStat
	// Replaced lists, per partition, the file groups a replacecommit retires.
	Replaced map[string][]string
	// Checkpoint, if set, records the checkpoint ID and next offsets.
	Checkpoint *Checkpoint
	// Schema is the Avro schema of the rows; default: the table's.
	Schema string
	// Extra is added to extraMetadata.
	Extra map[string]string
	// Claims are the owner claims (Table.Claim) the writer holds, by
	// partition. When set, the commit is fenced unless every partition of
	// Checkpoint is still claimed by these sequences.
	Claims map[int32]int64
}

// Commit publishes the transaction: it checks that every file exists,
// writes partition metadata, records the commit decision and creates the
// completed timeline file, the only thing that makes the data visible. If
// the instant was rolled back meanwhile (this writer was presumed dead), it
// returns an error matching ErrFenced and removes the files it wrote. Commit
// is safe to retry after an error with the same request: once the commit
// decision is recorded, a retry publishes the decided metadata.
func (x *Txn) Commit(ctx context.Context, req CommitRequest) (*CommitMetadata, error) {
	t := x.table
	meta, err := x.buildMetadata(ctx, req)
	if err != nil {
		// A rollback removes the files of the instant: say so, rather than
		// that a file is missing.
		if d, found, derr := t.readDecision(ctx, x.instant); derr == nil && found && d.Decision == decisionRollback {
			return nil, x.fenced(ctx, req, d)
		}
		return nil, fmt.Errorf("commit %s: %w", x.instant, err)
	}
	parts := slices.Sorted(maps.Keys(meta.PartitionToWriteStats))
	err = forEach(ctx, len(parts), t.opts.reqConcurrency, func(ctx context.Context, i int) error {
		return t.ensurePartition(ctx, parts[i], x.instant)
	})
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", x.instant, err)
	}
	if req.Claims != nil && req.Checkpoint != nil {
		if err := t.checkClaims(ctx, x.writerID, req.Checkpoint.Offsets.Topic, req.Checkpoint.Offsets.Next, req.Claims); err != nil {
			var fe *FencedError
			if errors.As(err, &fe) {
				if aerr := x.Abort(ctx); aerr != nil {
					t.opts.logger.Warn("abort fenced instant", "instant", x.instant, "err", aerr)
				}
				return nil, &FencedError{Instant: x.instant, Reason: fe.Reason}
			}
			return nil, fmt.Errorf("commit %s: %w", x.instant, err)
		}
	}
	d, err := t.decide(ctx, decision{Decision: decisionCommit, Instant: x.instant, Action: x.action, By: x.writerID, Metadata: meta})
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", x.instant, err)
	}
	if d.Decision == decisionRollback {
		return nil, x.fenced(ctx, req, d)
	}
	if err := t.opts.failpoints.Hit(failpoint.BeforeComplete); err != nil {
		return nil, fmt.Errorf("commit %s: %w", x.instant, err)
	}
	if err := t.publish(ctx, x.instant, x.action, d.Metadata); err != nil {
		return nil, fmt.Errorf("commit %s: %w", x.instant, err)
	}
	if err := t.opts.failpoints.Hit(failpoint.AfterComplete); err != nil {
		return nil, fmt.Errorf("commit %s: %w", x.instant, err)
	}
	x.mu.Lock()
	x.committed = true
	x.mu.Unlock()
	x.Close()
	if err := t.bucket.Delete(ctx, x.heartbeatKey()); err != nil {
		t.opts.logger.Warn("delete heartbeat", "instant", x.instant, "err", err)
	}
	t.opts.logger.Debug("instant committed", "instant", x.instant, "files", len(req.Files))
	return d.Metadata, nil
}

// fenced stops the heartbeat, removes the files the writer wrote for the
// rolled-back instant and returns the *FencedError.
func (x *Txn) fenced(ctx context.Context, req CommitRequest, d decision) error {
	x.Close()
	if err := x.table.bucket.Delete(ctx, x.heartbeatKey()); err != nil {
		x.table.opts.logger.Warn("delete heartbeat of fenced instant", "instant", x.instant, "err", err)
	}
	for _, f := range req.Files {
		if err := x.table.bucket.Delete(ctx, f.Path); err != nil {
			x.table.opts.logger.Warn("remove file of fenced instant", "path", f.Path, "err", err)
		}
	}
	return &FencedError{Instant: x.instant, Reason: "rolled back by " + d.By}
}

// publish creates the completed timeline file from the decided metadata,
// streamed (CommitMetadata.WriteTo).
func (t *Table) publish(ctx context.Context, ts, action string, meta *CommitMetadata) error {
	name := MetaDir + "/" + completedFileName(ts, action)
	if meta == nil {
		return &FileError{Path: decisionKey(ts), Problem: "commit decision without metadata"}
	}
	err := putStreamed(ctx, t.bucket.PutIfAbsent, name, func(w io.Writer) error {
		_, err := meta.WriteTo(w)
		return err
	})
	if errors.Is(err, objstore.ErrExists) {
		// A retry whose first attempt landed, or another process finishing
		// the decided commit: the same metadata is fine.
		same, rerr := t.sameMetadata(ctx, name, meta)
		if rerr != nil {
			return fmt.Errorf("verify %s: %w", name, rerr)
		}
		if !same {
			return &FileError{Path: name, Problem: "completed instant exists with other content"}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	return nil
}

// sameMetadata reports whether the commit file at name holds meta: both
// rendered by WriteTo have one digest.
func (t *Table) sameMetadata(ctx context.Context, name string, meta *CommitMetadata) (bool, error) {
	cur, err := t.readCommitMetadata(ctx, name, true)
	if err != nil {
		return false, err
	}
	a, err := cur.digest()
	if err != nil {
		return false, err
	}
	b, err := meta.digest()
	return a == b, err
}

func (x *Txn) buildMetadata(ctx context.Context, req CommitRequest) (*CommitMetadata, error) {
	t := x.table
	if len(req.Replaced) > 0 && x.action != ActionReplaceCommit {
		return nil, errors.New("only a replacecommit can replace file groups")
	}
	m := &CommitMetadata{
		PartitionToWriteStats: map[string][]WriteStat{},
		ExtraMetadata:         map[string]string{},
		OperationType:         x.operation,
	}
	seen := make(map[string]bool, len(req.Files))
	type named struct{ part, fileID string }
	names := make([]named, len(req.Files))
	for i, f := range req.Files {
		if err := validateRelativePath(f.Path); err != nil {
			return nil, err
		}
		part, name := splitTablePath(f.Path)
		if err := table.ValidatePartitionPath(part); err != nil {
			return nil, err
		}
		fileID, _, ts, ok := ParseBaseFileName(name)
		if !ok {
			return nil, fmt.Errorf("file %s: not a base file name <fileId>_<token>_<instant>.parquet", f.Path)
		}
		if ts != x.instant {
			return nil, fmt.Errorf("file %s: written for instant %s, not %s", f.Path, ts, x.instant)
		}
		if seen[part+"\x00"+fileID] {
			return nil, fmt.Errorf("file %s: file group %s appears twice", f.Path, fileID)
		}
		seen[part+"\x00"+fileID] = true
		names[i] = named{part, fileID}
	}
	// Every file must exist: the stats wait on the store, so many at once.
	sizes := make([]int64, len(req.Files))
	err := forEach(ctx, len(req.Files), t.opts.reqConcurrency, func(ctx context.Context, i int) error {
		info, err := t.bucket.Stat(ctx, req.Files[i].Path)
		if err != nil {
			return fmt.Errorf("file %s: %w", req.Files[i].Path, err)
		}
		sizes[i] = info.Size
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, f := range req.Files {
		prev := f.PrevCommit
		if prev == "" {
			prev = NoPrevCommit
		}
		p, pp := f.Path, names[i].part
		m.PartitionToWriteStats[pp] = append(m.PartitionToWriteStats[pp], WriteStat{
			FileID: names[i].fileID, Path: &p, PrevCommit: prev, PartitionPath: &pp,
			NumWrites: f.NumRecords, NumInserts: f.NumRecords - f.NumUpdates, NumUpdateWrites: f.NumUpdates,
			TotalWriteBytes: sizes[i], FileSizeInBytes: sizes[i],
			MinEventTime: f.MinEventTime, MaxEventTime: f.MaxEventTime,
			RuntimeStats: &RuntimeStats{},
		})
	}
	if len(req.Replaced) > 0 {
		m.PartitionToReplaceFileIDs = map[string][]string{}
		for part, ids := range req.Replaced {
			if err := table.ValidatePartitionPath(part); err != nil {
				return nil, err
			}
			m.PartitionToReplaceFileIDs[part] = append([]string(nil), ids...)
		}
	}
	for k, v := range req.Extra {
		m.ExtraMetadata[k] = v
	}
	schema := req.Schema
	if schema == "" {
		schema = t.cfg.Schema
	}
	if schema != "" {
		m.ExtraMetadata[MetaSchema] = schema
	}
	m.ExtraMetadata[MetaWriterID] = x.writerID
	if c := req.Checkpoint; c != nil {
		if err := ValidateTopic(c.Offsets.Topic); err != nil {
			return nil, err
		}
		for p, off := range c.Offsets.Next {
			if p < 0 || off < 0 {
				return nil, fmt.Errorf("checkpoint offsets: partition %d offset %d: must not be negative", p, off)
			}
		}
		m.ExtraMetadata[MetaCheckpointID] = strconv.FormatInt(c.ID, 10)
		m.ExtraMetadata[MetaCheckpointKey] = c.Offsets.String()
	}
	return m, nil
}

// Abort rolls the instant back now: its files are removed and it leaves
// the timeline. Aborting a committed transaction is an error.
func (x *Txn) Abort(ctx context.Context) error {
	x.Close()
	x.mu.Lock()
	committed := x.committed
	x.mu.Unlock()
	if committed {
		return fmt.Errorf("abort %s: already committed", x.instant)
	}
	res, err := x.table.rollbackInstant(ctx, x.instant, x.action, x.writerID)
	if err != nil {
		return fmt.Errorf("abort %s: %w", x.instant, err)
	}
	if res.Outcome == OutcomeCompleted {
		return fmt.Errorf("abort %s: already committed", x.instant)
	}
	return nil
}
