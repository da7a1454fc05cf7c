package checkpoint

import (
	"log/slog"
	"time"

	"github.com/lakestream/lakestream/internal/slowlog"
	"github.com/lakestream/lakestream/writer"
)

// WithSlowLog logs, through l, every committed checkpoint that took l's
// threshold or longer (rate-limited by l): "slow commit" with the
// checkpoint, instant, files, rows, bytes, partitions (buckets) and each
// phase's duration (begin, barrier, upload, dead_letters, commit; a phase
// entered twice counts once, summed). Default nil: none. The "slow
// checkpoint" warning (a checkpoint longer than half the interval) is
// logged whatever this is.
func WithSlowLog(l *slowlog.Logger) Option {
	return func(o *options) { o.slow = l }
}

// phaseTiming records how long each phase of the checkpoint in progress
// took, and keeps the last finished checkpoint's. Guarded by health.mu.
type phaseTiming struct {
	cur   string
	since time.Time
	spans []slowlog.Phase // of the checkpoint in progress
	last  []slowlog.Phase // of the last one that ended
}

// changed records that phase began at now ("": the checkpoint ended).
func (t *phaseTiming) changed(phase string, now time.Time) {
	if t.cur != "" {
		d := now.Sub(t.since)
		if n := len(t.spans); n > 0 && t.spans[n-1].Name == t.cur {
			t.spans[n-1].Took += d
		} else {
			t.spans = append(t.spans, slowlog.Phase{Name: t.cur, Took: d})
		}
	}
	t.cur, t.since = phase, now
	if phase == "" {
		t.last, t.spans = t.spans, nil
	}
}

// logSlowCommit logs the checkpoint just committed if it was slow. c.mu is
// held.
func (c *Coordinator) logSlowCommit(instant string, files []writer.File, took time.Duration) {
	if !c.opts.slow.Slow(took) {
		return
	}
	c.health.mu.Lock()
	phases := c.health.timing.last
	c.health.mu.Unlock()
	var rows, bytes int64
	buckets := map[string]struct{}{}
	for _, f := range files {
		rows += f.Records
		bytes += f.SizeBytes
		buckets[f.PartitionPath] = struct{}{}
	}
	c.opts.slow.Log("commit", took,
		slog.Int64("checkpoint", c.inst.id), slog.String("instant", instant),
		slog.Int("files", len(files)), slog.Int64("rows", rows), slog.Int64("bytes", bytes), slog.Int("partitions", len(buckets)),
		slowlog.Phases(phases))
}
