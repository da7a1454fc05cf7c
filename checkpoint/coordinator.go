package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/fence"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Source is the Kafka side of the pipeline (source.Reader).
type Source interface {
	Poll(ctx context.Context) ([]*kgo.Record, error)
	AllowRebalance()
	// QueueGroupOffsets hands the next offsets to the consumer group, for
	// lag tools, without waiting: a group commit can wait for a rebalance,
	// and a rebalance waits for this checkpoint.
	QueueGroupOffsets(next map[int32]int64)
	// Positions returns the next offset of every owned partition whose
	// start is known: after the last record Poll returned, or where the
	// partition started if Poll returned none of it yet. A checkpoint
	// stores it for the partitions without records, so that a partition
	// started at "latest" keeps its place across restarts and rebalances.
	Positions() map[int32]int64
}

// EventTimeObserver is implemented by sources that pause partitions whose
// event time runs ahead (source.Reader): the intake reports each written
// record's event time.
type EventTimeObserver interface {
	ObserveEventTime(partition int32, eventTimeMicros int64)
}

// DeadLetters receives the records that cannot be written (source.DeadLetter).
type DeadLetters interface {
	Send(rec *kgo.Record, reason, detail string)
	Flush(ctx context.Context) error
}

// Config holds what a Coordinator works with. Every field is required.
type Config struct {
	Table       table.Table // hudi.AsTable for a Hudi table
	Topic       string
	WriterID    string
	Schema      *schemas.TableSchema
	Decoder     schemas.Decoder
	Template    *bucketing.Template
	Router      *bucketing.Router
	DeadLetters DeadLetters
	// NewWriterSet opens the file writers of one worker. With a Journal,
	// its sets must call Journal.BeforeUpload before every upload
	// (writer.WithBeforeUpload).
	NewWriterSet func(worker int) (*writer.Set, error)
	// Journal, optional, records each checkpoint's files before they are
	// uploaded, so that a restart removes an incomplete checkpoint's files
	// without listing the table.
	Journal *journal.Journal
}

func (c Config) validate() error {
	var errs []error
	if c.Table == nil {
		errs = append(errs, errors.New("table is required"))
	}
	if err := fence.ValidateTopic(c.Topic); err != nil {
		errs = append(errs, err)
	}
	if c.WriterID == "" {
		errs = append(errs, errors.New("writer ID is required"))
	}
	if c.Schema == nil || c.Decoder == nil {
		errs = append(errs, errors.New("schema and decoder are required"))
	}
	if c.Template == nil || c.Router == nil {
		errs = append(errs, errors.New("partition template and router are required"))
	}
	if c.DeadLetters == nil {
		errs = append(errs, errors.New("dead-letter queue is required"))
	}
	if c.NewWriterSet == nil {
		errs = append(errs, errors.New("writer factory is required"))
	}
	return errors.Join(errs...)
}

// Coordinator runs the pipeline of one ingestd process: intake, workers and
// checkpoints. Run drives it; the rebalance hooks StartOffsets and Revoked
// plug into the source.
type Coordinator struct {
	cfg  Config
	opts options

	partitioner *bucketing.Partitioner
	fields      []templateField
	values      []bucketing.Value
	rec         schemas.Record

	workers []*worker
	filling []*rowBatch
	wg      sync.WaitGroup

	// hard is cancelled by Abort: storage work stops, nothing is committed.
	hard       context.Context
	cancelHard context.CancelFunc
	// work is what Run's checkpoints run on: hard, also cancelled once the
	// shutdown grace period has passed since Run's context ended, so that
	// a checkpoint that keeps failing cannot hold off a shutdown.
	work context.Context
	// stop is Run's context; stopWork is work, also cancelled when stop
	// ends (decode retries wait on it).
	stop     context.Context
	stopWork context.Context
	// intakeStopped: a batch was taken in only in part (a decode retry
	// stopped for shutdown): the source's positions are past records not
	// taken in, and must not be noted.
	intakeStopped bool

	mu          sync.Mutex // held while the intake or a checkpoint runs
	src         Source
	observer    EventTimeObserver // src, if it observes event times
	watermarker Watermarker       // src, if it has a watermark
	wm          int64             // watermark at the start of the poll batch
	wmOK        bool
	late        lateBuffer
	budget      memoryBudget // shared by the workers
	keyBuf      []byte       // record key of a late row, before its row is cloned
	counts      intakeCounts // see intake
	hotSplit    bool         // the router splits hot buckets (see intakeOne)
	lastBucket  string       // the last bucket routed without a split, and its worker
	lastWorker  int
	specWorker  int // the worker whose batch the next row is decoded into (see intakeOne)
	rowLen      int // the values of a row (of a flat schema; nested rows may need more)
	txn         table.Txn
	abandoned   table.Txn       // aborted when partitions were lost, not yet rolled back (settleAbandonedLocked)
	txnParts    map[int32]bool  // partitions the open instant lists (nil: unchecked)
	checkpoint  int64           // ID of the checkpoint being filled
	next        map[int32]int64 // next offset per owned partition, as processed
	committed   map[int32]int64 // next offset per partition, as last committed
	nextDue     time.Time       // when the next checkpoint is due
	fatal       error           // set by a rebalance hook, returned by Run
	maintainDue bool
	toPublish   []table.Commit // commits not yet handed to the publishers (publish)
	closed      bool

	claimMu   sync.Mutex
	claims    map[int32]int64 // owner claims held, by partition (Table.Claim)
	fromTable map[int32]int64 // next offsets the table held when partitions were assigned
	stats     stats
	health    *health // shared with the workers
	closeOnce sync.Once
	closeErr  error
}

// New validates the configuration and prepares a coordinator. It reads the
// table for this writer's last checkpoint ID.
func New(ctx context.Context, cfg Config, opts ...Option) (*Coordinator, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := errors.Join(cfg.validate(), o.validate()); err != nil {
		return nil, fmt.Errorf("checkpoint coordinator: %w", err)
	}
	fields, err := templateFields(cfg.Schema, cfg.Template)
	if err != nil {
		return nil, fmt.Errorf("checkpoint coordinator: %w", err)
	}
	lastCheckpoint, err := cfg.Table.LastCheckpoint(ctx, cfg.WriterID)
	if err != nil {
		return nil, fmt.Errorf("checkpoint coordinator: %w", err)
	}
	c := &Coordinator{
		cfg: cfg, opts: o,
		partitioner: bucketing.NewPartitioner(cfg.Template),
		fields:      fields,
		next:        map[int32]int64{},
		committed:   map[int32]int64{},
		checkpoint:  lastCheckpoint + 1,
		stats:       newStats(),
		health:      newHealth(o.now),
		hotSplit:    cfg.Router.HotSplit().Enabled,
		lastWorker:  -1,
		rowLen:      len(cfg.Schema.Parquet().Columns()),
	}
	c.budget.limit = o.memoryBudget
	c.attachTracer()
	c.hard, c.cancelHard = context.WithCancel(context.Background())
	for i := range cfg.Router.Parallelism() {
		set, err := cfg.NewWriterSet(i)
		if err != nil {
			c.cancelHard()
			for _, w := range c.workers {
				w.set.Close()
			}
			return nil, fmt.Errorf("checkpoint coordinator: worker %d: %w", i, err)
		}
		w := newWorker(i, set, c.opts.logger)
		w.retryMin, w.retryMax = o.retryMin, o.retryMax
		w.budget = &c.budget
		w.health = c.health
		c.workers = append(c.workers, w)
	}
	c.filling = make([]*rowBatch, len(c.workers))
	return c, nil
}

// StartOffsets is the source's hook for newly assigned partitions: the
// next offset of each comes from the table, never from the group.
//
// Before reading offsets it claims the partitions and fences every pending
// instant a previous owner opened for them, so that a paused previous owner
// (a zombie) can never commit them again, and the offsets read include
// everything it committed.
func (c *Coordinator) StartOffsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	held, fenced, err := c.cfg.Table.Acquire(ctx, c.cfg.WriterID, topic, partitions)
	if err != nil {
		return nil, err
	}
	for _, r := range fenced {
		c.opts.logger.Warn("fenced a previous owner's instant", "instant", r.Instant, "outcome", r.Outcome, "files_removed", r.FilesRemoved)
	}
	c.claimMu.Lock()
	if c.claims == nil {
		c.claims = map[int32]int64{}
	}
	for p, seq := range held {
		c.claims[p] = seq
	}
	c.claimMu.Unlock()
	out, err := c.cfg.Table.NextOffsets(ctx, topic, partitions)
	if err != nil {
		return nil, err
	}
	c.claimMu.Lock()
	if c.fromTable == nil {
		c.fromTable = map[int32]int64{}
	}
	for _, p := range partitions {
		delete(c.fromTable, p)
	}
	maps.Copy(c.fromTable, out)
	c.claimMu.Unlock()
	c.opts.logger.Info("partitions assigned", "partitions", partitions, "from_table", out)
	return out, nil
}

// notePositionsLocked gives every owned partition without a record yet the
// next offset the source started it at (Source.Positions), so that the
// next commit carries a next offset for every partition this process owns.
// Without it a partition started at "latest" that stays idle is not in the
// table, and every restart or rebalance moves it to the end again,
// skipping what was produced to it meanwhile.
//
// Call it only when everything Poll returned has been taken in (the
// positions are past those records). It skips a partition whose claim is
// not held (revoked, not yet disowned by the source) and one the open
// instant does not list (the next instant will).
func (c *Coordinator) notePositionsLocked() {
	if c.intakeStopped || c.allPositionedLocked() {
		return // the usual case once every partition had a record: no map per batch
	}
	pos := c.src.Positions()
	if len(pos) == 0 {
		return
	}
	c.claimMu.Lock()
	defer c.claimMu.Unlock()
	for p, next := range pos {
		if _, ok := c.next[p]; ok || next < 0 {
			continue
		}
		if _, ok := c.claims[p]; c.claims != nil && !ok {
			continue
		}
		if c.txn != nil && c.txnParts != nil && !c.txnParts[p] {
			continue
		}
		c.next[p] = next
		if at, ok := c.fromTable[p]; ok && at == next {
			// The table has it already: no checkpoint just for it.
			c.committed[p] = next
		}
	}
}

// allPositionedLocked reports whether every claimed partition has a next
// offset already (false before claims are known).
func (c *Coordinator) allPositionedLocked() bool {
	c.claimMu.Lock()
	defer c.claimMu.Unlock()
	if c.claims == nil {
		return false
	}
	for p := range c.claims {
		if _, ok := c.next[p]; !ok {
			return false
		}
	}
	return true
}

// Revoked is the source's hook for partitions leaving this process. Revoked
// partitions are checkpointed before they move. Lost ones (the group
// session ended on an error: this member was presumed dead, or the group
// coordinator was unreachable) cannot be, as another member may own them
// already: the open checkpoint is abandoned (its instant rolled back, its
// files deleted) and Run goes on; partitions assigned again resume from
// the table's offsets (StartOffsets). Should another member have claimed
// them meanwhile, its claim fences whatever this process still had open.
func (c *Coordinator) Revoked(ctx context.Context, partitions []int32, lost bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.src == nil || c.fatal != nil {
		// Not running, or stopping on an error: nothing may be committed
		// any more; the table holds what was.
		c.dropPartitionsLocked(partitions)
		return
	}
	if lost {
		c.loseLocked(partitions)
		return
	}
	// The source waits for AllowRebalance, which Run calls once a batch is
	// taken in (or step failed, and c.fatal is set): the positions are past
	// what was taken in only.
	c.notePositionsLocked()
	if err := c.checkpointLocked(c.work); err != nil {
		c.opts.logger.Error("checkpoint at revocation failed", "partitions", partitions, "err", err)
		if c.fatal == nil {
			c.fatal = err
		}
	}
	c.dropPartitionsLocked(partitions)
}

// loseLocked abandons the open checkpoint for lost partitions. The rows of
// every partition read since the last commit go with it: the source
// reports every owned partition lost at once (franz-go ends the whole
// group session), and each starts again from the table when assigned
// again. A partition that stays owned while rows of it are abandoned
// would skip them: that cannot be recovered in process, and Run stops.
func (c *Coordinator) loseLocked(partitions []int32) {
	var kept []int32
	for p, n := range c.next {
		if !slices.Contains(partitions, p) && c.committed[p] != n {
			kept = append(kept, p)
		}
	}
	c.stats.lost.Add(1)
	c.opts.logger.Warn("partitions lost: abandoning the open checkpoint; they resume from the table when assigned again",
		"partitions", partitions, "checkpoint", c.checkpoint)
	c.abortLocked(c.hard)
	// Rows read since the last commit are gone with the checkpoint:
	// never commit offsets past them.
	c.next = cloneOffsets(c.committed)
	c.dropPartitionsLocked(partitions)
	if len(kept) > 0 {
		slices.Sort(kept)
		c.fatal = fmt.Errorf("partitions %v lost while partitions %v, still owned, had rows in the abandoned checkpoint: restart to resume them from the table", partitions, kept)
	}
}

// dropPartitionsLocked forgets partitions that left this process.
func (c *Coordinator) dropPartitionsLocked(partitions []int32) {
	for _, p := range partitions {
		delete(c.next, p)
		delete(c.committed, p)
	}
	c.claimMu.Lock()
	for _, p := range partitions {
		delete(c.claims, p)
		delete(c.fromTable, p)
	}
	c.claimMu.Unlock()
}

// heldClaims returns the owner claims held (nil when partitions were never
// assigned through StartOffsets, as with a source without a group).
func (c *Coordinator) heldClaims() map[int32]int64 {
	c.claimMu.Lock()
	defer c.claimMu.Unlock()
	if c.claims == nil {
		return nil
	}
	return maps.Clone(c.claims)
}

// Run ingests until ctx is cancelled, then makes a final checkpoint and
// returns nil. It returns early with an error when a checkpoint cannot be
// made or the table fences this writer.
func (c *Coordinator) Run(ctx context.Context, src Source) (err error) {
	defer func() {
		// Once Run has returned, the rebalance hooks commit nothing: the
		// table holds what was committed and a restart resumes from it.
		c.mu.Lock()
		c.src = nil
		if c.fatal == nil {
			c.fatal = errStopped
		}
		c.mu.Unlock()
	}()
	work, cancelWork := context.WithCancelCause(c.hard)
	defer cancelWork(errStopped)
	// The grace period starts when ctx ends (SIGTERM): a checkpoint in
	// progress and the final one get it together.
	go func() {
		select {
		case <-ctx.Done():
		case <-work.Done():
			return
		}
		grace := time.NewTimer(c.opts.shutdownGrace)
		defer grace.Stop()
		select {
		case <-grace.C:
			cancelWork(errGraceOver)
		case <-work.Done():
		}
	}()
	c.health.start()
	defer c.health.stop()
	stopWork, cancelStopWork := context.WithCancel(work)
	defer cancelStopWork()
	defer context.AfterFunc(ctx, cancelStopWork)()
	c.mu.Lock()
	c.src = src
	c.work = work
	c.stop, c.stopWork = ctx, stopWork
	c.observer, _ = src.(EventTimeObserver)
	c.watermarker, _ = src.(Watermarker)
	c.nextDue = c.opts.now().Add(c.opts.interval)
	c.mu.Unlock()
	defer c.attachTasks()() // /debug/tasks (WithTasks)
	rollEvery := max(time.Second, c.opts.interval/4)
	for _, w := range c.workers {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			w.run(c.hard, rollEvery)
		}()
	}
	for {
		if ctx.Err() != nil {
			err := c.shutdown()
			c.publish(work)
			return err
		}
		wait := max(time.Until(c.due()), 10*time.Millisecond)
		pctx, cancel := context.WithTimeout(ctx, wait)
		recs, err := src.Poll(pctx)
		cancel()
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("poll: %w", err)
		}
		maintain, err := c.step(recs)
		src.AllowRebalance()
		if err != nil {
			if context.Cause(work) == errGraceOver {
				return fmt.Errorf("%w: %w", errGraceOver, err)
			}
			return err
		}
		c.publish(work)
		if maintain {
			c.maintain(work)
		}
	}
}

// step takes in a polled batch and makes the checkpoint if it is due. It
// reports whether table maintenance is due. The lock is released by a
// deferred call, so that a panic (a bug) propagates instead of deadlocking
// Run's own deferred lock.
func (c *Coordinator) step(recs []*kgo.Record) (maintain bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err = c.fatal
	if err == nil {
		err = c.intake(c.work, recs)
	}
	if errors.Is(err, errIntakeStopped) {
		// Run's context ended: shutdown makes the final checkpoint of
		// what was taken in.
		c.intakeStopped = true
		return false, nil
	}
	if err == nil {
		c.notePositionsLocked()
	}
	if err == nil && !c.opts.now().Before(c.nextDue) {
		err = c.checkpointLocked(c.work)
	}
	if err != nil && c.fatal == nil {
		// Set before Run calls AllowRebalance: a revocation must not
		// checkpoint (or note positions) past a batch not taken in.
		c.fatal = err
	}
	maintain = c.maintainDue && err == nil
	c.maintainDue = false
	return maintain, err
}

func (c *Coordinator) due() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nextDue
}

// shutdown makes the final checkpoint within the grace period.
func (c *Coordinator) shutdown() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fatal != nil {
		return c.fatal
	}
	c.notePositionsLocked()
	if err := c.checkpointLocked(c.work); err != nil {
		if context.Cause(c.work) == errGraceOver {
			err = fmt.Errorf("%w: %w", errGraceOver, err)
		}
		return fmt.Errorf("final checkpoint: %w", err)
	}
	c.opts.logger.Info("final checkpoint made", "checkpoint", c.checkpoint-1)
	return nil
}

var (
	errStopped   = errors.New("coordinator stopped")
	errGraceOver = errors.New("shutdown grace period over")
	// errIntakeStopped: a decode retry ended because Run's context did;
	// the batch's records before it were taken in.
	errIntakeStopped = errors.New("intake stopped for shutdown")
)

// decodeCtx is what a decode retry waits on: ctx, also ended when Run's
// context ends (a shutdown does not wait for the schema registry).
func (c *Coordinator) decodeCtx(ctx context.Context) context.Context {
	if c.stopWork != nil && ctx == c.work {
		return c.stopWork
	}
	return ctx
}

// Abort stops at once without committing: storage work in flight fails and
// Run returns. The open instant is rolled back by the next start.
func (c *Coordinator) Abort() { c.cancelHard() }

// Close stops the workers and releases their files. It is idempotent.
func (c *Coordinator) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.cancelHard()
		for _, w := range c.workers {
			close(w.inbox)
		}
		c.wg.Wait()
		var errs []error
		c.mu.Lock()
		if c.txn != nil {
			errs = append(errs, c.txn.Close())
		}
		c.mu.Unlock()
		for _, w := range c.workers {
			errs = append(errs, w.set.Close())
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// WorkerStates says what each worker is doing, for the admin endpoint and
// slow-checkpoint logs. A worker waiting while its upload, or another
// operation (of the checkpoint, or a decode), is retried says so, with the
// last error.
func (c *Coordinator) WorkerStates() []string {
	out := make([]string, len(c.workers))
	retrying, now := c.health.retryingList(), c.opts.now()
	for i, w := range c.workers {
		out[i] = describeWorker(w.state.Load().(string), w.id, retrying, now)
	}
	return out
}

// ensureTxn opens the checkpoint's instant at its first row, so that idle
// intervals leave no pending instant behind.
func (c *Coordinator) ensureTxn(ctx context.Context) error {
	if c.txn != nil {
		return nil
	}
	if err := c.settleAbandonedLocked(ctx); err != nil {
		return err
	}
	var txn table.Txn
	err := c.retry(ctx, PhaseBegin, "begin instant", -1, func() error {
		var err error
		o := table.BeginOptions{WriterID: c.cfg.WriterID, Topic: c.cfg.Topic}
		held := c.heldClaims()
		c.txnParts = nil
		if held != nil {
			c.txnParts = map[int32]bool{}
		}
		for p := range held {
			o.Partitions = append(o.Partitions, p)
			c.txnParts[p] = true
		}
		txn, err = c.cfg.Table.Begin(ctx, o)
		return err
	})
	if err != nil {
		return err
	}
	c.txn = txn
	if j := c.cfg.Journal; j != nil {
		if err := c.retry(ctx, PhaseBegin, "journal checkpoint", -1, func() error { return j.BeginCheckpoint(txn.Instant(), c.checkpoint) }); err != nil {
			return err
		}
	}
	for _, w := range c.workers {
		if r := w.call(ctx, workerMsg{kind: msgBegin, instant: txn.Instant(), checkpoint: c.checkpoint}); r.err != nil {
			return c.failed(PhaseBegin, r.err)
		}
	}
	return nil
}

// retry runs op with exponential backoff until it succeeds, ctx ends, or it
// fails with a fencing error. Every failure is recorded in the health
// state under phase (and worker, -1 for the coordinator's operations);
// while op is retried, Health lists it.
func (c *Coordinator) retry(ctx context.Context, phase, what string, worker int, op func() error) error {
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil {
			if attempt > 0 {
				c.health.recovered(what)
				c.opts.logger.Info("recovered", "op", what, "phase", phase, "failed_attempts", attempt)
			}
			return nil
		}
		if errors.Is(err, table.ErrFenced) || errors.Is(err, journal.ErrFailed) || errors.Is(err, errFatal) || ctx.Err() != nil {
			c.health.failed(what, phase, worker, err, false)
			return fmt.Errorf("%s: %w", what, err)
		}
		msg := c.health.failed(what, phase, worker, err, true)
		d := backoff(c.opts.retryMin, c.opts.retryMax, attempt)
		c.opts.logger.Warn("retrying", "op", what, "phase", phase, "class", ErrorClass(err), "attempt", attempt+1, "in", d, "err", msg)
		if err := sleepCtx(ctx, d); err != nil {
			c.health.recovered(what) // given up
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

func jitter() float64 { return rand.Float64() }

func cloneOffsets(m map[int32]int64) map[int32]int64 { return maps.Clone(m) }
