package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Coordinator runs the pipeline of one ingestd process: intake, workers and
// checkpoints. Run drives it; the rebalance hooks StartOffsets and Revoked
// plug into the source.
//
// The Coordinator holds the state machine (running, stopped on an error,
// closed: this file), the checkpoint sequence (commit.go) and the
// rebalance hooks (rebalance.go), and delegates the rest to parts that own
// their state and logic, each in its own file:
//
//	intakeState         intake.go      decode, validate, route and batch records, with
//	  bucketPaths       bucketpath.go    a row's bucket (partition path)
//	  router            route.go         a bucket's worker
//	  eventClock        late.go          the watermark, and late rows (lateBuffer)
//	workerPool          pool.go        the workers' goroutines and the batches being filled
//	kafkaPartitions     partitions.go  owned Kafka partitions: claims, table offsets, next and committed offsets
//	openInstant         instant.go     the checkpoint's ID, its open instant and the Kafka partitions it lists
//	checkpointSchedule  schedule.go    when checkpoints, maintenance and idle rolls are due
//	publishQueue        publish.go     commits waiting for the publishers
//	retrier             retry.go       backoff of retried storage operations
//	runContexts         runctx.go      the hard (Abort), work (grace period), stop and decode contexts
//	health, stats       health.go, stats.go  what Health and Stats report
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
