package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The Kafka faults of the torture loop, taken in turn so that a short run
// sees each: the brokers answer NOT_LEADER_FOR_PARTITION for some
// partitions, drop the connections of the members' requests, hold a
// leader election, move the group coordinator, or restart a broker (its
// listener and every connection to it close, and it comes back on the same
// port). The replicas keep running through them; the end-of-run check
// proves nothing was lost or duplicated.
var kafkaFaults = []string{"not-leader", "drop-connections", "broker-restart", "leader-election", "coordinator-move"}

// memberKeys are the requests of ingestd's consumer: faulting them leaves
// the harness's producer alone, so the topic holds exactly what it
// acknowledged.
var memberKeys = []kmsg.Key{kmsg.Fetch, kmsg.ListOffsets, kmsg.Heartbeat, kmsg.OffsetCommit, kmsg.OffsetFetch, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Metadata}

// Apache Kafka's faults, with three nodes: the leader of a random
// partition of the topic stopped (SIGTERM: a controlled shutdown, the
// controller moves its leaderships first) or crashed (SIGKILL: they move
// once the controller fences it, 3 s later), down for a random time, then
// started again; the group coordinator or the active controller may go
// with it. With one node: the broker restarted the same two ways, Kafka
// wholly unavailable meanwhile.
var (
	apacheLeaderFaults  = []string{"leader-stop", "leader-kill"}
	apacheRestartFaults = []string{"broker-restart", "broker-crash"}
)

// kafkaFaults are the run's Kafka faults, taken in turn.
func (tt *torture) kafkaFaults() []string {
	switch {
	case tt.k.Kind == harness.KindKfake:
		return kafkaFaults
	case len(tt.k.Brokers) == 1:
		return apacheRestartFaults
	default:
		return apacheLeaderFaults
	}
}

// kafkaFault injects the next Kafka fault for a random time while the
// replicas run.
func (tt *torture) kafkaFault() {
	tt.t.Helper()
	faults := tt.kafkaFaults()
	kind := faults[tt.kafkaNext%len(faults)]
	tt.kafkaNext++
	tt.someRunning()
	tt.sleepRandom(500 * time.Millisecond)
	if tt.k.Apache != nil {
		tt.apacheKafkaFault(kind)
		tt.counts["kafka-"+kind]++
		return
	}
	c := tt.k.Cluster
	hold := 300*time.Millisecond + tt.sleepDuration(1700*time.Millisecond)
	switch kind {
	case "not-leader":
		var parts []int32
		for p := range int32(torturePartitions) {
			if tt.rng.IntN(2) == 0 {
				parts = append(parts, p)
			}
		}
		if len(parts) == 0 {
			parts = []int32{int32(tt.rng.IntN(torturePartitions))}
		}
		h := c.Fault(kfakeFault(tortureTopic, parts, kerr.NotLeaderForPartition))
		time.Sleep(hold)
		h.Remove()
		tt.logf("kafka: NOT_LEADER_FOR_PARTITION on fetches of partitions %v for %v: %d requests failed", parts, hold.Round(time.Millisecond), h.Hits())
	case "drop-connections":
		var dropped atomic.Int64
		stop := atomic.Bool{}
		for _, key := range memberKeys {
			c.ControlKey(key.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
				if stop.Load() {
					c.DropControl()
					return nil, nil, false
				}
				c.KeepControl()
				if tt.rngFault() {
					dropped.Add(1)
					return nil, errors.New("torture: connection dropped"), true
				}
				return nil, nil, false
			})
		}
		time.Sleep(hold)
		stop.Store(true)
		tt.logf("kafka: dropped the connections of %d member requests over %v", dropped.Load(), hold.Round(time.Millisecond))
	case "broker-restart":
		node := int32(tt.rng.IntN(len(tt.k.Brokers)))
		_, portStr, err := net.SplitHostPort(tt.k.Brokers[node])
		if err != nil {
			tt.fatalf("broker address %s: %v", tt.k.Brokers[node], err)
		}
		port, _ := strconv.Atoi(portStr)
		var down atomic.Bool
		down.Store(true)
		var closed atomic.Int64
		// Requests still arriving on open connections to the stopped
		// broker close them, as a dead process's sockets would.
		c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
			if !down.Load() {
				c.DropControl()
				return nil, nil, false
			}
			c.KeepControl()
			if c.CurrentNode() == node {
				closed.Add(1)
				return nil, errors.New("torture: broker down"), true
			}
			return nil, nil, false
		})
		if err := c.RemoveNode(node); err != nil {
			down.Store(false)
			tt.fatalf("stop broker %d: %v", node, err)
		}
		time.Sleep(hold)
		var addErr error
		for attempt := 0; attempt < 50; attempt++ {
			if _, _, addErr = c.AddNode(node, port); addErr == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		down.Store(false)
		if addErr != nil {
			tt.fatalf("restart broker %d on port %d: %v", node, port, addErr)
		}
		tt.logf("kafka: broker %d down for %v (%d requests on open connections refused), back on port %d", node, hold.Round(time.Millisecond), closed.Load(), port)
	case "leader-election":
		c.ShufflePartitionLeaders()
		tt.logf("kafka: partition leaders shuffled")
	case "coordinator-move":
		c.RehashCoordinators()
		tt.logf("kafka: group coordinators moved")
	}
	tt.counts["kafka-"+kind]++
}

// rngFault drops about one request in three. It runs on kfake's cluster
// goroutine, not the test's: it must not touch tt.rng.
func (tt *torture) rngFault() bool {
	return tt.faultSeq.Add(1)%3 == 0
}

func kfakeFault(topic string, parts []int32, err *kerr.Error) kfake.Fault {
	return kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch, kmsg.ListOffsets}, Topic: topic, Partitions: parts, Err: err, Count: -1}
}

// apacheKafkaFault stops an Apache Kafka node (see apacheLeaderFaults)
// while records are produced and ingested, starts it again after a random
// time, waits until the topic's replicas are back in sync (so that the
// next fault does not take a partition's last in-sync replica), and then
// until the producer has records acknowledged again and the table has
// caught up with every record produced before the node came back: the
// replicas must recover from the fault on their own (those that exit are
// restarted, as a supervisor would).
func (tt *torture) apacheKafkaFault(kind string) {
	tt.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for deadline := time.Now().Add(30 * time.Second); tt.prod.Produced() == 0; {
		if time.Now().After(deadline) {
			tt.fatalf("kafka: nothing produced within 30 s of the start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	sig, how := syscall.SIGTERM, "SIGTERM"
	if kind == "leader-kill" || kind == "broker-crash" {
		sig, how = syscall.SIGKILL, "SIGKILL"
	}
	node, what := int32(0), "the broker"
	if kind == "leader-stop" || kind == "leader-kill" {
		p := int32(tt.rng.IntN(torturePartitions))
		leader, err := tt.k.Leader(ctx, tortureTopic, p)
		if err != nil {
			tt.fatalf("kafka: %v", err)
		}
		node, what = leader, fmt.Sprintf("node %d, the leader of partition %d", leader, p)
	}
	hold := 300*time.Millisecond + tt.sleepDuration(3*time.Second)
	exitsBefore := tt.counts["self-exits"]
	took, err := tt.k.Apache.StopNode(int(node), sig)
	if err != nil {
		tt.fatalf("kafka: %s %s: %v", how, what, err)
	}
	time.Sleep(hold)
	up, err := tt.k.Apache.StartNode(ctx, int(node))
	if err != nil {
		tt.fatalf("kafka: start node %d again: %v", node, err)
	}
	back := time.Now()
	if err := tt.k.WaitInSync(ctx, tortureTopic); err != nil {
		tt.fatalf("kafka: after restarting node %d: %v", node, err)
	}
	inSync := time.Since(back)
	mark := tt.prod.Produced()
	ends, err := tt.k.EndOffsets(ctx, tortureTopic)
	if err != nil {
		tt.fatalf("kafka: end offsets after restarting node %d: %v", node, err)
	}
	var resumed time.Duration
	for {
		if resumed == 0 && tt.prod.Produced() > mark {
			resumed = time.Since(back)
		}
		ok, err := harness.Committed(ctx, tt.table, tortureTopic, ends)
		if err != nil {
			tt.fatalf("kafka: committed offsets: %v", err)
		}
		if ok && resumed > 0 {
			break
		}
		if ctx.Err() != nil {
			tt.fatalf("kafka: %v after node %d came back: producer resumed: %v; table at %s, want the end offsets %v; %s",
				time.Since(back).Round(time.Millisecond), node, resumed > 0, tt.committedString(ctx), ends, tt.k.DescribeGroup(context.Background(), "lakestream-"+tortureTopic))
		}
		tt.reap()
		time.Sleep(100 * time.Millisecond)
	}
	tt.reap()
	exits := tt.counts["self-exits"] - exitsBefore
	tt.logf("kafka: %s %s (stopped in %v), down %v, serving %v after its start; then replicas in sync after %v, producer acknowledged again after %v, table past the restart after %v; %d records produced so far; %d ingestd replicas exited on their own meanwhile",
		how, what, took.Round(time.Millisecond), hold.Round(time.Millisecond), up.Round(time.Millisecond), inSync.Round(time.Millisecond),
		resumed.Round(time.Millisecond), time.Since(back).Round(time.Millisecond), tt.prod.Produced(), exits)
	if exits > 0 {
		// A replica must ride out a broker's restart: it waits for Kafka,
		// and partitions lost meanwhile resume from the table when
		// assigned again. One that exits is restarted by the harness, as
		// a supervisor would, and counted; strict runs (the default on
		// Apache Kafka) fail on it.
		tt.counts["kafka-fault-self-exits"] += exits
		if tt.strict() {
			tt.fatalf("kafka: %d ingestd replicas exited on their own across %s of %s (strict: the default on Apache Kafka)", exits, how, what)
		}
	}
}
