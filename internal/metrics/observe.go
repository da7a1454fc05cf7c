package metrics

import (
	"context"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// observe is the one callback: it snapshots every source once per
// collection.
func (p *Pipeline) observe(_ context.Context, o metric.Observer) error {
	if p.src.Partitions != nil {
		for _, s := range p.src.Partitions() {
			p.observePartition(o, s)
		}
	}
	if p.src.Watermark != nil {
		if wm, ok := p.src.Watermark(); ok {
			o.ObserveFloat64(p.watermark, microsToSeconds(wm), p.with())
		}
	}
	if p.src.Rebalances != nil {
		s := p.src.Rebalances()
		for _, e := range []struct {
			event string
			n     int64
		}{{"assigned", s.Assigned}, {"revoked", s.Revoked}, {"lost", s.Lost}} {
			o.ObserveInt64(p.rebalance, e.n, p.with(attribute.String(AttrEvent, e.event)))
		}
	}
	if p.src.Workers != nil {
		for _, w := range p.src.Workers() {
			attrs := p.with(attribute.Int(AttrWorker, w.Worker))
			o.ObserveInt64(p.worker.openFiles, int64(w.OpenFiles), attrs)
			o.ObserveInt64(p.worker.bufferedBytes, w.BufferedBytes, attrs)
		}
	}
	if p.src.Pipeline != nil {
		p.observePipeline(o, p.src.Pipeline())
	}
	if p.src.HotBuckets != nil {
		o.ObserveInt64(p.hot, int64(p.src.HotBuckets()), p.with())
	}
	if p.src.Health != nil {
		p.observeHealth(o, p.src.Health())
	}
	if p.src.Storage != nil {
		for _, s := range p.src.Storage() {
			attrs := p.with(attribute.String(AttrOperation, s.Op), attribute.String(AttrClass, s.Class))
			o.ObserveInt64(p.storage.requests, s.Requests, attrs)
			o.ObserveFloat64(p.storage.time, s.Duration.Seconds(), attrs)
		}
	}
	return nil
}

func (p *Pipeline) observeHealth(o metric.Observer, s HealthStats) {
	in := &p.health
	for _, f := range s.Failures {
		attrs := p.with(attribute.String(AttrPhase, f.Phase), attribute.String(AttrClass, f.Class))
		o.ObserveInt64(in.failures, f.Failures, attrs)
		o.ObserveInt64(in.retries, f.Retries, attrs)
	}
	o.ObserveInt64(in.retrying, int64(s.Retrying), p.with())
	if !s.LastCommit.IsZero() {
		o.ObserveFloat64(in.lastCommit, microsToSeconds(s.LastCommit.UnixMicro()), p.with())
	}
	if s.HasAge {
		o.ObserveFloat64(in.age, s.Age.Seconds(), p.with())
	}
}

func (p *Pipeline) observePartition(o metric.Observer, s PartitionStat) {
	pa := attribute.Int(AttrPartition, int(s.Partition))
	attrs := p.with(pa)
	in := &p.part
	if s.Lag >= 0 {
		o.ObserveInt64(in.lag, s.Lag, attrs)
	}
	o.ObserveInt64(in.records, s.Records, attrs)
	o.ObserveInt64(in.bytes, s.Bytes, attrs)
	o.ObserveInt64(in.bufRecords, s.BufferedRecords, attrs)
	o.ObserveInt64(in.bufBytes, s.BufferedBytes, attrs)
	o.ObserveInt64(in.paused, boolInt(s.Paused), attrs)
	o.ObserveInt64(in.idle, boolInt(s.Idle), attrs)
	if s.HasEventTime {
		o.ObserveFloat64(in.eventTime, microsToSeconds(s.EventTime), attrs)
	}
	var reasons []string
	if s.Paused {
		reasons = s.PauseReasons
	}
	for _, r := range reasons {
		o.ObserveInt64(in.pausedReason, 1, p.with(pa, attribute.String(AttrReason, r)))
	}
	for _, r := range p.pauseReasons {
		if !slices.Contains(reasons, r) {
			o.ObserveInt64(in.pausedReason, 0, p.with(pa, attribute.String(AttrReason, r)))
		}
	}
}

func (p *Pipeline) observePipeline(o metric.Observer, s PipelineStats) {
	in := &p.pipe
	attrs := p.with()
	o.ObserveInt64(in.records, s.Records, attrs)
	o.ObserveInt64(in.bytes, s.Bytes, attrs)
	o.ObserveInt64(in.rows, s.Rows, attrs)
	o.ObserveInt64(in.late, s.LateRecords, attrs)
	o.ObserveInt64(in.lateBatches, s.LateBatches, attrs)
	o.ObserveInt64(in.lateBuffered, s.LateBuffered, attrs)
	o.ObserveInt64(in.checkpoints, s.Checkpoints, attrs)
	o.ObserveInt64(in.files, s.Files, attrs)
	o.ObserveInt64(in.rowsCommitted, s.RowsCommitted, attrs)
	o.ObserveInt64(in.budgetFlushes, s.BudgetFlushes, attrs)
	o.ObserveInt64(in.rowsStaged, s.RowsStaged, attrs)
	o.ObserveFloat64(in.lastDuration, s.LastDuration.Seconds(), attrs)
	for reason, n := range s.DeadLetters {
		o.ObserveInt64(in.dead, n, p.with(attribute.String(AttrReason, reason)))
	}
}

// with returns the base attributes plus kvs (never appending to base in
// place: collections may run concurrently).
func (p *Pipeline) with(kvs ...attribute.KeyValue) metric.MeasurementOption {
	n := len(p.base)
	return metric.WithAttributes(append(p.base[:n:n], kvs...)...)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func microsToSeconds(us int64) float64 {
	return float64(us/1_000_000) + float64(us%1_000_000)/1e6
}
