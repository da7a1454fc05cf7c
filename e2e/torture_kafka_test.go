package e2e

import (
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"

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

// kafkaFault injects the next Kafka fault for a random time while the
// replicas run.
func (tt *torture) kafkaFault() {
	tt.t.Helper()
	kind := kafkaFaults[tt.kafkaNext%len(kafkaFaults)]
	tt.kafkaNext++
	tt.someRunning()
	tt.sleepRandom(500 * time.Millisecond)
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
