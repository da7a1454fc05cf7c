package checkpoint

import (
	"context"
	"fmt"
	"time"

	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/writer"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName is the instrumentation scope of the coordinator's spans.
const TracerName = "github.com/lakestream/lakestream/checkpoint"

// The attributes of the checkpoint spans.
const (
	AttrCheckpoint = attribute.Key("lakestream.checkpoint.id")
	AttrInstant    = attribute.Key("lakestream.instant")
	AttrTopic      = attribute.Key("lakestream.topic")
	AttrWriter     = attribute.Key("lakestream.writer_id")
	AttrFiles      = attribute.Key("lakestream.files")
	AttrRows       = attribute.Key("lakestream.rows")
	AttrStagedRows = attribute.Key("lakestream.staged_rows")
	AttrBytes      = attribute.Key("lakestream.bytes")
	AttrPartitions = attribute.Key("lakestream.partitions")
	AttrPublisher  = attribute.Key("lakestream.publisher")
	AttrClass      = attribute.Key("lakestream.error.class")
	AttrOp         = attribute.Key("lakestream.op")
	AttrWorker     = attribute.Key("lakestream.worker")
)

// SpanCloseUpload is the span of one worker closing and uploading its
// files, a child of the upload phase's span.
const SpanCloseUpload = "close_upload"

// WithTracerProvider traces every checkpoint through tp: a span
// "checkpoint" (attributes: checkpoint ID, topic, writer ID; once
// committed, instant, files, rows, staged rows, bytes, partitions) whose
// children are its phases, one span each, named after the Phase constants
// (begin, barrier, upload, dead_letters, commit), timed as the
// slow-operation log times them, the upload span with a child
// SpanCloseUpload per worker (its files, rows and bytes); and, after the commit, a span "publish"
// under it for each commit handed to the publishers. Every failed attempt
// is an "exception" event on its phase's span (the message redacted, as
// Health's); the phase that stops a checkpoint, and the checkpoint, end
// with an error status. A checkpoint with nothing to commit makes no span.
// Default: a no-op provider (nothing recorded). Never the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// cpTrace follows the checkpoint in progress with spans. Guarded by
// health.mu; its methods run with it held.
type cpTrace struct {
	tracer     trace.Tracer
	attrs      []attribute.KeyValue // of every checkpoint span
	checkpoint func() int64         // the checkpoint in progress (read with c.mu held)

	cp, phase  trace.Span
	phaseName  string
	phaseCtx   context.Context // holds phase
	cpCtx      context.Context // holds cp
	ok         bool            // the checkpoint committed
	failure    string          // the error that stopped it, redacted
	publishing map[string]trace.SpanContext
}

// attachTracer sets up the coordinator's spans (New calls it).
func (c *Coordinator) attachTracer() {
	tp := c.opts.tracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	c.health.trace = &cpTrace{
		tracer:     tp.Tracer(TracerName),
		attrs:      []attribute.KeyValue{AttrTopic.String(c.cfg.Topic), AttrWriter.String(c.cfg.WriterID)},
		checkpoint: func() int64 { return c.inst.id },
		publishing: map[string]trace.SpanContext{},
	}
}

// changed ends the phase span in progress and starts phase's (""
// ends the checkpoint's span).
func (t *cpTrace) changed(phase string, now time.Time) {
	if t == nil {
		return
	}
	if t.phase != nil {
		t.phase.End(trace.WithTimestamp(now))
		t.phase, t.phaseName, t.phaseCtx = nil, "", nil
	}
	if phase == "" {
		t.end(now)
		return
	}
	if t.cp == nil {
		attrs := append([]attribute.KeyValue{AttrCheckpoint.Int64(t.checkpoint())}, t.attrs...)
		t.cpCtx, t.cp = t.tracer.Start(context.Background(), "checkpoint",
			trace.WithTimestamp(now), trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindInternal))
		t.ok, t.failure = false, ""
	}
	t.phaseCtx, t.phase = t.tracer.Start(t.cpCtx, phase, trace.WithTimestamp(now))
	t.phaseName = phase
}

// end ends the checkpoint's span, if one is open.
func (t *cpTrace) end(now time.Time) {
	if t == nil || t.cp == nil {
		return
	}
	switch {
	case t.ok:
		t.cp.SetStatus(codes.Ok, "")
	case t.failure != "":
		t.cp.SetStatus(codes.Error, t.failure)
	default:
		t.cp.SetStatus(codes.Error, "the checkpoint did not complete")
	}
	t.cp.End(trace.WithTimestamp(now))
	t.cp, t.cpCtx = nil, nil
}

// failed records a failed attempt of op in phase on the phase's span, if
// it is the one in progress (a write or decode failure between
// checkpoints has none). Not retried: the phase and the checkpoint fail.
func (t *cpTrace) failed(op, phase, class, msg string, retry bool, now time.Time) {
	if t == nil || t.phase == nil || t.phaseName != phase {
		return
	}
	t.phase.AddEvent("exception", trace.WithTimestamp(now), trace.WithAttributes(
		attribute.String("exception.message", msg), AttrClass.String(class), AttrOp.String(op),
		attribute.Bool("lakestream.retried", retry)))
	if !retry {
		t.phase.SetStatus(codes.Error, msg)
		t.failure = fmt.Sprintf("%s: %s", phase, msg)
	}
}

// committed sets the checkpoint span's commit attributes; the span ends
// with the phase (health.completed). Publishing remembers the span for the
// publish spans.
func (t *cpTrace) committed(instant string, files []writer.File, rows, staged int64, publishing bool) {
	if t == nil || t.cp == nil {
		return
	}
	var bytes int64
	parts := map[string]struct{}{}
	for _, f := range files {
		bytes += f.SizeBytes
		parts[f.PartitionPath] = struct{}{}
	}
	t.cp.SetAttributes(AttrInstant.String(instant), AttrFiles.Int(len(files)), AttrRows.Int64(rows),
		AttrStagedRows.Int64(staged), AttrBytes.Int64(bytes), AttrPartitions.Int(len(parts)))
	t.ok = true
	if publishing {
		t.publishing[instant] = t.cp.SpanContext()
	}
}

// traceCommitted records the commit of instant on the checkpoint's span.
// c.mu is held.
func (c *Coordinator) traceCommitted(instant string, files []writer.File, rows, staged int64) {
	c.health.mu.Lock()
	c.health.trace.committed(instant, files, rows, staged, len(c.opts.publishers) > 0)
	c.health.mu.Unlock()
}

// startPublish starts the span of publishing cm, a child of its
// checkpoint's span.
func (c *Coordinator) startPublish(ctx context.Context, cm table.Commit) trace.Span {
	c.health.mu.Lock()
	t := c.health.trace
	parent, ok := t.publishing[cm.Instant]
	delete(t.publishing, cm.Instant)
	c.health.mu.Unlock()
	if ok {
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	_, span := t.tracer.Start(ctx, PhasePublish, trace.WithAttributes(
		AttrCheckpoint.Int64(cm.CheckpointID), AttrInstant.String(cm.Instant), AttrFiles.Int(cm.Files), AttrRows.Int64(cm.Rows)))
	return span
}

// startCloseUpload starts the span of worker closing and uploading its
// files, under the phase in progress (upload).
func (c *Coordinator) startCloseUpload(worker int) trace.Span {
	c.health.mu.Lock()
	t := c.health.trace
	ctx := t.phaseCtx
	c.health.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	_, span := t.tracer.Start(ctx, SpanCloseUpload, trace.WithAttributes(AttrWorker.Int(worker)))
	return span
}

// endCloseUpload ends a worker's close_upload span with what it closed,
// or its error (redacted).
func endCloseUpload(span trace.Span, files []writer.File, err error) {
	if err != nil {
		span.SetStatus(codes.Error, redactMessage(err.Error()))
	} else {
		var rows, bytes int64
		for _, f := range files {
			rows += f.Records
			bytes += f.SizeBytes
		}
		span.SetAttributes(AttrFiles.Int(len(files)), AttrRows.Int64(rows), AttrBytes.Int64(bytes))
	}
	span.End()
}

// publishFailed records a publisher's failure on span.
func publishFailed(span trace.Span, publisher int, class, msg string) {
	span.AddEvent("exception", trace.WithAttributes(attribute.String("exception.message", msg),
		AttrClass.String(class), AttrPublisher.Int(publisher)))
	span.SetStatus(codes.Error, fmt.Sprintf("publisher %d: %s", publisher, msg))
}
