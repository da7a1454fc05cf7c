package checkpoint_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/slowlog"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSlowCommitLogged runs the pipeline on a store whose data file Puts
// take 120ms, with a slow-operation threshold of 100ms: the commit is
// logged once ("slow commit", rate-limited) with its rows, files, bytes,
// partitions and phases, the upload phase at least the Put's latency.
func TestSlowCommitLogged(t *testing.T) {
	const latency = 120 * time.Millisecond
	var buf lockedBuffer
	slow, err := slowlog.New(slowlog.WithThreshold(100*time.Millisecond), slowlog.WithInterval(time.Hour),
		slowlog.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	mem := objstore.NewMemory()
	store := objstore.NewFaulty(mem, objstore.WithMatcher(func(op objstore.Op, key string) objstore.Injection {
		if op == objstore.OpPut && strings.HasSuffix(key, ".parquet") {
			time.Sleep(latency)
		}
		return objstore.InjectNone
	}))
	all := pageviewRecords(1000, time.Now().UTC())
	p := newPipeline(t, store, 2, all, checkpoint.WithInterval(50*time.Millisecond), checkpoint.WithSlowLog(slow))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.coord.Run(ctx, p.src) }()
	waitUntil(t, "everything committed", func() bool { return p.coord.Stats().RowsCommitted == 1000 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.coord.Close()

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %q", err, buf.String())
		}
		lines = append(lines, m)
	}
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1 (rate-limited):\n%s", len(lines), buf.String())
	}
	l := lines[0]
	phases, _ := l["phases"].(map[string]any)
	upload, _ := phases["upload"].(float64)
	if l["msg"] != "slow commit" || l["rows"].(float64) <= 0 || l["files"].(float64) <= 0 || l["bytes"].(float64) <= 0 ||
		l["partitions"].(float64) <= 0 || l["instant"] == "" || time.Duration(upload) < latency || l["took"].(float64) < upload {
		t.Errorf("line %v", l)
	}
	for _, ph := range []string{checkpoint.PhaseBegin, checkpoint.PhaseBarrier, checkpoint.PhaseUpload, checkpoint.PhaseDeadLetters, checkpoint.PhaseCommit} {
		if _, ok := phases[ph]; !ok {
			t.Errorf("no phase %s in %v", ph, phases)
		}
	}
}
