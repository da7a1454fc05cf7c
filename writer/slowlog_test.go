package writer

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/slowlog"
)

// TestSlowUploadLogged writes two buckets into a store whose Puts take
// 150ms, with a slow-operation threshold of 100ms: each upload is slow, the
// first one logs "slow upload" with its bucket, key, rows, bytes and
// phases, the second is suppressed by the rate limit; a fast store logs
// nothing.
func TestSlowUploadLogged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		latency time.Duration
		lines   int
	}{{"slow", 150 * time.Millisecond, 1}, {"fast", 0, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			slow, err := slowlog.New(slowlog.WithThreshold(100*time.Millisecond), slowlog.WithInterval(time.Minute),
				slowlog.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
			if err != nil {
				t.Fatal(err)
			}
			store := objstore.NewFaulty(objstore.NewMemory(), objstore.WithLatency(tc.latency, objstore.OpPut))
			s := newTestSet(t, store, WithSlowLog(slow), WithUploadConcurrency(1))
			if err := s.Begin(testInstant, 1); err != nil {
				t.Fatal(err)
			}
			for i := range 50 {
				writeRec(t, s, "dt=a", i)
				writeRec(t, s, "dt=b", i)
			}
			files, err := s.Finish(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if l == "" {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatal(err)
				}
				if m["msg"] != "slow upload" {
					// A slow roll or flush: the machine's load, not the
					// store's latency (one under make test's -race run).
					continue
				}
				got = append(got, m)
			}
			if len(got) != tc.lines {
				t.Fatalf("%d slow upload lines, want %d:\n%s", len(got), tc.lines, buf.String())
			}
			if tc.lines == 0 {
				return
			}
			l := got[0]
			var f File
			for _, ff := range files {
				if ff.Path == l["key"] {
					f = ff
				}
			}
			phases, _ := l["phases"].(map[string]any)
			put, _ := phases["put"].(float64)
			if l["msg"] != "slow upload" || f.Path == "" || l["bucket"] != f.PartitionPath || l["rows"] != float64(f.Records) || f.Records != 50 ||
				l["bytes"] != float64(f.SizeBytes) || time.Duration(put) < tc.latency || l["took"].(float64) < put {
				t.Errorf("line %v; file %+v", l, f)
			}
			if _, ok := phases["before_upload"]; !ok {
				t.Errorf("no before_upload phase: %v", l)
			}
		})
	}
}

// TestSlowRollLogged: a roll (finishing a file in its spool) that takes the
// threshold or longer is one "slow roll" line with the bucket, key, reason,
// rows and bytes; a threshold of 1ns makes every roll slow.
func TestSlowRollLogged(t *testing.T) {
	var buf bytes.Buffer
	slow, err := slowlog.New(slowlog.WithThreshold(time.Nanosecond), slowlog.WithInterval(0),
		slowlog.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSet(t, objstore.NewMemory(), WithSlowLog(slow))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		writeRec(t, s, "dt=a", i)
		writeRec(t, s, "dt=b", i)
	}
	files, err := s.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rolled := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] != "slow roll" {
			continue
		}
		if m["rows"] != float64(50) || m["bytes"].(float64) <= 0 || m["reason"] == "" || m["key"] == "" {
			t.Errorf("line %v", m)
		}
		rolled[m["bucket"].(string)] = true
	}
	if len(files) != 2 || !rolled["dt=a"] || !rolled["dt=b"] {
		t.Fatalf("%d files, slow roll lines for %v:\n%s", len(files), rolled, buf.String())
	}
}

// TestSlowFlushLogged: a row group flushed for the memory budget that takes
// the threshold or longer is one "slow flush" line naming the bucket.
func TestSlowFlushLogged(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	slow, err := slowlog.New(slowlog.WithThreshold(time.Nanosecond), slowlog.WithInterval(0),
		slowlog.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSet(t, objstore.NewMemory(), WithSlowLog(slow), WithPageBufferSize(8<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if err := s.Write(ctx, "large", makeRow(testRec(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FlushLargest(ctx); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if m["msg"] != "slow flush" || m["bucket"] != "large" || m["rows"] != float64(3000) || m["buffered_bytes"].(float64) <= 0 {
		t.Errorf("line %v", m)
	}
}
