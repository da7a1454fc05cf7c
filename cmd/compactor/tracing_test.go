package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestRunExportsTraces: with --otlp-traces-endpoint, a run exports its
// spans (run, plan, groups, steps) to the OTLP/HTTP endpoint's
// /v1/traces before it exits; a bad endpoint is refused at once, its
// credentials not shown.
func TestRunExportsTraces(t *testing.T) {
	root, _ := newTable(t, 3, 100)
	cfg := filepath.Join(t.TempDir(), "table.yaml")
	yaml := "kafka:\n  topic: events\ntable:\n  url: file://" + root + "\nformat:\n  schema:\n    - {name: userId, type: int64}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+"\n"+string(body))
		mu.Unlock()
	}))
	defer collector.Close()
	t.Setenv("LAKESTREAM_PUSHGATEWAY_URL", "")

	code, stdout, stderr := runCmd("run", "--config", cfg, "--small-file-size", "1MiB", "--target-file-size", "4MiB",
		"--otlp-traces-endpoint", collector.URL)
	if code != exitOK || !strings.Contains(stdout, "2 groups") {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	mu.Lock()
	all := strings.Join(got, "\n")
	mu.Unlock()
	if !strings.HasPrefix(all, "POST /v1/traces\n") {
		t.Fatalf("collector got %q", all)
	}
	for _, name := range []string{"compaction.run", "compaction.plan", "compaction.group", "merge", "readback", "commit", "compactor"} {
		if !strings.Contains(all, name) {
			t.Errorf("exported spans do not name %q", name)
		}
	}

	code, _, stderr = runCmd("run", "--config", cfg, "--otlp-traces-endpoint", "http://bob:hunter2@collector:4318")
	if code != exitUsage || !strings.Contains(stderr, "--otlp-traces-endpoint") || !strings.Contains(stderr, "OTEL_EXPORTER_OTLP_HEADERS") ||
		strings.Contains(stderr, "hunter2") {
		t.Fatalf("bad endpoint: exit %d\n%s", code, stderr)
	}
}
