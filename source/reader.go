package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrClosed is returned by Poll once the Reader is closed.
var ErrClosed = errors.New("source: reader closed")

// Hooks connect the Reader to the pipeline. Every hook runs on a franz-go
// group-management goroutine, never concurrently with another hook of the
// same Reader. Assigned and Revoked never run between a Poll that returned
// records and the following AllowRebalance; StartOffsets may (it concerns
// partitions that Poll has not returned anything of yet). A hook must not
// call Close (franz-go would wait for the hook to return: a deadlock); it
// may call CommitGroupOffsets, Assigned, Positions and Lag.
type Hooks struct {
	// StartOffsets returns, for newly assigned partitions, the next offset
	// to read from the table (the commit log). Partitions missing from the
	// result (or with a negative offset) start at Config.ResetOffset. It is
	// called after Assigned and before fetching starts for those
	// partitions; the group's committed offsets are ignored. An error (and
	// a failure to list the partitions' offsets) is retried with backoff,
	// 100ms doubling to 5s, for as long as the group session lasts: the
	// member keeps its partitions while Kafka or the table's store is
	// unavailable. Nil means the table knows no offsets.
	StartOffsets func(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error)

	// Revoked is called when partitions are revoked (lost=false: in a
	// rebalance, or on Close) or lost (lost=true: the group session ended
	// on an error: it expired, the member was fenced, or the group
	// coordinator could not be reached; franz-go then reports every owned
	// partition lost and rejoins the group, and partitions assigned again
	// go through StartOffsets as new ones). For a revocation it runs
	// before the partitions can
	// be assigned to another member, and the partitions still count as
	// owned while it runs, so the pipeline can checkpoint (commit the table
	// and CommitGroupOffsets) or abandon its in-flight data for them here.
	// For a loss another member may already own them: CommitGroupOffsets
	// skips them, and the pipeline should abandon its in-flight data.
	// Records fetched but not yet returned by Poll are dropped before the
	// call.
	Revoked func(ctx context.Context, partitions []int32, lost bool)

	// Assigned is informational (metrics, logs); it runs before
	// StartOffsets for the same partitions.
	Assigned func(ctx context.Context, partitions []int32)
}

// Reader reads one topic as a member of a consumer group, starting every
// assigned partition where the table says. Poll, AllowRebalance and Close are
// meant for one goroutine (the pipeline's poll loop); CommitGroupOffsets,
// Assigned, Positions, Lag, ObserveEventTime, Watermark and PartitionStates
// may be called from any goroutine.
type Reader struct {
	cfg   Config
	opts  options
	hooks Hooks
	log   *slog.Logger

	cl    *kgo.Client
	adm   *kadm.Client
	ready chan struct{} // closed once cl and adm are set

	// Lock order (every path takes them in this order, none backwards):
	//
	//	pollMu → pauseMu → commitMu → mu
	//
	// pollMu is held by Poll only (which takes pauseMu and mu inside,
	// through adjustPauses); pauseMu by adjustPauses and revocations;
	// commitMu shared by CommitGroupOffsets, exclusive by revocations;
	// mu is the leaf, held briefly by everything. The dead-letter
	// producer's and the group committer's locks (flushMu → its mu) are
	// their own and never held with these.
	pollMu sync.Mutex // one Poll at a time

	// pauseMu serializes pausing and resuming fetches (adjustPauses, and
	// a revocation resuming what it disowns) with the franz-go calls that
	// apply them, so that franz-go's paused set follows the decisions.
	pauseMu sync.Mutex

	mu    sync.Mutex // guards buf, owned, parts, wm and wmSet
	buf   *rrBuffer
	owned map[int32]struct{}
	parts map[int32]*partState // per owned partition

	// table indexes parts by partition for ObserveEventTime (lock free);
	// replaced, never modified, under mu.
	table atomic.Pointer[[]*partState]

	wm    int64 // the last Watermark, micros
	wmSet bool

	// commitMu is held shared by CommitGroupOffsets while it checks
	// ownership and commits, and exclusively by a revocation while it
	// removes ownership: once Revoked has returned and ownership is
	// removed, no commit of those partitions is in flight or can start.
	commitMu sync.RWMutex

	groupCommits *groupCommitter // QueueGroupOffsets

	gateHeld atomic.Bool // a Poll returned records; AllowRebalance not called yet

	// The partitions the group assigned this member, revoked from it and
	// reported lost, since NewReader (Rebalances).
	assignedTotal, revokedTotal, lostTotal atomic.Int64

	closeOnce    sync.Once
	closing      atomic.Bool
	closed       chan struct{}
	lagStop      chan struct{}                      // closed by Close: refreshLag ends
	lagDone      chan struct{}                      // closed when refreshLag has ended
	cancelClose  atomic.Pointer[context.CancelFunc] // ends Close's leave (CloseContext)
	closeCtxDone atomic.Bool                        // CloseContext's context ended
}

// NewReader validates cfg and starts a group member: it joins the group and
// begins fetching in the background; records are returned by Poll.
func NewReader(cfg Config, hooks Hooks, opts ...Option) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := buildOptions(opts)
	if err := o.validateGroup(); err != nil {
		return nil, err
	}
	r := &Reader{
		opts:   o,
		cfg:    cfg,
		hooks:  hooks,
		log:    o.log.With("component", "source", "topic", cfg.Topic, "group", cfg.Group),
		ready:  make(chan struct{}),
		buf:    newRRBuffer(),
		owned:  make(map[int32]struct{}),
		parts:  make(map[int32]*partState),
		closed: make(chan struct{}),

		groupCommits: newGroupCommitter(),
	}
	r.buf.setQuotas(cfg.MaxPartitionRecords, cfg.MaxPartitionBytes)
	kopts, err := connOpts(r.log, cfg.Brokers, cfg.ClientID, cfg.Security)
	if err != nil {
		return nil, err
	}
	kopts = append(kopts,
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumerGroup(cfg.Group),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records only move our position (for Lag) past
		// transaction markers; Poll never returns them.
		kgo.KeepControlRecords(),
		kgo.FetchMaxPartitionBytes(cfg.FetchMaxPartitionBytes),
		kgo.FetchMaxBytes(cfg.FetchMaxBytes),
		// Start positions are always explicit (adjustOffsets); this only
		// applies to OFFSET_OUT_OF_RANGE, e.g. a table offset that
		// retention deleted meanwhile: resume at the log start.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
		kgo.OnPartitionsAssigned(r.onAssigned),
		kgo.OnPartitionsRevoked(r.onRevoked),
		kgo.OnPartitionsLost(r.onLost),
	)
	if cfg.SessionTimeout > 0 {
		kopts = append(kopts, kgo.SessionTimeout(cfg.SessionTimeout))
		if hb := cfg.SessionTimeout / 3; hb < 3*time.Second {
			kopts = append(kopts, kgo.HeartbeatInterval(hb))
		}
	}
	if cfg.RebalanceTimeout > 0 {
		kopts = append(kopts, kgo.RebalanceTimeout(cfg.RebalanceTimeout))
	}
	if o.instanceID != "" {
		kopts = append(kopts, kgo.InstanceID(o.instanceID))
	}
	if o.groupProtocol == GroupProtocolConsumer {
		// franz-go runs KIP-848 with a range or sticky balancer only
		// (the group coordinator's "range" and "uniform" assignors); on
		// a broker without it, it falls back to the classic protocol.
		kopts = append(kopts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.StickyBalancer()))
	}
	kopts = append(kopts, o.kgoOpts...)

	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("source: new reader: %w", err)
	}
	r.cl = cl
	r.adm = kadm.NewClient(cl)
	close(r.ready)
	if r.opts.lagRefresh > 0 {
		r.lagStop, r.lagDone = make(chan struct{}), make(chan struct{})
		go r.refreshLag(r.opts.lagRefresh)
	}
	go r.runGroupCommits()
	membership := "dynamic"
	if o.instanceID != "" {
		membership = "static"
	}
	protocol := o.groupProtocol
	if protocol == "" {
		protocol = GroupProtocolClassic
	}
	r.log.Info("reader started", "config", cfg.String(), "membership", membership, "instance_id", o.instanceID, "group_protocol", protocol)
	return r, nil
}

// Poll returns the next records of the partitions this member owns, at most
// MaxPollRecords, taken round-robin from the partitions that have records
// (in per-partition chunks, each partition in offset order), each partition
// within its quota (MaxPartitionRecords, MaxPartitionBytes). It blocks until
// there is at least one record, ctx is done (ctx.Err() is returned) or the
// Reader is closed (ErrClosed).
//
// Poll also pauses and resumes fetching per partition (PartitionBufferBytes,
// MaxEventTimeSkew); the records of a partition paused for skew are held
// back until it resumes. Every offset is still returned exactly once, in
// order.
//
// After a Poll that returned records, no partition is assigned, revoked or
// lost until AllowRebalance is called: hand the records on, then call
// AllowRebalance, well within the rebalance timeout. A Poll that returns an
// error holds nothing (unless an earlier Poll's records are still not
// released by AllowRebalance).
func (r *Reader) Poll(ctx context.Context) ([]*kgo.Record, error) {
	r.pollMu.Lock()
	defer r.pollMu.Unlock()
	<-r.ready

	held := r.gateHeld.Load() // an earlier Poll's records are not released yet
	release := func() {
		if !held {
			r.cl.AllowRebalance()
		}
	}
	for {
		if r.closing.Load() {
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Move whatever franz-go has buffered into the per-partition
		// queues without waiting (the queues are bounded per partition
		// by pausing: PartitionBufferBytes). A non-empty result holds
		// the rebalance gate. A nil context is franz-go's documented
		// "return what is buffered, do not wait".
		if err := r.absorb(r.cl.PollFetches(nil)); err != nil { //nolint:staticcheck // SA1012: nil is meaningful here
			release()
			return nil, err
		}
		r.adjustPauses()
		if r.drainable() == 0 {
			// Wait for a fetch. Whatever it returns (records,
			// ctx error, client closed) holds the gate. With
			// partitions held for skew, wake up now and then: the
			// partitions behind may become idle meanwhile.
			wctx, wcancel := ctx, context.CancelFunc(func() {})
			if r.anySkewHeld() {
				wctx, wcancel = context.WithTimeout(ctx, r.recheckEvery())
			}
			err := r.absorb(r.cl.PollFetches(wctx))
			wcancel()
			if err != nil {
				release()
				if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && wctx != ctx {
					continue // our own wake-up
				}
				return nil, err
			}
			r.adjustPauses()
		} else {
			r.holdGate()
		}
		// The gate is held: no revocation can run until
		// AllowRebalance, and any revocation that ran while we waited
		// for the gate has already dropped its partitions' queues.
		r.mu.Lock()
		recs := r.buf.drain(r.cfg.MaxPollRecords)
		if len(recs) > 0 {
			now := time.Now()
			for p, ps := range r.parts {
				if q, ok := r.buf.queues[p]; ok && q.lastDrain == r.buf.drains {
					ps.lastReturned = now
				}
			}
		}
		r.mu.Unlock()
		r.adjustPauses() // resume partitions drained below half their buffer
		if len(recs) > 0 {
			r.gateHeld.Store(true)
			return recs, nil
		}
		// Only control records, errors or revoked partitions: do not
		// block rebalances while waiting again.
		release()
	}
}

// holdGate blocks rebalances as a poll that returned records does: franz-go
// counts a poll with an already canceled context as an active poller (and
// waits for a rebalance in progress to finish first).
func (r *Reader) holdGate() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.cl.PollFetches(ctx)
}

func (r *Reader) buffered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.buffered()
}

func (r *Reader) drainable() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.drainable()
}

// absorb queues the records of fs per partition, notes each partition's high
// watermark and last stable offset, and logs its errors. It returns ErrClosed
// if the client is closed and the context error if the poll's context ended.
func (r *Reader) absorb(fs kgo.Fetches) error {
	var ret error
	for _, fe := range fs.Errors() {
		var dataLoss *kgo.ErrDataLoss
		var session *kgo.ErrGroupSession
		switch {
		case errors.Is(fe.Err, kgo.ErrClientClosed):
			ret = ErrClosed
		case errors.Is(fe.Err, context.Canceled), errors.Is(fe.Err, context.DeadlineExceeded):
			if ret == nil {
				ret = fe.Err
			}
		case errors.As(fe.Err, &dataLoss):
			r.log.Error("data loss detected: the broker lost records this reader had consumed; positions were reset",
				"partition", fe.Partition, "consumed_to", dataLoss.ConsumedTo, "reset_to", dataLoss.ResetTo)
		case errors.As(fe.Err, &session):
			r.log.Error("consumer group session failed; rejoining", "err", fe.Err)
		default:
			r.log.Warn("fetch error", "partition", fe.Partition, "err", fe.Err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		_, owned := r.owned[p.Partition]
		owned = owned && p.Topic == r.cfg.Topic
		if ps := r.parts[p.Partition]; owned && ps != nil && p.Err == nil && p.HighWatermark >= 0 {
			ps.hw = p.HighWatermark
			if p.LastStableOffset >= 0 {
				ps.lso = p.LastStableOffset
			} else {
				ps.lso = p.HighWatermark
			}
		}
		if len(p.Records) == 0 {
			return
		}
		if !owned {
			r.log.Warn("dropping records of a partition not owned", "fetched_topic", p.Topic, "partition", p.Partition, "records", len(p.Records))
			return
		}
		if back := r.buf.push(p.Partition, p.Records); back > 0 {
			r.log.Warn("fetch went back: records below offsets already read were dropped, not read twice (offset reset after a leader change?)",
				"partition", p.Partition, "dropped", back, "first_offset", p.Records[0].Offset)
		}
	})
	return ret
}

// AllowRebalance releases the records of the previous Polls: call it once
// the pipeline has handed them on. Revocations (and the Revoked hook) wait
// for it.
func (r *Reader) AllowRebalance() {
	<-r.ready
	r.gateHeld.Store(false)
	r.cl.AllowRebalance()
}

// Assigned returns the partitions this member owns, ascending.
func (r *Reader) Assigned() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.owned))
}

// Positions returns, per owned partition whose start is known, the next
// offset: after the last record Poll returned (and after any transaction
// markers that followed it), or the start offset if Poll returned none yet.
// A table commit covering everything Poll returned can store these, which
// also records a position for partitions that had no records (so that a
// partition that started at "latest" keeps its place).
func (r *Reader) Positions() map[int32]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	pos := make(map[int32]int64, len(r.owned))
	for p := range r.owned {
		if at := r.buf.position(p); at >= 0 {
			pos[p] = at
		}
	}
	return pos
}

// CommitGroupOffsets commits next offsets to the consumer group after a table
// commit, for lag tools only (restarts never read them). Partitions this
// member does not own are skipped, so a member never rewinds another
// member's commit. It returns the commit's errors, per partition.
func (r *Reader) CommitGroupOffsets(ctx context.Context, next map[int32]int64) error {
	<-r.ready
	r.commitMu.RLock()
	defer r.commitMu.RUnlock()

	offsets := make(map[int32]kgo.EpochOffset, len(next))
	var errs []error
	r.mu.Lock()
	for p, off := range next {
		if _, ok := r.owned[p]; !ok {
			continue
		}
		if off < 0 {
			errs = append(errs, fmt.Errorf("source: commit group offsets: partition %d: negative offset %d", p, off))
			continue
		}
		offsets[p] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	r.mu.Unlock()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(offsets) == 0 {
		return nil
	}
	r.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{r.cfg.Topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
						errs = append(errs, fmt.Errorf("partition %d: %w", p.Partition, err))
					}
				}
			}
		})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("source: commit group offsets: %w", err)
	}
	return nil
}

// Lag returns, per owned partition whose start position is known, the last
// stable offset minus the next offset this Reader will return. Under
// read_committed the last stable offset is the end a reader can reach (it
// equals the high watermark when no transaction is open); transaction
// markers are skipped internally so lag reaches zero on transactional
// topics. Records fetched but not yet returned by Poll count as lag.
func (r *Reader) Lag(ctx context.Context) (map[int32]int64, error) {
	<-r.ready
	pos := r.Positions()
	if len(pos) == 0 {
		return map[int32]int64{}, nil
	}
	ends, err := r.adm.ListCommittedOffsets(ctx, r.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("source: lag: %w", err)
	}
	lag := make(map[int32]int64, len(pos))
	var errs []error
	for p, at := range pos {
		end, ok := ends.Lookup(r.cfg.Topic, p)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("partition %d: no end offset listed", p))
		case end.Err != nil:
			errs = append(errs, fmt.Errorf("partition %d: %w", p, end.Err))
		default:
			lag[p] = max(0, end.Offset-at)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return lag, fmt.Errorf("source: lag: %w", err)
	}
	return lag, nil
}

// Close leaves the group (the Revoked hook runs for every owned partition
// first) and closes the client. It waits until that is done, is idempotent
// and safe to call concurrently. Call it after the poll loop stopped: if a
// Poll's records were never released with AllowRebalance, Close releases
// them itself (and logs a warning), so the final Revoked may overlap their
// processing.
//
// A static member (WithStaticMember) does not leave the group unless
// WithLeaveOnClose: its partitions stay assigned to it, unread, until it
// rejoins with the same instance ID or the session timeout passes.
func (r *Reader) Close() {
	r.closeOnce.Do(func() {
		<-r.ready
		r.closing.Store(true)
		if r.gateHeld.Load() {
			r.log.Warn("closing with polled records not released by AllowRebalance")
		}
		r.stopGroupCommits()
		if r.lagStop != nil {
			close(r.lagStop)
			<-r.lagDone
		}
		r.cl.AllowRebalance()
		ctx, cancel := context.WithCancel(context.Background())
		r.cancelClose.Store(&cancel)
		if r.closeCtxDone.Load() {
			cancel() // CloseContext gave up before Close began
		}
		// The group session ends first (the Revoked hook runs for every
		// owned partition); a static member that is to leave for good
		// then says so, as franz-go does not.
		memberID, _ := r.cl.GroupMetadata()
		if err := r.cl.LeaveGroupContext(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("leaving the group", "err", err)
		}
		if r.opts.instanceID != "" && r.opts.leaveOnClose && ctx.Err() == nil {
			r.leaveStatic(ctx, memberID)
		}
		r.cl.Close()
		cancel()
		r.mu.Lock()
		clear(r.owned)
		clear(r.parts)
		r.publishLocked()
		r.buf = newRRBuffer()
		r.buf.setQuotas(r.cfg.MaxPartitionRecords, r.cfg.MaxPartitionBytes)
		r.mu.Unlock()
		r.log.Info("reader closed")
		close(r.closed)
	})
	<-r.closed
}

// CloseContext is Close bounded by ctx: when ctx ends first, the leave
// (and the Revoked hooks it waits for) is abandoned, the client is closed
// and CloseContext returns ctx's error without waiting for Close to
// finish (a Close in progress finishes in the background). The process is
// about to exit: a member that did not leave is removed by the group
// after its session timeout.
func (r *Reader) CloseContext(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Close()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	r.closeCtxDone.Store(true)
	if c := r.cancelClose.Load(); c != nil {
		(*c)()
	}
	select {
	case <-done:
		return nil
	case <-time.After(closeAbandonWait):
		r.log.Warn("reader close did not finish in time: going on without it")
		return fmt.Errorf("source: close: %w", ctx.Err())
	}
}

// closeAbandonWait is how long CloseContext still waits for Close once its
// context has ended and the leave was cancelled.
const closeAbandonWait = time.Second

// leaveStatic sends the leave franz-go leaves out for a static member (a
// LeaveGroup request; under KIP-848 a heartbeat with member epoch -1, where
// franz-go sent -2, "back soon"), so that the group reassigns its
// partitions at once.
func (r *Reader) leaveStatic(ctx context.Context, memberID string) {
	if r.opts.groupProtocol == GroupProtocolConsumer && memberID != "" {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group = r.cfg.Group
		req.MemberID = memberID
		req.MemberEpoch = -1
		req.InstanceID = kmsg.StringPtr(r.opts.instanceID)
		resp, err := req.RequestWith(ctx, r.cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil {
			r.log.Info("left the group as a static member", "instance_id", r.opts.instanceID)
			return
		}
		// Perhaps the group runs the classic protocol (franz-go falls
		// back to it on a broker without KIP-848): leave that way.
		r.log.Debug("leaving the group with a consumer heartbeat", "instance_id", r.opts.instanceID, "err", err)
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = r.cfg.Group
	m := kmsg.NewLeaveGroupRequestMember()
	m.InstanceID = kmsg.StringPtr(r.opts.instanceID)
	m.Reason = kmsg.StringPtr("lakestream: stopped for good (leave_group_on_shutdown)")
	req.Members = append(req.Members, m)
	resp, err := req.RequestWith(ctx, r.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, mr := range resp.Members {
			if err == nil {
				err = kerr.ErrorForCode(mr.ErrorCode)
			}
		}
	}
	if err != nil {
		r.log.Warn("leaving the group as a static member", "instance_id", r.opts.instanceID, "err", err)
		return
	}
	r.log.Info("left the group as a static member", "instance_id", r.opts.instanceID)
}

func (r *Reader) topicPartitions(m map[string][]int32) []int32 {
	ps := slices.Clone(m[r.cfg.Topic])
	slices.Sort(ps)
	return slices.Compact(ps)
}

// The hooks use the client franz-go passes them: they may run before
// NewReader has set r.cl.
func (r *Reader) onAssigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	parts := r.topicPartitions(m)
	if len(parts) == 0 {
		return
	}
	r.pauseMu.Lock()
	r.mu.Lock()
	for _, p := range parts {
		r.owned[p] = struct{}{}
	}
	r.addPartsLocked(parts, time.Now())
	r.mu.Unlock()
	// A partition starts unpaused, even if franz-go still had it paused
	// from an earlier assignment.
	var stale []int32
	for _, p := range cl.PauseFetchPartitions(nil)[r.cfg.Topic] {
		if slices.Contains(parts, p) {
			stale = append(stale, p)
		}
	}
	if len(stale) > 0 {
		cl.ResumeFetchPartitions(map[string][]int32{r.cfg.Topic: stale})
	}
	r.pauseMu.Unlock()
	r.assignedTotal.Add(int64(len(parts)))
	r.log.Info("partitions assigned", "partitions", parts)
	if r.hooks.Assigned != nil {
		r.hooks.Assigned(ctx, parts)
	}
}

func (r *Reader) onRevoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	r.revoke(ctx, cl, r.topicPartitions(m), false)
}

// RebalanceCounts are the partitions a reader's group assignments moved,
// since the reader started.
type RebalanceCounts struct {
	// Assigned counts the partitions assigned to this member.
	Assigned int64
	// Revoked counts the partitions revoked in a rebalance: their
	// offsets were committed before they moved.
	Revoked int64
	// Lost counts the partitions lost: the member's session ended (it
	// missed heartbeats, was fenced or left the group) and another member
	// may own them already; their records since the last checkpoint are
	// read again by the next owner.
	Lost int64
}

// Rebalances returns the partitions assigned, revoked and lost so far.
// Safe to call from any goroutine.
func (r *Reader) Rebalances() RebalanceCounts {
	return RebalanceCounts{Assigned: r.assignedTotal.Load(), Revoked: r.revokedTotal.Load(), Lost: r.lostTotal.Load()}
}

func (r *Reader) onLost(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	r.revoke(ctx, cl, r.topicPartitions(m), true)
}

func (r *Reader) revoke(ctx context.Context, cl *kgo.Client, parts []int32, lost bool) {
	r.mu.Lock()
	parts = slices.DeleteFunc(parts, func(p int32) bool { _, ok := r.owned[p]; return !ok })
	for _, p := range parts {
		r.buf.discard(p) // never handed out: whoever owns p next re-reads them from the table's offset
	}
	r.mu.Unlock()
	if len(parts) == 0 {
		return
	}
	disown := func() {
		r.pauseMu.Lock()
		defer r.pauseMu.Unlock()
		r.commitMu.Lock()
		r.mu.Lock()
		for _, p := range parts {
			delete(r.owned, p)
			r.buf.drop(p)
		}
		paused := r.removePartsLocked(parts)
		r.mu.Unlock()
		r.commitMu.Unlock()
		// franz-go keeps partitions paused across assignments: a
		// partition assigned here again must be fetched.
		if len(paused) > 0 && !r.closing.Load() {
			cl.ResumeFetchPartitions(map[string][]int32{r.cfg.Topic: paused})
		}
	}
	if lost {
		r.lostTotal.Add(int64(len(parts)))
		r.log.Warn("partitions lost", "partitions", parts)
		disown() // another member may own them already: no more commits
	} else {
		r.revokedTotal.Add(int64(len(parts)))
		r.log.Info("partitions revoked", "partitions", parts)
	}
	if r.hooks.Revoked != nil {
		r.hooks.Revoked(ctx, parts, lost)
	}
	if !lost {
		// What the pipeline committed for them goes to the group before
		// they move, so lag tools see the handover offsets.
		r.flushGroupOffsets(parts)
		disown()
	}
}

// The backoff of start offset lookups (adjustOffsets): doubling from
// startRetryMin to startRetryMax, without a limit on the attempts.
const (
	startRetryMin = 100 * time.Millisecond
	startRetryMax = 5 * time.Second
)

// adjustOffsets replaces the group's committed offsets of newly assigned
// partitions with the table's (StartOffsets), or with ResetOffset resolved to
// an exact offset, and records them as the partitions' positions.
func (r *Reader) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	parts := slices.Sorted(maps.Keys(offsets[r.cfg.Topic]))
	if len(parts) == 0 {
		return offsets, nil
	}
	var (
		starts map[int32]startOffset
		err    error
	)
	// Retried until it succeeds or the session ends (ctx: a rebalance, a
	// lost session, Close): a broker or the table's store that is down
	// for a while (a broker restart, a leader election) is waited for as
	// a member of the group, without giving the partitions up. Ending the
	// session instead would make every partition of this member lost.
	backoff := startRetryMin
	for attempt := 1; ; attempt++ {
		starts, err = r.resolveStarts(ctx, parts)
		if err == nil {
			if attempt > 1 {
				r.log.Info("start offsets resolved", "partitions", parts, "failed_attempts", attempt-1)
			}
			break
		}
		if ctx.Err() != nil {
			r.log.Info("group session ended while resolving start offsets", "partitions", parts, "err", err)
			return nil, ctx.Err()
		}
		r.log.Warn("resolving start offsets failed; retrying", "partitions", parts, "attempt", attempt, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, startRetryMax)
	}

	adjusted := make(map[int32]kgo.Offset, len(parts))
	r.mu.Lock()
	for _, p := range parts {
		s := starts[p]
		adjusted[p] = kgo.NewOffset().At(s.offset).WithEpoch(-1)
		r.buf.assign(p, s.offset)
		if ps := r.parts[p]; ps != nil {
			ps.hw, ps.lso = s.hw, s.lso
		}
	}
	r.mu.Unlock()
	summary := make([]string, 0, len(parts))
	for _, p := range parts {
		summary = append(summary, fmt.Sprintf("%d@%d(%s)", p, starts[p].offset, starts[p].from))
	}
	r.log.Info("partitions start", "partition@offset(from)", summary)
	out := make(map[string]map[int32]kgo.Offset, len(offsets))
	maps.Copy(out, offsets)
	out[r.cfg.Topic] = adjusted
	return out, nil
}

type startOffset struct {
	offset  int64
	from    string // "table", "earliest", "latest"
	hw, lso int64  // as listed
}

// resolveStarts asks the table for the partitions' next offsets and resolves
// the others to the log start or the last stable offset.
func (r *Reader) resolveStarts(ctx context.Context, parts []int32) (map[int32]startOffset, error) {
	var table map[int32]int64
	if r.hooks.StartOffsets != nil {
		var err error
		table, err = r.hooks.StartOffsets(ctx, r.cfg.Topic, slices.Clone(parts))
		if err != nil {
			return nil, fmt.Errorf("source: start offsets from the table: %w", err)
		}
	}
	logStarts, err := r.adm.ListStartOffsets(ctx, r.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("source: list start offsets: %w", err)
	}
	stables, err := r.adm.ListCommittedOffsets(ctx, r.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("source: list last stable offsets: %w", err)
	}
	ends, err := r.adm.ListEndOffsets(ctx, r.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("source: list end offsets: %w", err)
	}
	lookup := func(l kadm.ListedOffsets, p int32) (int64, error) {
		o, ok := l.Lookup(r.cfg.Topic, p)
		if !ok {
			return 0, fmt.Errorf("partition %d not listed", p)
		}
		return o.Offset, o.Err
	}
	out := make(map[int32]startOffset, len(parts))
	for _, p := range parts {
		logStart, err := lookup(logStarts, p)
		if err != nil {
			return nil, fmt.Errorf("source: log start offset: %w", err)
		}
		stable, err := lookup(stables, p)
		if err != nil {
			return nil, fmt.Errorf("source: last stable offset: %w", err)
		}
		end, err := lookup(ends, p)
		if err != nil {
			return nil, fmt.Errorf("source: end offset: %w", err)
		}
		off, ok := table[p]
		switch {
		case ok && off >= 0:
			from := "table"
			switch {
			case off < logStart:
				r.log.Error("table offset is below the log start: records were deleted before they were ingested; resuming at the log start",
					"partition", p, "table_offset", off, "log_start", logStart, "lost_records", logStart-off)
				off = logStart
			case off > end:
				// The log ends before offsets the table has ingested: the
				// topic was deleted and recreated, or an unclean leader
				// election cut its log. Its records from the log start
				// on are read (offsets used before are used again):
				// starting at the table offset would make the broker
				// reset the fetch to the log start, and the buffer's
				// guard against fetches that go back would then drop,
				// silently, every record below the table offset.
				r.log.Error("table offset is beyond the log end (topic recreated, or its log truncated): reading restarts at the log start, and records there reuse offsets the table has seen",
					"partition", p, "table_offset", off, "log_start", logStart, "log_end", end)
				off, from = logStart, "log start: table offset beyond the log end"
			case off > stable:
				r.log.Warn("table offset is beyond the last stable offset (a transaction is open)",
					"partition", p, "table_offset", off, "last_stable", stable)
			}
			out[p] = startOffset{offset: off, from: from}
		case r.cfg.ResetOffset == ResetLatest:
			if ok {
				r.log.Warn("ignoring negative table offset", "partition", p, "table_offset", off)
			}
			out[p] = startOffset{offset: stable, from: ResetLatest}
		default:
			if ok {
				r.log.Warn("ignoring negative table offset", "partition", p, "table_offset", off)
			}
			out[p] = startOffset{offset: logStart, from: ResetEarliest}
		}
		s := out[p]
		s.hw, s.lso = end, stable
		out[p] = s
	}
	return out, nil
}

// ReleaseStaticMember prepares the start of a static member (WithStaticMember)
// under the consumer group protocol (KIP-848). There, a member whose process
// died without leaving (SIGKILL, OOM, a node lost) keeps its instance ID
// until the session timeout passes (the broker's
// group.consumer.session.timeout.ms, 45 s by default): its restart is
// refused (UNRELEASED_INSTANCE_ID) and its partitions are read by no one
// meanwhile. ReleaseStaticMember finds the member that holds instanceID in
// cfg's group and makes it leave as a static member would at a clean
// shutdown (a heartbeat with member epoch -2), so that the restart takes
// its partitions back at once, without a rebalance, as under the classic
// protocol, where a join with a known instance ID replaces the old member.
// A process that still runs with that instance ID (two replicas sharing a
// writer ID) is fenced as under the classic protocol; its commits are
// fenced by the table's owner claims. It returns the number of members
// released; an error only means the restart may wait for the session
// timeout.
func ReleaseStaticMember(ctx context.Context, cfg Config, instanceID string, opts ...Option) (int, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	cfg = cfg.withDefaults()
	o := buildOptions(opts)
	log := o.log.With("component", "source", "topic", cfg.Topic, "group", cfg.Group)
	kopts, err := connOpts(log, cfg.Brokers, cfg.ClientID, cfg.Security)
	if err != nil {
		return 0, fmt.Errorf("source: release static member: %w", err)
	}
	cl, err := kgo.NewClient(append(kopts, o.kgoOpts...)...)
	if err != nil {
		return 0, fmt.Errorf("source: release static member: %w", err)
	}
	defer cl.Close()
	groups, err := kadm.NewClient(cl).DescribeConsumerGroups(ctx, cfg.Group)
	if err != nil {
		return 0, fmt.Errorf("source: release static member: describe group %s: %w", cfg.Group, err)
	}
	g, ok := groups[cfg.Group]
	if !ok || g.Err != nil {
		// Not a consumer-protocol group (yet): nothing holds the ID.
		return 0, nil
	}
	released := 0
	var errs []error
	for _, m := range g.Members {
		if m.InstanceID == nil || *m.InstanceID != instanceID {
			continue
		}
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group = cfg.Group
		req.MemberID = m.MemberID
		req.MemberEpoch = -2 // a static member's temporary leave
		req.InstanceID = kmsg.StringPtr(instanceID)
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("member %s: %w", m.MemberID, err))
			continue
		}
		released++
		log.Info("released the group membership a previous process left behind, to take its partitions back", "instance_id", instanceID, "member_id", m.MemberID,
			"assigned", m.Assignment.Sorted())
	}
	if err := errors.Join(errs...); err != nil {
		return released, fmt.Errorf("source: release static member %s: %w", instanceID, err)
	}
	return released, nil
}
