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
				got = append(got, m)
			}
			if len(got) != tc.lines {
				t.Fatalf("%d lines, want %d:\n%s", len(got), tc.lines, buf.String())
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
