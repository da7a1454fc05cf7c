package compaction

import (
	"log/slog"
	"time"

	"github.com/lakestream/lakestream/internal/slowlog"
)

// SlowLog logs each step of a group (begin, merge, verify, upload,
// readback, commit) that takes longer than l's threshold: one line "slow
// compaction step", rate-limited by l, with the step, how long it took,
// the group's partition, instant, input files and bytes. Default: none.
func SlowLog(l *slowlog.Logger) Option {
	return func(o *options) { o.slow = l }
}

// slowStep logs the step that began at start if it was slow.
func (g *groupTrace) slowStep(step string, start time.Time) {
	if g.slow == nil || step == "" {
		return
	}
	g.slow.Log("compaction step", time.Since(start),
		slog.String("step", step), slog.String("partition", g.partition), slog.String("instant", g.instantID),
		slog.Int("input_files", g.files), slog.Int64("input_bytes", g.bytes))
}
