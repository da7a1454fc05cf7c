package source

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testLogger discards unless LAKESTREAM_TEST_LOG is set (then debug to stderr).
func testLogger() *slog.Logger {
	if os.Getenv("LAKESTREAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newCluster starts a 3-broker kfake cluster on 127.0.0.1 with topic seeded
// with the given number of partitions. Group session timeouts down to 100 ms
// are allowed so that tests can use short ones.
func newCluster(t *testing.T, partitions int32, topics []string, extra ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{
		kfake.NumBrokers(3),
		kfake.SeedTopics(partitions, topics...),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}
	c, err := kfake.NewCluster(append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newClient is a plain franz-go client (producer, admin or checking consumer).
func newClient(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes n records to each partition, values "p<partition>-<i>", with
// i counting on from first, synchronously.
func produce(t *testing.T, cl *kgo.Client, topic string, parts []int32, first, n int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, len(parts)*n)
	for _, p := range parts {
		for i := first; i < first+n; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(strconv.Itoa(i)), Value: fmt.Appendf(nil, "p%d-%d", p, i)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func manualProducer(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	return newClient(t, c, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
}

// testConfig is a Reader config with short group timeouts.
func testConfig(c *kfake.Cluster, topic, group string) Config {
	return Config{
		Brokers:          c.ListenAddrs(),
		Topic:            topic,
		Group:            group,
		SessionTimeout:   3 * time.Second,
		RebalanceTimeout: 5 * time.Second,
	}
}

// testOpts makes group membership changes show up fast.
func testOpts(extra ...kgo.Opt) []Option {
	kopts := append([]kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond), kgo.FetchMaxWait(500 * time.Millisecond)}, extra...)
	return []Option{WithLogger(testLogger()), WithKgoOpts(kopts...)}
}

func newReader(t *testing.T, cfg Config, hooks Hooks, opts ...Option) *Reader {
	t.Helper()
	r, err := NewReader(cfg, hooks, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// pollLoop polls r in a goroutine until stop is called, sending every batch
// to batches (if not nil) and calling AllowRebalance after each, as the
// pipeline does.
type pollLoop struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	recs map[int32][]*kgo.Record
	err  error
}

func startPollLoop(r *Reader, onBatch func([]*kgo.Record)) *pollLoop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &pollLoop{cancel: cancel, done: make(chan struct{}), recs: make(map[int32][]*kgo.Record)}
	go func() {
		defer close(l.done)
		for {
			recs, err := r.Poll(ctx)
			if err != nil {
				if ctx.Err() == nil {
					l.mu.Lock()
					l.err = err
					l.mu.Unlock()
				}
				return
			}
			l.mu.Lock()
			for _, rec := range recs {
				l.recs[rec.Partition] = append(l.recs[rec.Partition], rec)
			}
			l.mu.Unlock()
			if onBatch != nil {
				onBatch(recs)
			}
			r.AllowRebalance()
		}
	}()
	return l
}

func (l *pollLoop) stop() error {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *pollLoop) count(p int32) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs[p])
}

func (l *pollLoop) partitions() []int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ps []int32
	for p, rs := range l.recs {
		if len(rs) > 0 {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

// waitFor polls cond every 20 ms until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
