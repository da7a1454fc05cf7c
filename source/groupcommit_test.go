package source

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// committedOffsets reads the group's committed offsets of topic.
func committedOffsets(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

// QueueGroupOffsets returns at once, even while a rebalance is
// held up by this member's polled records; the queued offsets reach the
// group before the partitions move, and offsets of partitions the member
// does not own are never committed.
func TestQueueGroupOffsetsCommitsInBackgroundAndBeforeHandover(t *testing.T) {
	const topic, group = "queued", "queued-group"
	c := newCluster(t, 4, []string{topic})
	cl := newClient(t, c)
	produce(t, cl, topic, []int32{0, 1, 2, 3}, 0, 20)
	adm := kadm.NewClient(newClient(t, c))

	a := newReader(t, testConfig(c, topic, group), Hooks{}, testOpts()...)
	pollFirst(t, a, 4)
	if got := len(a.Assigned()); got != 4 {
		t.Fatalf("A owns %d partitions, want 4", got)
	}

	// Steady state: the queued offsets are committed in the background.
	a.QueueGroupOffsets(map[int32]int64{0: 3, 1: 4, 2: 5, 3: 6, 9: 1})
	waitFor(t, 10*time.Second, "queued offsets committed", func() bool {
		return maps.Equal(committedOffsets(t, adm, group, topic), map[int32]int64{0: 3, 1: 4, 2: 5, 3: 6})
	})

	// Hold the rebalance gate (records polled, AllowRebalance not called)
	// and let a second member join: the group is now rebalancing and
	// waits for A.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	produce(t, cl, topic, []int32{0, 1, 2, 3}, 20, 5)
	if _, err := a.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	b := newReader(t, testConfig(c, topic, group), Hooks{}, testOpts()...)
	loopB := startPollLoop(b, nil)
	time.Sleep(500 * time.Millisecond) // B's join reaches the coordinator

	queued := make(chan struct{})
	go func() {
		a.QueueGroupOffsets(map[int32]int64{0: 10, 1: 11, 2: 12, 3: 13})
		close(queued)
	}()
	select {
	case <-queued:
	case <-time.After(5 * time.Second):
		t.Fatal("QueueGroupOffsets blocked during a rebalance")
	}
	a.AllowRebalance()
	loopA := startPollLoop(a, nil)

	waitFor(t, 20*time.Second, "partitions shared by A and B", func() bool {
		return len(a.Assigned()) == 2 && len(b.Assigned()) == 2
	})
	waitFor(t, 10*time.Second, "offsets queued during the rebalance committed", func() bool {
		return maps.Equal(committedOffsets(t, adm, group, topic), map[int32]int64{0: 10, 1: 11, 2: 12, 3: 13})
	})
	if err := loopA.stop(); err != nil {
		t.Fatal(err)
	}
	if err := loopB.stop(); err != nil {
		t.Fatal(err)
	}
}

// Close commits what is still queued before leaving the group.
func TestCloseFlushesQueuedGroupOffsets(t *testing.T) {
	const topic, group = "queuedclose", "queuedclose-group"
	c := newCluster(t, 2, []string{topic})
	produce(t, newClient(t, c), topic, []int32{0, 1}, 0, 10)
	adm := kadm.NewClient(newClient(t, c))
	r := newReader(t, testConfig(c, topic, group), Hooks{}, testOpts()...)
	pollFirst(t, r, 2)
	r.QueueGroupOffsets(map[int32]int64{0: 7, 1: 9})
	r.Close()
	if got, want := committedOffsets(t, adm, group, topic), map[int32]int64{0: 7, 1: 9}; !maps.Equal(got, want) {
		t.Errorf("committed offsets after Close = %v, want %v", got, want)
	}
}
