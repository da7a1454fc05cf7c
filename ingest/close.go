package ingest

import (
	"context"
	"log/slog"
	"time"
)

// closeBudget bounds the closing of the clients once Run has returned:
// together they get reserve (Options.CloseReserve).
type closeBudget struct {
	reserve  time.Duration
	deadline time.Time // zero until start
}

func (b *closeBudget) start() { b.deadline = time.Now().Add(b.reserve) }

// closeBounded runs close within what is left of b's budget (all of the
// reserve if Run did not return normally), logging when it is cut short.
func closeBounded(b *closeBudget, what string, logger *slog.Logger, close func(context.Context) error) {
	if b.deadline.IsZero() {
		b.start()
	}
	ctx, cancel := context.WithDeadline(context.Background(), b.deadline)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- close(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			logger.Warn("closing "+what+": cut short by shutdown_timeout", "err", err)
		}
	case <-ctx.Done():
		logger.Warn("closing " + what + ": cut short by shutdown_timeout; exiting without waiting for it")
	}
}
