package compaction

import (
	"time"

	"context"
	"errors"
	"github.com/lakestream/lakestream/internal/slowlog"

	"github.com/lakestream/lakestream/internal/redact"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName is the instrumentation scope of the compactor's spans.
const TracerName = "github.com/lakestream/lakestream/compaction"

// The attributes of the compactor's spans.
const (
	AttrWriter      = attribute.Key("lakestream.writer_id")
	AttrShard       = attribute.Key("lakestream.shard")
	AttrShards      = attribute.Key("lakestream.shards")
	AttrDryRun      = attribute.Key("lakestream.dry_run")
	AttrSnapshot    = attribute.Key("lakestream.snapshot")
	AttrGroups      = attribute.Key("lakestream.groups")
	AttrGroup       = attribute.Key("lakestream.group")
	AttrPartition   = attribute.Key("lakestream.partition")
	AttrInstant     = attribute.Key("lakestream.instant")
	AttrInputFiles  = attribute.Key("lakestream.input_files")
	AttrInputBytes  = attribute.Key("lakestream.input_bytes")
	AttrOutputBytes = attribute.Key("lakestream.output_bytes")
	AttrRows        = attribute.Key("lakestream.rows")
	AttrRowGroups   = attribute.Key("lakestream.row_groups")
	AttrConflicts   = attribute.Key("lakestream.conflicts")
	AttrCleaned     = attribute.Key("lakestream.files_cleaned")
)

// The names of the spans of a group's steps, children of its
// "compaction.group" span.
const (
	StepBegin    = "begin"    // the replacecommit is requested and checked for conflicts
	StepMerge    = "merge"    // the inputs are downloaded and merged into one file
	StepVerify   = "verify"   // the merged file is checked against the merge's result
	StepUpload   = "upload"   // the merged file is uploaded
	StepReadBack = "readback" // the uploaded file is read back and checked again
	StepCommit   = "commit"   // conflicts checked again, inputs checked, the replacecommit completed
)

// TracerProvider traces every Run through tp: a span "compaction.run"
// (writer ID, shard, dry run; then groups committed, conflicts, rows,
// bytes, files cleaned), its child "compaction.plan" (snapshot, groups,
// input files and bytes), and a "compaction.group" per group (partition,
// instant, input files and bytes, output bytes, rows) whose children are
// its steps (Step constants). A failed step, its group and the run end
// with an error status; a group given up to a conflict ends with an
// error status and leaves the run's status unset (Run returns a
// *ConflictError, and the other groups go on). Default: a no-op provider.
// Never the global provider.
func TracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

func (c *Compactor) tracer() trace.Tracer {
	tp := c.o.tracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(TracerName)
}

// endSpan sets span's status from err and ends it. The message is
// redacted (internal/redact.URL): a store's error may quote a URL.
func endSpan(span trace.Span, err error) {
	if err != nil {
		msg := redact.URL(err.Error())
		span.AddEvent("exception", trace.WithAttributes(attribute.String("exception.message", msg)))
		span.SetStatus(codes.Error, msg)
	}
	span.End()
}

// Run compacts the table once: see run for what it does and returns. It
// is traced as TracerProvider says.
func (c *Compactor) Run(ctx context.Context) (*Result, error) {
	ctx, span := c.tracer().Start(ctx, "compaction.run", trace.WithAttributes(
		AttrWriter.String(c.o.writerID), AttrShard.Int(c.o.shard), AttrShards.Int(c.o.shards), AttrDryRun.Bool(c.o.dryRun)))
	res, err := c.run(ctx)
	if res != nil {
		t := res.Totals()
		span.SetAttributes(AttrGroups.Int(len(res.Groups)), AttrConflicts.Int(len(res.Conflicts)), AttrRows.Int64(t.Rows),
			AttrInputFiles.Int(t.InputFiles), AttrInputBytes.Int64(t.InputBytes), AttrOutputBytes.Int64(t.OutputBytes), AttrCleaned.Int(res.Cleaned))
	}
	var ce *ConflictError
	if errors.As(err, &ce) {
		span.End()
		return res, err
	}
	endSpan(span, err)
	return res, err
}

// tracedPlan is plan in a span "compaction.plan".
func (c *Compactor) tracedPlan(ctx context.Context) (*PlanResult, error) {
	ctx, span := c.tracer().Start(ctx, "compaction.plan")
	p, err := plan(ctx, c.tbl, &c.o)
	if p != nil {
		span.SetAttributes(AttrSnapshot.String(p.Snapshot), AttrGroups.Int(len(p.Groups)),
			AttrInputFiles.Int(p.InputFiles()), AttrInputBytes.Int64(p.InputBytes()))
	}
	endSpan(span, err)
	return p, err
}

// groupTrace is the span of a group and of its step in progress.
type groupTrace struct {
	tracer trace.Tracer
	ctx    context.Context // holds group
	group  trace.Span
	step   trace.Span

	// For the slow-step log (slowlog.go): the step in progress and
	// since when, and what names the group.
	slow      *slowlog.Logger
	stepName  string
	stepStart time.Time
	partition string
	instantID string
	files     int
	bytes     int64
}

// traceGroup starts group idx's span; ctx carries it.
func (c *Compactor) traceGroup(ctx context.Context, idx int, g *Group) (context.Context, *groupTrace) {
	ctx, span := c.tracer().Start(ctx, "compaction.group", trace.WithAttributes(AttrGroup.Int(idx),
		AttrPartition.String(g.Partition), AttrInputFiles.Int(len(g.Files)), AttrInputBytes.Int64(g.Bytes)))
	gt := &groupTrace{tracer: c.tracer(), ctx: ctx, group: span,
		slow: c.o.slow, partition: g.Partition, files: len(g.Files), bytes: g.Bytes}
	gt.enter(StepBegin)
	return ctx, gt
}

// enter ends the step in progress and starts step.
func (g *groupTrace) enter(step string) {
	if g.step != nil {
		g.step.End()
	}
	g.slowStep(g.stepName, g.stepStart)
	g.stepName, g.stepStart = step, time.Now()
	_, g.step = g.tracer.Start(g.ctx, step)
}

// instant records the group's instant.
func (g *groupTrace) instant(instant string) {
	g.instantID = instant
	g.group.SetAttributes(AttrInstant.String(instant))
}

// done records the committed group's result.
func (g *groupTrace) done(r *GroupResult) *GroupResult {
	g.group.SetAttributes(AttrOutputBytes.Int64(r.OutputBytes), AttrRows.Int64(r.Rows), AttrRowGroups.Int(r.RowGroups))
	return r
}

// end ends the step in progress and the group, failed if err is set.
func (g *groupTrace) end(err error) {
	if g.step != nil {
		endSpan(g.step, err)
		g.step = nil
	}
	g.slowStep(g.stepName, g.stepStart)
	g.stepName = ""
	endSpan(g.group, err)
}
