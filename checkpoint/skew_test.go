package checkpoint_test

import (
	"testing"
	"time"
)

// shortSkew is BenchmarkSkew's scenario cut down to a few seconds: smaller
// backlogs (still 50x in partition 0, over an hour of event time), a 2 s
// stall, and a per-partition quota of 100 records per Poll so that a light
// partition's share of one Poll covers 6 minutes of its backlog, not 1
// hour. The backlog is caught up in well under a second, so checkpoints
// are due every 10 ms (in practice one follows every few Polls): the
// assertion needs the catching up spread over several checkpoints, on a
// fast machine too.
var shortSkew = skewScenario{
	Light: 1000, Heavy: 50_000, Backlog: time.Hour,
	Rate: 100, RunFor: 4 * time.Second, StallAt: time.Second, Stall: 2 * time.Second,
	Interval: 10 * time.Millisecond, AllowedLateness: 250 * time.Millisecond, IdleTimeout: 500 * time.Millisecond,
	MaxEventTimeSkew: time.Minute, MaxPartitionRecords: 100,
}

// TestSkewFairReaderNarrowsCheckpoints runs the skew scenario with the plain
// and the fair source. Both must commit every produced record exactly once
// (runSkew checks the table's rows and distinct Kafka positions). The fair
// reader must keep the widest committed checkpoint narrower in event time:
// the plain source hands out each light partition's whole backlog (an hour
// of event time) in its first fetches, next to partition 0's oldest
// records, while the fair reader holds partitions more than a minute ahead
// of the slowest. Late records and file counts depend on timing (when the
// backlog is caught up relative to the stall): they are logged, not
// asserted.
func TestSkewFairReaderNarrowsCheckpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline against kfake for several seconds")
	}
	plain := runSkew(t, shortSkew, skewPlain)
	fair := runSkew(t, shortSkew, skewFair)
	t.Logf("plain: %v", plain)
	t.Logf("fair:  %v", fair)
	_, _, plainMax := plain.spreadStats()
	_, _, fairMax := fair.spreadStats()
	if plain.checkpoints < 2 || fair.checkpoints < 2 {
		t.Fatalf("checkpoints: plain %d, fair %d; want several each", plain.checkpoints, fair.checkpoints)
	}
	if fairMax >= plainMax {
		t.Fatalf("widest checkpoint: fair %v, plain %v; want fair narrower", fairMax, plainMax)
	}
}
