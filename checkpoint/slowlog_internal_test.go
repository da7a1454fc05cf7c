package checkpoint

import (
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/slowlog"
)

// TestPhaseTiming: a phase entered again adds to its time; the last
// checkpoint's phases are kept once it ends.
func TestPhaseTiming(t *testing.T) {
	var pt phaseTiming
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	pt.changed(PhaseBegin, at(0))
	pt.changed(PhaseUpload, at(10))
	pt.changed(PhaseUpload, at(30)) // re-entered
	pt.changed(PhaseCommit, at(100))
	pt.changed("", at(105))
	want := []slowlog.Phase{{Name: PhaseBegin, Took: 10 * time.Millisecond}, {Name: PhaseUpload, Took: 90 * time.Millisecond}, {Name: PhaseCommit, Took: 5 * time.Millisecond}}
	if len(pt.last) != len(want) {
		t.Fatalf("phases %v, want %v", pt.last, want)
	}
	for i := range want {
		if pt.last[i] != want[i] {
			t.Errorf("phase %d = %v, want %v", i, pt.last[i], want[i])
		}
	}
	if pt.spans != nil || pt.cur != "" {
		t.Errorf("after the end: spans %v, cur %q", pt.spans, pt.cur)
	}
}
