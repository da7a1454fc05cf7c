package checkpoint

import (
	"context"
	"errors"
	"fmt"
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
//
// The Coordinator holds the state machine (running, stopped on an error,
// closed) and the checkpoint sequence, and delegates the rest to parts
// that own their state and logic, each in its own file:
//
//	intakeState      intake.go      decode, route and batch records (bucketPaths, router, eventClock, lateBuffer)
//	workerPool       pool.go        the workers' goroutines and the batches being filled
//	kafkaPartitions  partitions.go  owned Kafka partitions: claims, table offsets, next and committed offsets
//	openInstant      instant.go     the checkpoint's ID, its open instant and the partitions it lists
//	checkpointSchedule schedule.go  when checkpoints, maintenance and idle rolls are due
//	publishQueue     publish.go     commits waiting for the publishers
//	retrier          retry.go       backoff of retried storage operations
//	runContexts      runctx.go      hard (Abort), work (grace period), stop and decode contexts
//	health, stats    health.go, stats.go  what Health and Stats report
//
// Locks, in the order they may be taken (never the other way):
//
//  1. mu guards the state machine (src, fatal, closed), the run contexts
//     but hard, the intake state, the pool's filling batches,
//     kafkaPartitions' next and committed offsets, the open instant and
//     the schedule. It is held while the intake or a checkpoint runs.
//  2. kafkaPartitions.mu guards the owner claims and the offsets the table
//     held at assignment; publishQueue.mu the queued commits; health.mu
//     what Health reports (with the /debug/tasks line, the phase timing and
//     the spans); stats.mu the counters that are not atomic. Each is a
//     leaf: nothing else is locked while it is held.
//
// Goroutines:
//   - Run's (its caller's): the poll loop, step (intake and due
//     checkpoints), the final checkpoint, publish and maintain (outside mu);
//   - the source's rebalance goroutine: StartOffsets (kafkaPartitions.mu
//     only: an assignment never waits for a checkpoint) and Revoked (mu:
//     the checkpoint of revoked partitions, or the abandonment of lost
//     ones);
//   - one per worker (workerPool.start, stopped by Close), writing its
//     files; finishWorkers starts one per worker for each checkpoint's
//     uploads, which ends before the checkpoint goes on;
//   - the grace timer (graceAfter), which ends with Run;
//   - readers of Health, Stats and WorkerStates (the admin endpoint,
//     metrics): health.mu, stats.mu and atomics only, never mu.
type Coordinator struct {
	cfg  Config
	opts options

	mu     sync.Mutex // see above
	src    Source     // nil unless Run runs
	fatal  error      // set by a step or a rebalance hook: Run returns it, nothing more is committed
	closed bool
	run    runContexts

	in     intakeState
	pool   workerPool
	kafka  kafkaPartitions
	inst   openInstant
	sched  checkpointSchedule
	pub    publishQueue
	retry  retrier
	budget memoryBudget // shared by the workers (atomics)
	stats  stats
	health *health // shared with the workers

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
	paths, err := newBucketPaths(cfg.Schema, cfg.Template)
	if err != nil {
		return nil, fmt.Errorf("checkpoint coordinator: %w", err)
	}
	lastCheckpoint, err := cfg.Table.LastCheckpoint(ctx, cfg.WriterID)
	if err != nil {
		return nil, fmt.Errorf("checkpoint coordinator: %w", err)
	}
	c := &Coordinator{
		cfg: cfg, opts: o,
		run: newRunContexts(),
		in: intakeState{
			paths: paths, route: newRouter(cfg.Router), clock: eventClock{allowed: o.allowedLateness},
			rowLen: len(cfg.Schema.Parquet().Columns()),
		},
		kafka:  newKafkaPartitions(),
		inst:   openInstant{id: lastCheckpoint + 1},
		sched:  newCheckpointSchedule(o),
		pub:    publishQueue{publishers: o.publishers},
		stats:  newStats(),
		health: newHealth(o.now),
	}
	c.retry = retrier{health: c.health, log: o.logger, min: o.retryMin, max: o.retryMax}
	c.budget.limit = o.memoryBudget
	c.attachTracer()
	for i := range cfg.Router.Parallelism() {
		set, err := cfg.NewWriterSet(i)
		if err != nil {
			c.run.cancelHard()
			c.pool.closeSets()
			return nil, fmt.Errorf("checkpoint coordinator: worker %d: %w", i, err)
		}
		w := newWorker(i, set, c.opts.logger)
		w.retryMin, w.retryMax = o.retryMin, o.retryMax
		w.budget = &c.budget
		w.health = c.health
		c.pool.workers = append(c.pool.workers, w)
	}
	c.pool.filling = make([]*rowBatch, len(c.pool.workers))
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
	c.kafka.claimed(held)
	out, err := c.cfg.Table.NextOffsets(ctx, topic, partitions)
	if err != nil {
		return nil, err
	}
	c.kafka.assigned(partitions, out)
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
	if c.in.stopped || c.kafka.allPositioned() {
		return // the usual case once every partition had a record: no map per batch
	}
	pos := c.src.Positions()
	if len(pos) == 0 {
		return
	}
	c.kafka.notePositions(pos, c.inst.lists)
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
		c.kafka.drop(partitions)
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
	if err := c.checkpointLocked(c.run.work); err != nil {
		c.opts.logger.Error("checkpoint at revocation failed", "partitions", partitions, "err", err)
		if c.fatal == nil {
			c.fatal = err
		}
	}
	c.kafka.drop(partitions)
}

// loseLocked abandons the open checkpoint for lost partitions. The rows of
// every partition read since the last commit go with it: the source
// reports every owned partition lost at once (franz-go ends the whole
// group session), and each starts again from the table when assigned
// again. A partition that stays owned while rows of it are abandoned
// would skip them: that cannot be recovered in process, and Run stops.
func (c *Coordinator) loseLocked(partitions []int32) {
	kept := c.kafka.uncommittedBesides(partitions)
	c.stats.lost.Add(1)
	c.opts.logger.Warn("partitions lost: abandoning the open checkpoint; they resume from the table when assigned again",
		"partitions", partitions, "checkpoint", c.inst.id)
	c.abortLocked(c.run.hard)
	// Rows read since the last commit are gone with the checkpoint:
	// never commit offsets past them.
	c.kafka.rewind()
	c.kafka.drop(partitions)
	if len(kept) > 0 {
		c.fatal = fmt.Errorf("partitions %v lost while partitions %v, still owned, had rows in the abandoned checkpoint: restart to resume them from the table", partitions, kept)
	}
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
	work, cancelWork := context.WithCancelCause(c.run.hard)
	defer cancelWork(errStopped)
	graceAfter(ctx, work, cancelWork, c.opts.shutdownGrace)
	c.health.start()
	defer c.health.stop()
	stopWork, cancelStopWork := context.WithCancel(work)
	defer cancelStopWork()
	defer context.AfterFunc(ctx, cancelStopWork)()
	c.mu.Lock()
	c.src = src
	c.run.work = work
	c.run.stop, c.run.stopWork = ctx, stopWork
	c.in.clock.attach(src)
	c.sched.start()
	c.mu.Unlock()
	defer c.attachTasks()() // /debug/tasks (WithTasks)
	c.pool.start(c.run.hard, c.sched.rollEvery())
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
		err = c.intake(c.run.work, recs)
	}
	if errors.Is(err, errIntakeStopped) {
		// Run's context ended: shutdown makes the final checkpoint of
		// what was taken in.
		c.in.stopped = true
		return false, nil
	}
	if err == nil {
		c.notePositionsLocked()
	}
	if err == nil && c.sched.isDue() {
		err = c.checkpointLocked(c.run.work)
	}
	if err != nil && c.fatal == nil {
		// Set before Run calls AllowRebalance: a revocation must not
		// checkpoint (or note positions) past a batch not taken in.
		c.fatal = err
	}
	return c.sched.takeMaintenance(err == nil), err
}

func (c *Coordinator) due() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sched.due()
}

// shutdown makes the final checkpoint within the grace period.
func (c *Coordinator) shutdown() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fatal != nil {
		return c.fatal
	}
	c.notePositionsLocked()
	if err := c.checkpointLocked(c.run.work); err != nil {
		if context.Cause(c.run.work) == errGraceOver {
			err = fmt.Errorf("%w: %w", errGraceOver, err)
		}
		return fmt.Errorf("final checkpoint: %w", err)
	}
	c.opts.logger.Info("final checkpoint made", "checkpoint", c.inst.id-1)
	return nil
}

// Abort stops at once without committing: storage work in flight fails and
// Run returns. The open instant is rolled back by the next start.
func (c *Coordinator) Abort() { c.run.cancelHard() }

// Close stops the workers and releases their files. It is idempotent.
func (c *Coordinator) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.run.cancelHard()
		c.pool.stop()
		var errs []error
		c.mu.Lock()
		if c.inst.txn != nil {
			errs = append(errs, c.inst.txn.Close())
		}
		c.mu.Unlock()
		errs = append(errs, c.pool.closeSets())
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// WorkerStates says what each worker is doing, for the admin endpoint and
// slow-checkpoint logs. A worker waiting while its upload, or another
// operation (of the checkpoint, or a decode), is retried says so, with the
// last error.
func (c *Coordinator) WorkerStates() []string {
	out := make([]string, len(c.pool.workers))
	retrying, now := c.health.retryingList(), c.opts.now()
	for i, w := range c.pool.workers {
		out[i] = describeWorker(w.state.Load().(string), w.id, retrying, now)
	}
	return out
}
