package checkpoint_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func spanAttr(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestCheckpointSpans runs the pipeline traced into an in-memory
// recorder, on a store that fails the first attempt to write the timeline's
// commit, with a publisher that fails once: every checkpoint is a span
// "checkpoint" with its ID, instant, files, rows, bytes and partitions,
// whose children are the phases in order; the failed commit attempt is an
// exception event on the commit span (which still succeeds); the publish
// span is a child of its checkpoint and records the publisher's failure.
func TestCheckpointSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var commitFailed atomic.Bool
	store := objstore.NewFaulty(objstore.NewMemory(), objstore.WithMatcher(func(op objstore.Op, key string) objstore.Injection {
		if strings.HasSuffix(key, ".commit") && strings.Contains(key, ".hoodie/") && commitFailed.CompareAndSwap(false, true) {
			return objstore.InjectBefore
		}
		return objstore.InjectNone
	}))
	var published atomic.Int32
	pub := table.PublisherFunc(func(context.Context, table.Commit) error {
		if published.Add(1) == 1 {
			return errors.New("catalog unreachable at https://bob:hunter2@catalog.example/v1?token=s3cret")
		}
		return nil
	})
	p := newPipeline(t, store, 2, pageviewRecords(1000, time.Now().UTC()), checkpoint.WithInterval(30*time.Millisecond),
		checkpoint.WithTracerProvider(tp), checkpoint.WithPublishers(pub), checkpoint.WithRetry(time.Millisecond, 10*time.Millisecond))
	p.run(t)
	if !commitFailed.Load() {
		t.Fatal("the commit fault was never injected")
	}

	ended := rec.Ended()
	byID := map[[8]byte]sdktrace.ReadOnlySpan{}
	var checkpoints []sdktrace.ReadOnlySpan
	for _, s := range ended {
		byID[s.SpanContext().SpanID()] = s
		if s.Name() == "checkpoint" {
			checkpoints = append(checkpoints, s)
		}
	}
	st := p.coord.Stats()
	if int64(len(checkpoints)) != st.Checkpoints || st.Checkpoints == 0 {
		t.Fatalf("%d checkpoint spans, %d checkpoints", len(checkpoints), st.Checkpoints)
	}
	var rows int64
	retried := false
	for _, cp := range checkpoints {
		if cp.Status().Code != codes.Ok {
			t.Errorf("checkpoint span status %v", cp.Status())
		}
		for _, k := range []attribute.Key{checkpoint.AttrCheckpoint, checkpoint.AttrInstant, checkpoint.AttrFiles, checkpoint.AttrRows, checkpoint.AttrBytes, checkpoint.AttrPartitions, checkpoint.AttrTopic, checkpoint.AttrWriter} {
			if _, ok := spanAttr(cp, k); !ok {
				t.Errorf("checkpoint span without %s: %v", k, cp.Attributes())
			}
		}
		r, _ := spanAttr(cp, checkpoint.AttrRows)
		rows += r.AsInt64()
		var phases []string
		for _, s := range ended {
			if s.Parent().SpanID() != cp.SpanContext().SpanID() || s.Name() == checkpoint.PhasePublish {
				continue
			}
			phases = append(phases, s.Name())
			if s.StartTime().Before(cp.StartTime()) || s.EndTime().After(cp.EndTime()) {
				t.Errorf("phase %s [%v, %v] outside its checkpoint [%v, %v]", s.Name(), s.StartTime(), s.EndTime(), cp.StartTime(), cp.EndTime())
			}
			if s.Name() == checkpoint.PhaseUpload {
				var workers int
				var workerRows int64
				for _, w := range ended {
					if w.Parent().SpanID() == s.SpanContext().SpanID() && w.Name() == checkpoint.SpanCloseUpload {
						workers++
						v, _ := spanAttr(w, checkpoint.AttrRows)
						workerRows += v.AsInt64()
					}
				}
				if cpRows, _ := spanAttr(cp, checkpoint.AttrRows); workers != 2 || workerRows != cpRows.AsInt64() {
					t.Errorf("upload: %d close_upload spans with %d rows, want 2 with %d", workers, workerRows, cpRows.AsInt64())
				}
			}
			if s.Name() == checkpoint.PhaseCommit {
				for _, e := range s.Events() {
					if e.Name == "exception" {
						retried = true
					}
				}
				if s.Status().Code == codes.Error {
					t.Errorf("the retried commit ends in error: %v", s.Status())
				}
			}
		}
		want := []string{checkpoint.PhaseBegin, checkpoint.PhaseBarrier, checkpoint.PhaseUpload, checkpoint.PhaseDeadLetters, checkpoint.PhaseCommit}
		if strings.Join(phases, ",") != strings.Join(want, ",") {
			t.Errorf("phases %v, want %v", phases, want)
		}
	}
	if rows != 1000 || st.RowsCommitted != 1000 {
		t.Errorf("rows on the spans %d, committed %d, want 1000", rows, st.RowsCommitted)
	}
	if !retried {
		t.Error("no exception event for the failed commit attempt")
	}
	var pubs, pubFailed int
	for _, s := range ended {
		if s.Name() != checkpoint.PhasePublish {
			continue
		}
		pubs++
		parent, ok := byID[s.Parent().SpanID()]
		if !ok || parent.Name() != "checkpoint" {
			t.Errorf("publish span without its checkpoint as parent")
		} else if a, _ := spanAttr(parent, checkpoint.AttrInstant); a.AsString() != func() string { v, _ := spanAttr(s, checkpoint.AttrInstant); return v.AsString() }() {
			t.Errorf("publish span of instant %v under checkpoint of %v", s.Attributes(), a.AsString())
		}
		if s.Status().Code == codes.Error {
			pubFailed++
			if strings.Contains(s.Status().Description, "hunter2") || strings.Contains(s.Status().Description, "s3cret") {
				t.Errorf("publish status shows a secret: %q", s.Status().Description)
			}
		}
	}
	if pubs != len(checkpoints) || pubFailed != 1 {
		t.Errorf("%d publish spans (%d failed), want %d (1 failed)", pubs, pubFailed, len(checkpoints))
	}
}

// TestCheckpointSpanFailedPhase: a checkpoint stopped by a failure of its
// upload phase (an injected error after the files are written, not
// retried) ends its upload span and its checkpoint span with an error
// status naming the failure.
func TestCheckpointSpanFailedPhase(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	fp, err := failpoint.Parse(failpoint.AfterFileWrite+"=error", 1)
	if err != nil {
		t.Fatal(err)
	}
	p := newPipeline(t, objstore.NewMemory(), 2, pageviewRecords(200, time.Now().UTC()), checkpoint.WithInterval(30*time.Millisecond),
		checkpoint.WithTracerProvider(tp), checkpoint.WithFailpoints(fp))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.src.done = cancel
	if err := p.coord.Run(ctx, p.src); !errors.Is(err, failpoint.ErrInjected) {
		t.Fatalf("Run: %v, want the injected error", err)
	}
	p.coord.Close()
	var cp, upload *tracetest.SpanStub
	spans := exp.GetSpans()
	for i := range spans {
		switch spans[i].Name {
		case "checkpoint":
			cp = &spans[i]
		case checkpoint.PhaseUpload:
			upload = &spans[i]
		}
	}
	if cp == nil || upload == nil {
		t.Fatalf("spans %v: want a checkpoint and its upload", spans.Snapshots())
	}
	if upload.Parent.SpanID() != cp.SpanContext.SpanID() {
		t.Error("the upload span is not the checkpoint's child")
	}
	for _, s := range []*tracetest.SpanStub{cp, upload} {
		if s.Status.Code != codes.Error || !strings.Contains(s.Status.Description, "failpoint") {
			t.Errorf("%s span status %v, want an error naming the failpoint", s.Name, s.Status)
		}
	}
	if !strings.Contains(cp.Status.Description, checkpoint.PhaseUpload) {
		t.Errorf("checkpoint status %q does not name the phase", cp.Status.Description)
	}
	found := false
	for _, e := range upload.Events {
		if e.Name == "exception" {
			found = true
		}
	}
	if !found {
		t.Error("no exception event on the upload span")
	}
	if _, ok := spanAttr(cp.Snapshot(), checkpoint.AttrCheckpoint); !ok {
		t.Error("checkpoint span without its ID")
	}
}
