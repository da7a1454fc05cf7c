package journal

import (
	"context"
	"log/slog"

	"github.com/lakestream/lakestream/table"
)

// Settle rolls back, with their journaled files, the checkpoints a
// previous run of writerID began and did not settle, and forgets those the
// table settled (Settled). Call it at start, before the table's Recover,
// which settles whatever the journal does not know. An instant that cannot
// be rolled back now is logged and left for Recover.
func Settle(ctx context.Context, j *Journal, t table.Recoverer, writerID string, logger *slog.Logger) error {
	pending, err := j.Pending()
	if err != nil {
		return err
	}
	for _, e := range pending {
		res, err := t.RollbackInstant(ctx, e.Instant, writerID, e.Files)
		if err != nil {
			logger.Warn("journal: settle instant", "instant", e.Instant, "err", err)
			continue
		}
		logger.Info("journal: settled instant", "instant", e.Instant, "checkpoint", e.Checkpoint, "outcome", res.Outcome, "files_removed", res.FilesRemoved)
		if res.Outcome != table.OutcomeLive {
			if err := j.Settled(e.Instant); err != nil {
				return err
			}
		}
	}
	return nil
}
