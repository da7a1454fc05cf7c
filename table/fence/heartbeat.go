package fence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// Heartbeats are the heartbeats of open instants, empty objects in Bucket
// at <Dir>/<instant> whose modification time a live writer refreshes
// every Interval; a writer missing Misses of them in a row is presumed
// dead, and its instant may be rolled back.
type Heartbeats struct {
	Bucket   objstore.Store
	Dir      string
	Interval time.Duration
	Misses   int
}

// Key is the object key of instant's heartbeat.
func (h Heartbeats) Key(instant string) string { return h.Dir + "/" + instant }

// Expiry is how long a heartbeat stays fresh.
func (h Heartbeats) Expiry() time.Duration { return h.Interval * time.Duration(h.Misses) }

// Beat refreshes instant's heartbeat.
func (h Heartbeats) Beat(ctx context.Context, instant string) error {
	if err := h.Bucket.Put(ctx, h.Key(instant), bytes.NewReader(nil)); err != nil {
		return fmt.Errorf("heartbeat %s: %w", instant, err)
	}
	return nil
}

// Live reports whether instant's writer kept its heartbeat fresh as of
// now. Without a heartbeat, opened (when the instant was opened; zero if
// unknown) stands in for it: a writer creates the heartbeat just after it
// opens the instant.
func (h Heartbeats) Live(ctx context.Context, instant string, opened, now time.Time) (bool, error) {
	info, err := h.Bucket.Stat(ctx, h.Key(instant))
	switch {
	case err == nil:
		return now.Sub(info.ModTime) < h.Expiry(), nil
	case errors.Is(err, objstore.ErrNotExist):
		return !opened.IsZero() && now.Sub(opened) < h.Expiry(), nil
	default:
		return false, fmt.Errorf("stat heartbeat of %s: %w", instant, err)
	}
}
