package ingest

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

// TestOpenJournalStopped: SIGTERM while the journal opens (ctx ended)
// stops the start with an error, instead of being ignored.
func TestOpenJournalStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	j, err := openJournal(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if j != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("openJournal with an ended context: %v, %v; want context.Canceled", j, err)
	}
}
