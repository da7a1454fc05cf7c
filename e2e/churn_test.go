package e2e

import (
	"context"
	"os"
	"slices"
	"time"

	"testing"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/source"
)

// Churn: replicas restarted the way Kubernetes restarts pods.
const (
	// franz-go's default session timeout, which the churn runs keep: a
	// dynamic member SIGKILLed holds its partitions that long.
	defaultSessionTimeout = 45 * time.Second
	churnInterval         = 2 * time.Second // checkpoint interval of the churn runs
)

// TestChurn: two replicas, SIGKILLed and started again at once with the
// same writer ID (a pod restart), one at a time a few seconds apart, with
// the group's default session settings and static membership (the
// default). The table must keep committing through the churn (no gap
// between commits longer than 5 s plus three checkpoint intervals), reach
// the end of the topic within one session timeout plus three checkpoint
// intervals of the last restart, and hold every record exactly once. On
// both group protocols where the broker has KIP-848 (Apache Kafka 4).
//
// LAKESTREAM_CHURN_CYCLES sets the restarts (default 4, make test; the
// issue's scenario is 20). Needs the real broker (LAKESTREAM_KAFKA=kafka
// or both): kfake runs it with LAKESTREAM_CHURN_KFAKE=1.
// LAKESTREAM_CHURN_STATIC=false runs it with kafka.static_membership off
// (as ingestd was before it: it fails, each restart's partitions waiting
// out the session timeout).
func TestChurn(t *testing.T) {
	cycles := envInt(t, "LAKESTREAM_CHURN_CYCLES", 4)
	seed := tortureSeed(t)
	ran := false
	for _, kind := range kafkaKinds(t) {
		if kind == harness.KindKfake && os.Getenv("LAKESTREAM_CHURN_KFAKE") != "1" {
			continue
		}
		protocols := []string{source.GroupProtocolClassic, source.GroupProtocolConsumer}
		if os.Getenv("LAKESTREAM_CHURN_CYCLES") == "" {
			// make test: the classic protocol only (each run starts a
			// JVM and waits out a catch-up).
			protocols = protocols[:1]
		}
		for i, protocol := range protocols {
			ran = true
			t.Run(kind+"/"+protocol, func(t *testing.T) {
				runTorture(t, "filesystem", seed+uint64(i), tortureOptions{kafka: kind, brokers: 1, cycles: cycles,
					weights: map[string]int{"churn": 1}, rate: 300, total: 1_000_000,
					defaultSession: true, interval: churnInterval, groupProtocol: protocol,
					staticMembership: os.Getenv("LAKESTREAM_CHURN_STATIC")})
			})
		}
	}
	if !ran {
		t.Skip("churns replicas against Apache Kafka: run with LAKESTREAM_KAFKA=kafka or both (make test does); LAKESTREAM_CHURN_KFAKE=1 runs it on kfake")
	}
}

// churn SIGKILLs one running replica and starts it again at once, as a
// pod's restart does, then watches the table commit for a few seconds.
func (tt *torture) churn() {
	tt.t.Helper()
	i := tt.pick(tt.someRunning())
	if tt.lastCommit.IsZero() {
		tt.watchCommits(context.Background(), 0)
	}
	tt.stop(i, "sigkill")
	tt.start(i, "")
	tt.lastRestart = time.Now()
	tt.counts["churn-restarts"]++
	tt.watchCommits(context.Background(), 2*time.Second+tt.sleepDuration(2*time.Second))
	tt.reap()
}

// churnBound is the longest the table may go without a commit during the
// churn.
func (tt *torture) churnBound() time.Duration { return 5*time.Second + 3*tt.opts.interval }

// watchCommits follows the table's committed offsets for d, noting each
// time they move and the longest time they did not; it fails the run when
// that passes churnBound.
func (tt *torture) watchCommits(ctx context.Context, d time.Duration) {
	tt.t.Helper()
	end := time.Now().Add(d)
	for {
		now := tt.committedString(ctx)
		if now != tt.lastOffsets {
			if !tt.lastCommit.IsZero() {
				tt.commitGaps = append(tt.commitGaps, time.Since(tt.lastCommit))
			}
			tt.lastOffsets, tt.lastCommit = now, time.Now()
		}
		if gap := time.Since(tt.lastCommit); gap > tt.churnBound() {
			tt.fatalf("churn: no commit for %v (bound %v) at offsets %s; %s", gap.Round(time.Millisecond), tt.churnBound(), now,
				tt.k.DescribeGroup(ctx, "lakestream-"+tortureTopic))
		}
		if !time.Now().Before(end) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// churnCatchUp stops the producer after the last restart and waits for the
// table to reach the end of the topic: within one session timeout plus
// three checkpoint intervals of the last restart.
func (tt *torture) churnCatchUp(ctx context.Context) {
	tt.t.Helper()
	if err := tt.prod.Stop(); err != nil {
		tt.fatalf("producer: %v", err)
	}
	ends, err := tt.k.EndOffsets(ctx, tortureTopic)
	if err != nil {
		tt.fatalf("end offsets: %v", err)
	}
	bound := defaultSessionTimeout + 3*tt.opts.interval
	deadline := tt.lastRestart.Add(bound)
	for {
		ok, err := harness.Committed(ctx, tt.table, tortureTopic, ends)
		if err != nil {
			tt.fatalf("committed offsets: %v", err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			tt.fatalf("churn: the table did not reach the end offsets %v within %v of the last restart (at %s); %s", ends, bound,
				tt.committedString(ctx), tt.k.DescribeGroup(ctx, "lakestream-"+tortureTopic))
		}
		time.Sleep(100 * time.Millisecond)
	}
	caughtUp := time.Since(tt.lastRestart)
	gaps := slices.Clone(tt.commitGaps)
	slices.Sort(gaps)
	var longest, median time.Duration
	if len(gaps) > 0 {
		longest, median = gaps[len(gaps)-1], gaps[len(gaps)/2]
	}
	tt.logf("churn: %d restarts; commits seen %d, gap between them median %v, longest %v (bound %v); end of the topic committed %v after the last restart (bound %v)",
		tt.counts["churn-restarts"], len(gaps)+1, median.Round(time.Millisecond), longest.Round(time.Millisecond), tt.churnBound(),
		caughtUp.Round(time.Millisecond), bound)
	tt.t.Logf("churn (%s, %s): %d restarts; longest gap between commits %v (median %v); end of the topic committed %v after the last restart",
		tt.k.Kind, tt.opts.groupProtocol, tt.counts["churn-restarts"], longest.Round(time.Millisecond), median.Round(time.Millisecond), caughtUp.Round(time.Millisecond))
}
