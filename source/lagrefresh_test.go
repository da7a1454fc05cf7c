package source

import (
	"context"
	"testing"
	"time"
)

// TestLagGrowsWhileNotPolling: once caught up, a Reader whose owner stops
// polling (a coordinator retrying a checkpoint against storage that is
// down) still reports the lag of the records produced since, from its own
// listing of the last stable offsets (WithLagRefresh); before, the lag
// stood at 0 while the topic grew.
func TestLagGrowsWhileNotPolling(t *testing.T) {
	const topic, parts = "lag-refresh", 2
	c := newCluster(t, parts, []string{topic})
	for p := int32(0); p < parts; p++ {
		produceSized(t, c, topic, p, 0, 10, 50, 16<<10, nil)
	}
	cfg := testConfig(c, topic, "lag-refresh-group")
	r := newReader(t, cfg, Hooks{}, append(testOpts(), WithLagRefresh(100*time.Millisecond))...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := 0
	for read < parts*10 {
		read += len(pollCtx(t, r, ctx))
		r.AllowRebalance()
	}
	waitFor(t, 10*time.Second, "caught up", func() bool {
		st := r.PartitionStates()
		for _, s := range st {
			if s.Lag != 0 {
				return false
			}
		}
		return len(st) == parts
	})
	// The owner stops polling; the topic grows.
	for p := int32(0); p < parts; p++ {
		produceSized(t, c, topic, p, 10, 30, 50, 16<<10, nil)
	}
	waitFor(t, 10*time.Second, "lag of 30 per partition without a poll", func() bool {
		for _, s := range r.PartitionStates() {
			if s.Lag != 30 {
				return false
			}
		}
		return true
	})
}
