package table

import (
	"context"
	"errors"

	"github.com/lakestream/lakestream/schemas"
)

// Table is what the ingest engine (package checkpoint's Coordinator) asks
// of a table, whatever its format: where it resumes (LastCheckpoint,
// NextOffsets), the partitions it owns (Acquire), one transaction per
// checkpoint (Begin), maintenance between checkpoints (Maintainer) and the
// recovery of a previous run's pending work at start (Recoverer). The Hudi
// implementation is hudi.AsTable. Its methods are safe for concurrent use.
type Table interface {
	// LastCheckpoint returns the ID of writerID's newest committed
	// checkpoint, 0 if it has none.
	LastCheckpoint(ctx context.Context, writerID string) (int64, error)
	// NextOffsets returns the next offset to read of each of partitions of
	// topic the table holds a position for (the others are left out).
	NextOffsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error)
	// Acquire makes writerID the owner of partitions of topic (a claim
	// each) and then settles every pending instant another process opened
	// for them (fencing), so that offsets read afterwards include
	// everything that will ever be committed for them. It returns the
	// claims held, by partition, to be passed with every commit
	// (CommitRequest.Claims), and the instants it settled.
	Acquire(ctx context.Context, writerID, topic string, partitions []int32) (held map[int32]int64, fenced []Settled, err error)
	// Begin opens a transaction: a new instant, pending until its Commit
	// or Abort.
	Begin(ctx context.Context, o BeginOptions) (Txn, error)

	Maintainer
	Recoverer
}

// BeginOptions says who opens a transaction: the writer, and the Kafka
// partitions it owns (recorded, so that a new owner of one of them can
// fence the transaction).
type BeginOptions struct {
	WriterID   string
	Topic      string
	Partitions []int32
}

// Txn is one open instant of a table. Commit or Abort settles it; Close
// releases it (stops its heartbeat) without settling it, for a shutdown
// that leaves it to the next start's recovery.
type Txn interface {
	// Instant is the instant's time; it names every data file of the
	// transaction (Layout).
	Instant() string
	// Commit publishes the files with the checkpoint. An error matching
	// ErrFenced means the instant was lost to another writer (or rolled
	// back as dead) and its files removed.
	Commit(ctx context.Context, req CommitRequest) error
	// Abort rolls the instant back now: its files are removed. Aborting a
	// committed transaction is an error that says "already committed".
	Abort(ctx context.Context) error
	Close() error
}

// CommitRequest is the content of a checkpoint's commit.
type CommitRequest struct {
	// Files are the data files the commit publishes.
	Files []FileStat
	// Schema is the rows' schema, recorded as the format records it.
	Schema *schemas.TableSchema
	// CheckpointID is the writer's checkpoint, Topic and Next the next
	// offset of every Kafka partition it covers.
	CheckpointID int64
	Topic        string
	Next         map[int32]int64
	// Claims are the owner claims held (Table.Acquire): the commit is
	// fenced unless every partition of Next is still claimed by them.
	// nil: unchecked (a source without a consumer group).
	Claims map[int32]int64
}

// FileStat describes one data file a transaction wrote.
type FileStat struct {
	// Path is relative to the table root: <partition>/<name>, whose
	// instant must be the transaction's.
	Path         string
	NumRecords   int64
	NumUpdates   int64
	MinEventTime *int64
	MaxEventTime *int64
	// PrevCommit is the instant of the file this one replaces in its
	// file group; "" for a new file group.
	PrevCommit string
}

// Maintainer keeps a table in bounds between checkpoints. Its failures
// cost nothing but a later retry: the engine logs them and tries again at
// the next round.
type Maintainer interface {
	// RollbackFailed settles the pending instants of dead writers (no
	// heartbeat within the expiry): finished forward if their writer had
	// decided to commit, rolled back otherwise. by names the caller.
	RollbackFailed(ctx context.Context, by string) ([]Settled, error)
	// Archive moves the oldest completed instants off the active
	// timeline, keeping keepCompleted.
	Archive(ctx context.Context, keepCompleted int) (Archived, error)
}

// Recoverer settles, at start, what a previous run of a writer left
// pending. The engine's journal.Settle calls RollbackInstant for the
// instants its local journal knows, then Recover for the rest.
type Recoverer interface {
	// RollbackInstant settles one instant writerID began: rolled back
	// with files (the keys it may have written; nil: the table is listed
	// for them), or finished if it had been decided. by names the caller.
	RollbackInstant(ctx context.Context, instant, by string, files []string) (Settled, error)
	// Recover settles every pending instant of dead writers and every one
	// opened under writerID by another process. Call it before the
	// writer's first Begin.
	Recover(ctx context.Context, writerID string) ([]Settled, error)
}

// Settled says what happened to one pending instant.
type Settled struct {
	Instant      string
	Action       string
	Outcome      string // an Outcome constant
	FilesRemoved int
}

// Outcomes of settling a pending instant.
const (
	// OutcomeRolledBack: the instant's files were removed and it left the
	// timeline.
	OutcomeRolledBack = "rolled back"
	// OutcomeCompleted: its writer had decided to commit before dying; the
	// commit was finished instead.
	OutcomeCompleted = "completed"
	// OutcomeLive: its writer's heartbeat is fresh; it was left alone.
	OutcomeLive = "live"
	// OutcomeAbsent (RollbackInstant only): the instant is not on the
	// active timeline and no decision names it, so it completed and was
	// archived, or never reached the table. Nothing was done.
	OutcomeAbsent = "absent"
)

// Archived says what Archive did.
type Archived struct {
	Instants     []string // the instants archived
	File         string   // the archive file written
	FilesRemoved int
}

// ErrFenced is matched by the error of a commit that lost its instant to a
// rollback (the writer was presumed dead) or to another writer.
var ErrFenced = errors.New("instant fenced")
