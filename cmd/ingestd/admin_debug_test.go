package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/tasks"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestAdminDebugEndpoints runs the pipeline against kfake and reads
// /debug/tasks (every partition, the coordinator and every worker, each
// with a state and since when, as text and as JSON) and /debug/pprof/ (the
// index and a goroutine profile) from the admin endpoint.
func TestAdminDebugEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline against kfake")
	}
	const topic = "debugtasks"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic, topic+".dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	admin := freeAddr(t)
	cfgPath := writeConfig(t, fmt.Sprintf(`kafka:
  topic: %s
  brokers: [%s]
table:
  url: file://%s
format:
  schema:
    - {name: id, type: int64, optional: false}
writer:
  workers: 2
checkpoint:
  interval: 300ms
  writer_id: debug-tasks-test
  state_dir: %s
admin:
  addr: %s
`, topic, cluster.ListenAddrs()[0], t.TempDir(), t.TempDir(), admin))
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"id": %d}`, i)})
	}
	produce(t, cluster.ListenAddrs(), recs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	done := make(chan error, 1)
	go func() { done <- ingestWith(ctx, nil, cfg, logger, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
		if t.Failed() {
			t.Logf("ingestd log:\n%s", logs.String())
		}
	}()

	// Text: one line per task, "label: state since hh:mm:ss.mmm (for)".
	line := regexp.MustCompile(`^(coordinator|partition \d+|worker \d+): .+ since \d\d:\d\d:\d\d\.\d{3} \(.+\)$`)
	want := []string{"coordinator", "partition 0", "partition 1", "worker 0", "worker 1"}
	var text string
	for deadline := time.Now().Add(30 * time.Second); ; {
		b, err := getAdmin(admin, "/debug/tasks")
		text = string(b)
		var labels []string
		for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
			if m := line.FindStringSubmatch(l); m != nil {
				labels = append(labels, m[1])
			}
		}
		if err == nil && fmt.Sprint(labels) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/debug/tasks after 30s (err %v):\n%s\nwant a line for each of %v", err, text, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("/debug/tasks:\n%s", text)

	b, err := getAdmin(admin, "/debug/tasks?format=json")
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Tasks []tasks.State `json:"tasks"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatalf("%v:\n%s", err, b)
	}
	if len(js.Tasks) != len(want) {
		t.Errorf("JSON tasks %+v: want %d", js.Tasks, len(want))
	}
	for _, s := range js.Tasks {
		if s.State == "" || s.Since.IsZero() || s.Started.IsZero() || s.Since.Before(s.Started) || time.Since(s.Since) > time.Minute {
			t.Errorf("task %+v: want a state, since after started, recent", s)
		}
	}

	index, err := getAdmin(admin, "/debug/pprof/")
	if err != nil || !strings.Contains(string(index), "goroutine") || !strings.Contains(string(index), "heap") {
		t.Errorf("/debug/pprof/: %v\n%.500s", err, index)
	}
	// The goroutine dump shows the pipeline's goroutines.
	g, err := getAdmin(admin, "/debug/pprof/goroutine?debug=1")
	if err != nil || !strings.Contains(string(g), "checkpoint.(*Coordinator).Run") {
		t.Errorf("/debug/pprof/goroutine: %v\n%.500s", err, g)
	}
}
