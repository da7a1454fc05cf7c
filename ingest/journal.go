package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lakestream/lakestream/journal"
)

// journalOpenTimeout bounds the opening of the journal: past it, ingestd
// goes on without one.
const journalOpenTimeout = 30 * time.Second

// openJournal opens the checkpoint journal in dir. A corrupt journal is
// moved aside and a fresh one opened. A journal that cannot be opened
// (its volume is full, it takes longer than journalOpenTimeout, or it is
// corrupt again) is logged once and left out: recovery lists the table
// instead. It returns an error when the journal is locked by another
// process, when a corrupt one cannot be moved aside, or when ctx ends
// (SIGTERM while starting).
func openJournal(ctx context.Context, dir string, logger *slog.Logger) (*journal.Journal, error) {
	open := func() (*journal.Journal, error) {
		octx, cancel := context.WithTimeout(ctx, journalOpenTimeout)
		defer cancel()
		return journal.OpenContext(octx, dir, journal.WithLogger(logger))
	}
	j, err := open()
	if errors.Is(err, journal.ErrCorrupt) {
		logger.Error("journal corrupt: moving it aside and starting afresh", "dir", dir, "err", err)
		if rerr := journal.Reset(dir); rerr != nil {
			return nil, rerr
		}
		j, err = open()
	}
	switch {
	case err == nil:
		return j, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("stopped while opening the journal %s: %w", dir, ctx.Err())
	case errors.Is(err, journal.ErrLocked):
		// Two replicas on one journal most often share a writer ID (the
		// default state_dir follows it): giving them separate state_dirs
		// alone would leave two writers with one ID, and each one's start
		// (Table.Recover) rolls back the other's open checkpoint.
		return nil, fmt.Errorf("journal %s is used by another process: stop it if it is this replica's previous process; otherwise give each replica its own checkpoint.writer_id (the default state_dir follows it) and, if set, its own checkpoint.state_dir: %w", dir, err)
	default:
		logger.Error("journal unavailable: running without it; recovery lists the table", "dir", dir, "err", err)
		return nil, nil
	}
}
