package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIngestWaitsForKafka: ingestd started while Kafka is unreachable waits
// for it (logging what it waits for) instead of exiting with "dead letter:
// list topics: unable to dial"; once a broker listens it ingests; a stop
// while it waits is clean.
func TestIngestWaitsForKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline against kfake")
	}
	const topic = "late"
	broker := freeAddr(t) // nothing listens there yet
	_, portStr, _ := net.SplitHostPort(broker)
	port, _ := strconv.Atoi(portStr)
	table := t.TempDir()
	cfgText := func(writer string) string {
		return fmt.Sprintf(`kafka:
  topic: %s
  brokers: [%s]
table:
  url: file://%s
format:
  schema:
    - {name: id, type: int64, optional: false}
checkpoint:
  interval: 200ms
  writer_id: %s
  state_dir: %s
admin:
  addr: ""
`, topic, broker, table, writer, t.TempDir())
	}
	load := func(text string) Config {
		cfg, err := loadConfig(writeConfig(t, text))
		if err != nil {
			t.Fatal(err)
		}
		cfg.finish()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	// Stopped while waiting: returns nil, at once.
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ingestWith(ctx, nil, load(cfgText("wait-0")), logger, nil) }()
	select {
	case err := <-done:
		cancel()
		t.Fatalf("ingest returned with Kafka unreachable: %v\n%s", err, logs.String())
	case <-time.After(2 * time.Second):
	}
	if !strings.Contains(logs.String(), "waiting for Kafka") {
		t.Errorf("no log line says what it waits for:\n%s", logs.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ingest stopped while waiting for Kafka: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ingest did not stop within 5 s of its context")
	}

	// Kafka comes up while it waits: it ingests.
	logs2 := &syncBuffer{}
	logger2 := slog.New(slog.NewJSONHandler(logs2, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2 := make(chan error, 1)
	go func() { done2 <- ingestWith(ctx2, nil, load(cfgText("wait-1")), logger2, nil) }()
	time.Sleep(1500 * time.Millisecond)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, topic, topic+".dlq"))
	if err != nil {
		cancel2()
		<-done2
		t.Fatal(err)
	}
	defer cluster.Close()
	produce(t, cluster.ListenAddrs(), []*kgo.Record{{Topic: topic, Value: []byte(`{"id": 1}`), Timestamp: time.Now()}})
	bucket, err := objstore.NewFilesystem(table)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		tbl, err := hudi.Open(context.Background(), bucket)
		if err == nil {
			if cps, err := tbl.Checkpoints(context.Background()); err == nil {
				if pos, ok := cps.Next(topic, 0); ok && pos.Next == 1 {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			cancel2()
			<-done2
			t.Fatalf("the record was not committed within 60 s of Kafka coming up:\n%s", logs2.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel2()
	if err := <-done2; err != nil {
		t.Errorf("ingest: %v", err)
	}
}

// TestShutdownWatchdog: once shutdown_timeout has passed since the stop
// began, the process exits with status 1, whatever still runs.
func TestShutdownWatchdog(t *testing.T) {
	exited := make(chan int, 1)
	defer func(f func(int)) { exitProcess = f }(exitProcess)
	exitProcess = func(code int) { exited <- code }
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))

	// Finished in time: no exit.
	ctx, cancel := context.WithCancel(context.Background())
	stop := shutdownWatchdog(ctx, 200*time.Millisecond, logger)
	cancel()
	stop()
	// Not finished in time.
	ctx2, cancel2 := context.WithCancel(context.Background())
	stop2 := shutdownWatchdog(ctx2, 200*time.Millisecond, logger)
	start := time.Now()
	cancel2()
	select {
	case code := <-exited:
		if code != exitFailed {
			t.Errorf("exit status %d, want %d", code, exitFailed)
		}
		if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
			t.Errorf("exited %v after the stop began, want 200ms", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watchdog did not exit")
	}
	stop2()
	if !strings.Contains(logs.String(), "shutdown_timeout passed") {
		t.Errorf("no log line: %s", logs.String())
	}
}

// TestGroupAndShutdownSettings: the defaults, the refusals (each naming its
// setting), and the instance ID derived from the writer ID.
func TestGroupAndShutdownSettings(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if !cfg.Kafka.StaticMembership || cfg.Kafka.LeaveGroupOnShutdown || cfg.Kafka.GroupProtocol != "classic" || time.Duration(cfg.ShutdownTimeout) != 25*time.Second {
		t.Errorf("defaults: static %t, leave %t, protocol %q, shutdown_timeout %v", cfg.Kafka.StaticMembership, cfg.Kafka.LeaveGroupOnShutdown,
			cfg.Kafka.GroupProtocol, time.Duration(cfg.ShutdownTimeout))
	}
	if grace, reserve := cfg.shutdownBudget(); grace != 20*time.Second || reserve != 5*time.Second {
		t.Errorf("shutdown budget %v + %v, want 20s + 5s", grace, reserve)
	}
	bad, err := loadConfig(writeConfig(t, minimalConfig+`shutdown_timeout: 100ms
`))
	if err != nil {
		t.Fatal(err)
	}
	bad.Kafka.GroupProtocol = "eager"
	bad.Kafka.StaticMembership, bad.Kafka.LeaveGroupOnShutdown = false, true
	bad.finish()
	msg := fmt.Sprint(bad.Validate())
	for _, want := range []string{"kafka.group_protocol \"eager\"", "kafka.leave_group_on_shutdown", "shutdown_timeout 100ms"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Validate does not report %q:\n%s", want, msg)
		}
	}
	for writer, want := range map[string]string{
		"ingestd-0":              "ingestd-0",
		"pod/ingestd 0":          "pod_ingestd_0-",
		strings.Repeat("a", 300): strings.Repeat("a", 200) + "-",
	} {
		c := cfg
		c.Checkpoint.WriterID = writer
		id := c.instanceID()
		if !strings.HasPrefix(id, want) || (want == writer && id != writer) || len(id) > 249 {
			t.Errorf("writer ID %q: instance ID %q, want %q...", writer, id, want)
		}
		if strings.IndexFunc(id, func(r rune) bool { return !source.IsInstanceIDChar(r) }) >= 0 {
			t.Errorf("instance ID %q has characters Kafka refuses", id)
		}
	}
	c1, c2 := cfg, cfg
	c1.Checkpoint.WriterID, c2.Checkpoint.WriterID = "a/b", "a_b"
	if c1.instanceID() == c2.instanceID() {
		t.Errorf("writer IDs a/b and a_b share the instance ID %q", c1.instanceID())
	}
}

// cancelOn is a slog handler that cancels a context when a record with
// the message msg is logged: a stop at an exact moment of the start.
type cancelOn struct {
	slog.Handler
	msg    string
	cancel context.CancelFunc
}

func (h cancelOn) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.cancel()
	}
	return h.Handler.Handle(ctx, r)
}

func (h cancelOn) WithAttrs(attrs []slog.Attr) slog.Handler {
	return cancelOn{h.Handler.WithAttrs(attrs), h.msg, h.cancel}
}

func (h cancelOn) WithGroup(name string) slog.Handler {
	return cancelOn{h.Handler.WithGroup(name), h.msg, h.cancel}
}

// TestStopWhileOpeningTheJournal: SIGTERM just after Kafka answered, while
// the journal opens, is a clean stop (nothing was read), not an error and
// exit status 1 (seen in the broker-restart torture: a replica started
// and stopped at once).
func TestStopWhileOpeningTheJournal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the start against kfake")
	}
	const topic = "stop"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic, topic+".dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cfg, err := loadConfig(writeConfig(t, fmt.Sprintf(`kafka:
  topic: %s
  brokers: [%s]
table:
  url: file://%s
format:
  schema:
    - {name: id, type: int64, optional: false}
checkpoint:
  writer_id: stop-0
  state_dir: %s
admin:
  addr: ""
`, topic, cluster.ListenAddrs()[0], t.TempDir(), t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(cancelOn{slog.NewJSONHandler(logs, nil), "kafka brokers reached", cancel})
	if err := ingestWith(ctx, nil, cfg, logger, nil); err != nil {
		t.Fatalf("ingest stopped during its start = %v, want a clean stop:\n%s", err, logs.String())
	}
}
