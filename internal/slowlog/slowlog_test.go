package slowlog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func lines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// TestThresholdAndRateLimit: only operations at or past the threshold are
// logged, at most one line per kind per interval, with the suppressed
// count, the attributes and the phases.
func TestThresholdAndRateLimit(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	l, err := New(WithThreshold(time.Second), WithInterval(10*time.Second), WithClock(c.now),
		WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if l.Log("upload", 999*time.Millisecond) {
		t.Error("logged below the threshold")
	}
	if !l.Log("upload", time.Second, slog.String("bucket", "dt=2026-12-07/hr=12"), slog.Int64("rows", 10), slog.Int64("bytes", 2048)) {
		t.Error("not logged at the threshold")
	}
	c.add(time.Second)
	if l.Log("upload", 2*time.Second) || l.Log("upload", 3*time.Second) {
		t.Error("logged within the interval")
	}
	if !l.Log("commit", 4*time.Second, Phases([]Phase{{"begin", time.Millisecond}, {"upload", 3 * time.Second}})) {
		t.Error("another kind is limited on its own")
	}
	c.add(9 * time.Second)
	if !l.Log("upload", 5*time.Second) {
		t.Error("not logged after the interval")
	}
	got := lines(t, &buf)
	if len(got) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(got), buf.String())
	}
	first, commit, third := got[0], got[1], got[2]
	if first["msg"] != "slow upload" || first["level"] != "WARN" || first["op"] != "upload" || first["took"] != float64(time.Second) ||
		first["threshold"] != float64(time.Second) || first["suppressed"] != float64(0) ||
		first["bucket"] != "dt=2026-12-07/hr=12" || first["rows"] != float64(10) || first["bytes"] != float64(2048) {
		t.Errorf("first line %v", first)
	}
	phases, _ := commit["phases"].(map[string]any)
	if commit["msg"] != "slow commit" || phases["begin"] != float64(time.Millisecond) || phases["upload"] != float64(3*time.Second) {
		t.Errorf("commit line %v", commit)
	}
	if third["suppressed"] != float64(2) || third["took"] != float64(5*time.Second) {
		t.Errorf("third line %v: want the 2 suppressed", third)
	}
}

func TestNilAndValidate(t *testing.T) {
	var l *Logger
	if l.Slow(time.Hour) || l.Log("x", time.Hour) {
		t.Error("a nil Logger logged")
	}
	_, err := New(WithThreshold(0), WithInterval(-1), WithLogger(nil))
	for _, want := range []string{"threshold 0s: must be positive", "interval -1ns: must not be negative", "logger must not be nil"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want %q", err, want)
		}
	}
}

// TestEveryLineWithoutInterval: interval 0 logs every slow operation.
func TestEveryLineWithoutInterval(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(WithThreshold(time.Millisecond), WithInterval(0), WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		l.Log("commit", time.Second)
	}
	if n := len(lines(t, &buf)); n != 3 {
		t.Errorf("%d lines, want 3", n)
	}
}
