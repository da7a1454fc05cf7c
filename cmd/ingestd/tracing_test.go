package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCheckpointTracesExported runs ingestd against kfake with
// tracing.otlp_endpoint set to a collector: once a checkpoint committed
// and ingestd stopped, the collector has received, on /v1/traces, the
// checkpoint's span with its phases and attributes, and the service's
// name.
func TestCheckpointTracesExported(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline against kfake")
	}
	const topic = "clicks"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic, topic+".dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var mu sync.Mutex
	var got []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+"\n"+string(body))
		mu.Unlock()
	}))
	defer collector.Close()
	cfg, err := loadConfig(writeConfig(t, fmt.Sprintf(`kafka:
  topic: %s
  brokers: [%s]
table:
  url: file://%s
format:
  schema:
    - {name: id, type: int64, optional: false}
checkpoint:
  interval: 200ms
  writer_id: traces-test
  state_dir: %s
admin:
  addr: ""
tracing:
  otlp_endpoint: %s
`, topic, cluster.ListenAddrs()[0], t.TempDir(), t.TempDir(), collector.URL)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, `{"id": %d}`, i), Timestamp: now})
	}
	produce(t, cluster.ListenAddrs(), recs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- ingestTable(ctx, nil, cfg, slog.New(slog.NewJSONHandler(logs, nil))) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logs.String(), `"msg":"checkpoint committed"`) {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no checkpoint committed:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ingest: %v\n%s", err, logs.String())
	}
	mu.Lock()
	all := strings.Join(got, "\n")
	mu.Unlock()
	if !strings.HasPrefix(all, "POST /v1/traces\n") {
		t.Fatalf("collector got %q\n%s", all, logs.String())
	}
	for _, w := range []string{"checkpoint", "barrier", "upload", "dead_letters", "commit", "lakestream.checkpoint.id",
		"lakestream.instant", "lakestream.rows", "ingestd", "traces-test"} {
		if !strings.Contains(all, w) {
			t.Errorf("exported spans do not hold %q", w)
		}
	}
}
