package compaction

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/slowlog"
)

// TestSlowStepsLogged: with a threshold every step passes, each step of
// each group is one "slow compaction step" line naming the step, the
// partition, the instant and the inputs; with the default threshold (5s)
// none of this small run's steps is.
func TestSlowStepsLogged(t *testing.T) {
	run := func(threshold time.Duration) []map[string]any {
		f := newFixture(t, "filesystem")
		for range 4 {
			f.commit(100, 0, 1)
		}
		var buf bytes.Buffer
		l, err := slowlog.New(slowlog.WithThreshold(threshold), slowlog.WithInterval(0),
			slowlog.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.compactor(f.table, SlowLog(l)).Run(f.ctx); err != nil {
			t.Fatal(err)
		}
		var lines []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			lines = append(lines, m)
		}
		return lines
	}
	lines := run(time.Nanosecond)
	steps := map[string]int{}
	for _, m := range lines {
		if m["msg"] != "slow compaction step" || m["partition"] == "" || m["instant"] == "" || m["input_files"].(float64) < 2 || m["input_bytes"].(float64) <= 0 {
			t.Errorf("line %v", m)
		}
		steps[m["step"].(string)]++
	}
	for _, want := range []string{StepBegin, StepMerge, StepVerify, StepUpload, StepReadBack, StepCommit} {
		if steps[want] == 0 {
			t.Errorf("no slow line for step %s: %v", want, steps)
		}
	}
	if lines := run(slowlog.DefaultThreshold); len(lines) != 0 {
		t.Errorf("default threshold: %d slow lines: %v", len(lines), lines)
	}
}
