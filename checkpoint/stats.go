package checkpoint

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// stats are the coordinator's counters. OpenTelemetry instruments read them
// through Stats.
type stats struct {
	records atomic.Int64 // records polled
	bytes   atomic.Int64 // value bytes polled
	rows    atomic.Int64 // rows handed to workers

	late         atomic.Int64 // late records written (batched)
	lateFlushes  atomic.Int64 // batches of late rows handed to workers
	lateBuffered atomic.Int64 // late rows waiting

	lost atomic.Int64 // times partitions were lost (Revoked with lost=true)

	mu             sync.Mutex
	dead           map[string]int64
	checkpoints    int64
	files          int64
	rowsCommitted  int64
	rowsStaged     int64
	lastInstant    string
	lastCheckpoint int64
	lastDuration   time.Duration
}

func newStats() stats { return stats{dead: map[string]int64{}} }

func (s *stats) deadLetter(reason string) {
	s.mu.Lock()
	s.dead[reason]++
	s.mu.Unlock()
}

func (s *stats) committed(instant string, checkpoint int64, files int, rows, staged int64, took time.Duration) {
	s.mu.Lock()
	s.checkpoints++
	s.files += int64(files)
	s.rowsCommitted += rows
	s.rowsStaged += staged
	s.lastInstant, s.lastCheckpoint, s.lastDuration = instant, checkpoint, took
	s.mu.Unlock()
}

// Stats is a snapshot of the coordinator's counters.
type Stats struct {
	Records int64
	Bytes   int64
	Rows    int64
	// LateRecords counts records older than the watermark minus the
	// allowed lateness that were written (in LateFlushes batches);
	// LateBuffered are waiting for the next batch. Records beyond the
	// maximum lateness that were dead-lettered count under DeadLetters.
	LateRecords  int64
	LateFlushes  int64
	LateBuffered int64
	// BufferedBytes is the column data the workers buffer (as last
	// reported); BudgetFlushes counts buffers written out because the
	// memory budget was exceeded.
	BufferedBytes int64
	BudgetFlushes int64
	DeadLetters   map[string]int64
	Checkpoints   int64
	Files         int64
	RowsCommitted int64
	// RowsStaged counts the committed rows that waited in a worker's
	// stage for a file (more buckets live than files may be open).
	RowsStaged     int64
	LastInstant    string
	LastCheckpoint int64
	LastDuration   time.Duration
	// PartitionsLost counts the times the source reported partitions
	// lost (the group session ended on an error): each abandoned the
	// open checkpoint, whose rows are read again from the table's offsets.
	PartitionsLost int64
}

// Stats returns the counters.
func (c *Coordinator) Stats() Stats {
	s := &c.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Records: s.records.Load(), Bytes: s.bytes.Load(), Rows: s.rows.Load(),
		LateRecords: s.late.Load(), LateFlushes: s.lateFlushes.Load(), LateBuffered: s.lateBuffered.Load(),
		BufferedBytes: c.budget.total.Load(), BudgetFlushes: c.budget.flushes.Load(),
		DeadLetters: maps.Clone(s.dead), Checkpoints: s.checkpoints, Files: s.files,
		RowsCommitted: s.rowsCommitted, RowsStaged: s.rowsStaged, LastInstant: s.lastInstant,
		LastCheckpoint: s.lastCheckpoint, LastDuration: s.lastDuration,
		PartitionsLost: s.lost.Load(),
	}
}
