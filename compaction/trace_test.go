package compaction

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/failpoint"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func attrOf(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func childrenOf(spans []sdktrace.ReadOnlySpan, parent sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == parent.SpanContext().SpanID() {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return out
}

// TestRunSpans: a run over two partitions is a span "compaction.run" with
// the totals, whose children are the plan and one span per group, each
// group's children its steps in order, with the group's partition,
// instant and rows.
func TestRunSpans(t *testing.T) {
	f := newFixture(t, "filesystem")
	for range 4 {
		f.commit(100, 0, 1)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	res, err := f.compactor(f.table, TracerProvider(tp)).Run(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	var run sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == "compaction.run" {
			run = s
		}
	}
	if run == nil {
		t.Fatalf("no run span among %d", len(spans))
	}
	if v, _ := attrOf(run, AttrRows); v.AsInt64() != 800 || run.Status().Code == codes.Error {
		t.Errorf("run span rows %v, status %v; want 800, no error", v, run.Status())
	}
	kids := childrenOf(spans, run)
	var names []string
	for _, k := range kids {
		names = append(names, k.Name())
	}
	if strings.Join(names, ",") != "compaction.plan,compaction.group,compaction.group" {
		t.Fatalf("run's children %v", names)
	}
	if v, _ := attrOf(kids[0], AttrGroups); v.AsInt64() != 2 {
		t.Errorf("plan span groups %v, want 2", v)
	}
	var rows int64
	for i, g := range kids[1:] {
		inst, _ := attrOf(g, AttrInstant)
		part, _ := attrOf(g, AttrPartition)
		if inst.AsString() != res.Groups[i].Instant || part.AsString() != res.Groups[i].Partition {
			t.Errorf("group span %d: instant %v partition %v, want %s %s", i, inst, part, res.Groups[i].Instant, res.Groups[i].Partition)
		}
		r, _ := attrOf(g, AttrRows)
		rows += r.AsInt64()
		var steps []string
		for _, s := range childrenOf(spans, g) {
			steps = append(steps, s.Name())
		}
		want := []string{StepBegin, StepMerge, StepVerify, StepUpload, StepReadBack, StepCommit}
		if !slices.Equal(steps, want) {
			t.Errorf("group %d steps %v, want %v", i, steps, want)
		}
	}
	if rows != 800 {
		t.Errorf("rows on the group spans %d, want 800", rows)
	}
}

// TestRunSpansFailedStep: a run stopped by an error injected after the
// merged file is written and verified (before the commit) ends the
// failing step, its group and the run with an error status.
func TestRunSpansFailedStep(t *testing.T) {
	f := newFixture(t, "filesystem")
	for range 3 {
		f.commit(100, 0)
	}
	set, err := failpoint.Parse(failpoint.AfterFileWrite+"=error", 1)
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	if _, err := f.compactor(f.table, Failpoints(set), TracerProvider(tp)).Run(f.ctx); !errors.Is(err, failpoint.ErrInjected) {
		t.Fatalf("Run: %v, want the injected error", err)
	}
	status := map[string]codes.Code{}
	for _, s := range exp.GetSpans() {
		status[s.Name] = s.Status.Code
	}
	for _, name := range []string{"compaction.run", "compaction.group", StepReadBack} {
		if status[name] != codes.Error {
			t.Errorf("span %s status %v, want Error (all: %v)", name, status[name], status)
		}
	}
	for _, name := range []string{StepMerge, StepUpload, "compaction.plan"} {
		if status[name] == codes.Error {
			t.Errorf("span %s failed", name)
		}
	}
	if _, ok := status[StepCommit]; ok {
		t.Error("a commit step after the failure")
	}
}
