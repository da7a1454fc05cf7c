package source

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fastConsumerGroups makes KIP-848 members heartbeat every 100 ms (the
// broker's default is 5 s): assignments reach them sooner.
var fastConsumerGroups = kfake.BrokerConfigs(map[string]string{"group.consumer.heartbeat.interval.ms": "100"})

// TestStartOffsetsWaitOutAnOutage: the table (or Kafka's ListOffsets) is
// unavailable for longer than a few attempts, as while the only broker
// restarts. The member keeps its partitions and waits; before, it ended
// its group session after 5 attempts (about 2 s), every partition was
// reported lost and ingestd exited.
func TestStartOffsetsWaitOutAnOutage(t *testing.T) {
	const topic = "outage"
	c := newCluster(t, 1, []string{topic})
	produce(t, manualProducer(t, c), topic, []int32{0}, 0, 10)
	var calls atomic.Int32
	var firstCall atomic.Int64
	const outage = 2500 * time.Millisecond // past 5 attempts (about 1.5 s), which ended the session
	r := newReader(t, testConfig(c, topic, "outage-group"), Hooks{
		StartOffsets: func(context.Context, string, []int32) (map[int32]int64, error) {
			calls.Add(1)
			firstCall.CompareAndSwap(0, time.Now().UnixNano())
			if time.Since(time.Unix(0, firstCall.Load())) < outage {
				return nil, errors.New("table unavailable")
			}
			return map[int32]int64{0: 7}, nil
		},
		Revoked: func(_ context.Context, ps []int32, lost bool) {
			if lost {
				t.Errorf("Revoked(%v, lost=true): the member gave its partitions up during the outage", ps)
			}
		},
	}, testOpts()...)
	if got := pollFirst(t, r, 1); got[0] != 7 {
		t.Errorf("first offset %d, want 7", got[0])
	}
	if n := calls.Load(); n < 6 {
		t.Errorf("StartOffsets called %d times over %v, want at least 6", n, outage)
	}
}

// TestStaticMemberRestartKeepsPartitions: a static member that closes (not
// leaving the group) and starts again with the same instance ID gets its
// partitions back at once, with no rebalance: the other member's
// partitions are never revoked, and it never gets the closed member's,
// although the session timeout (30 s) is far longer than the test. With
// WithLeaveOnClose, the closed member's partitions go to the other at
// once. For both group protocols.
func TestStaticMemberRestartKeepsPartitions(t *testing.T) {
	for _, protocol := range []string{GroupProtocolClassic, GroupProtocolConsumer} {
		t.Run(protocol, func(t *testing.T) {
			topic, group := "static-"+protocol, "static-group-"+protocol
			c := newCluster(t, 4, []string{topic}, fastConsumerGroups)
			all := []int32{0, 1, 2, 3}
			produce(t, manualProducer(t, c), topic, all, 0, 5)
			cfg := testConfig(c, topic, group)
			cfg.SessionTimeout = 30 * time.Second
			opts := func(id string, extra ...Option) []Option {
				return append(append(testOpts(), WithStaticMember(id), WithGroupProtocol(protocol)), extra...)
			}
			var revokedB atomic.Int32
			a := newReader(t, cfg, Hooks{}, opts("replica-a")...)
			loopA := startPollLoop(a, nil)
			waitFor(t, 15*time.Second, "A owns every partition", func() bool { return len(a.Assigned()) == 4 })
			b := newReader(t, cfg, Hooks{Revoked: func(_ context.Context, ps []int32, lost bool) {
				if !strings.Contains(t.Name(), "leave") {
					revokedB.Add(1)
				}
			}}, opts("replica-b")...)
			loopB := startPollLoop(b, nil)
			defer loopB.stop()
			waitFor(t, 20*time.Second, "two members", func() bool { return len(a.Assigned()) == 2 && len(b.Assigned()) == 2 })
			ownedA, ownedB := a.Assigned(), b.Assigned()
			revokedB.Store(0)

			// A restarts: Close without leaving, a new Reader with the
			// same instance ID.
			if err := loopA.stop(); err != nil {
				t.Fatal(err)
			}
			a.Close()
			time.Sleep(time.Second)
			if got := b.Assigned(); !slices.Equal(got, ownedB) {
				t.Fatalf("B owns %v a second after A closed, want %v: A's departure rebalanced the group", got, ownedB)
			}
			start := time.Now()
			a2 := newReader(t, cfg, Hooks{}, opts("replica-a")...)
			loopA2 := startPollLoop(a2, nil)
			waitFor(t, 10*time.Second, "A's restart owns A's partitions", func() bool { return slices.Equal(a2.Assigned(), ownedA) })
			t.Logf("the restarted A owned %v %v after it started", ownedA, time.Since(start).Round(time.Millisecond))
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the restart took %v to get its partitions back", took)
			}
			time.Sleep(500 * time.Millisecond)
			if n := revokedB.Load(); n != 0 || !slices.Equal(b.Assigned(), ownedB) {
				t.Errorf("B: %d revocations, owns %v: the restart rebalanced the group", n, b.Assigned())
			}

			// Stopped for good: leaving hands the partitions on at once.
			if err := loopA2.stop(); err != nil {
				t.Fatal(err)
			}
			a2.opts.leaveOnClose = true
			start = time.Now()
			a2.Close()
			waitFor(t, 10*time.Second, "B owns every partition after A left", func() bool { return len(b.Assigned()) == 4 })
			t.Logf("B owned every partition %v after A began to leave", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestCloseContextIsBounded: a Revoked hook that does not return (a final
// checkpoint stuck on storage) would hold Close forever; CloseContext
// returns once its context ends.
func TestCloseContextIsBounded(t *testing.T) {
	const topic = "bounded"
	c := newCluster(t, 2, []string{topic})
	produce(t, manualProducer(t, c), topic, []int32{0, 1}, 0, 5)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the Reader's Close cleanup: let it finish
	r, err := NewReader(testConfig(c, topic, "bounded-group"), Hooks{Revoked: func(context.Context, []int32, bool) { <-release }}, testOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		unblock()
		r.Close()
	}()
	pollFirst(t, r, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = r.CloseContext(ctx)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CloseContext = %v, want the context's deadline", err)
	}
	if took > 500*time.Millisecond+closeAbandonWait+time.Second {
		t.Errorf("CloseContext took %v", took)
	}
}

// TestReleaseStaticMemberAfterCrash: under KIP-848 a static member whose
// process died without leaving (here: a membership joined by a raw
// heartbeat that never heartbeats again) holds its instance ID until the
// session timeout (45 s): its restart is refused with
// UNRELEASED_INSTANCE_ID. ReleaseStaticMember makes it leave as a static
// member, and the restart gets the partitions at once.
func TestReleaseStaticMemberAfterCrash(t *testing.T) {
	for _, release := range []bool{true, false} {
		name := map[bool]string{true: "released", false: "not-released"}[release]
		t.Run(name, func(t *testing.T) {
			if !release && testing.Short() {
				t.Skip("waits to show the restart is held")
			}
			topic, group := "crash-"+name, "crash-group-"+name
			c := newCluster(t, 2, []string{topic}, fastConsumerGroups)
			produce(t, manualProducer(t, c), topic, []int32{0, 1}, 0, 3)
			// The crashed process: joined with instance ID replica-a.
			cl := newClient(t, c)
			hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
			hb.Group = group
			hb.MemberID = "crashed-member-0000000000"
			hb.MemberEpoch = 0
			hb.InstanceID = kmsg.StringPtr("replica-a")
			hb.RebalanceTimeoutMillis = 5000
			hb.SubscribedTopicNames = []string{topic}
			hb.ServerAssignor = kmsg.StringPtr("uniform")
			hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := hb.RequestWith(ctx, cl)
			if err != nil || resp.ErrorCode != 0 {
				t.Fatalf("join as the crashed member: %v, code %d", err, resp.ErrorCode)
			}
			cfg := testConfig(c, topic, group)
			opts := append(testOpts(), WithStaticMember("replica-a"), WithGroupProtocol(GroupProtocolConsumer))
			if release {
				n, err := ReleaseStaticMember(ctx, cfg, "replica-a", opts...)
				if err != nil || n != 1 {
					t.Fatalf("ReleaseStaticMember = %d, %v; want 1 member released", n, err)
				}
			}
			start := time.Now()
			r := newReader(t, cfg, Hooks{}, opts...)
			loop := startPollLoop(r, nil)
			defer loop.stop()
			wait := 10 * time.Second
			if !release {
				wait = 4 * time.Second // the session timeout is 45 s
			}
			deadline := time.Now().Add(wait)
			for len(r.Assigned()) != 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			got := len(r.Assigned()) == 2
			if release && !got {
				t.Fatalf("the restart owns %v %v after it started, want both partitions", r.Assigned(), wait)
			}
			if !release && got {
				t.Fatalf("the restart got the partitions without a release in %v: the broker does not hold the instance ID (the test proves nothing)", time.Since(start))
			}
			if release {
				t.Logf("the restart owned both partitions %v after it started", time.Since(start).Round(time.Millisecond))
			}
		})
	}
}
