package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/metrics"
	"github.com/lakestream/lakestream/internal/tracing"
	"github.com/lakestream/lakestream/source"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// newMetrics makes the MeterProvider (Prometheus for the admin endpoint,
// OTLP push if configured) and registers the pipeline's instruments; the
// Kafka clients' metrics (kafka, if not nil) are served beside them. The
// returned function unregisters them and shuts the provider down, pushing
// a last time.
func newMetrics(ctx context.Context, cfg Config, src metrics.Sources, logger *slog.Logger, kafka *metrics.KafkaClientMetrics) (*metrics.Provider, func(), error) {
	opts := cfg.Metrics.providerOptions()
	if kafka != nil {
		opts = append(opts, metrics.WithGatherers(kafka.Registry()))
	}
	opts = append(opts, metrics.WithLogger(logger), metrics.WithResourceAttributes(
		attribute.String("service.name", "ingestd"),
		attribute.String("service.instance.id", cfg.Checkpoint.WriterID),
		attribute.String("lakestream.table", cfg.Table.Name),
	))
	provider, err := metrics.NewProvider(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := provider.Shutdown(ctx); err != nil {
			logger.Warn("metrics shutdown", "err", err)
		}
	}
	pipe, err := metrics.New(provider.Meter(), src,
		metrics.WithAttributes(attribute.String("topic", cfg.Kafka.Topic)),
		metrics.WithPauseReasons(source.PauseReasonBuffer, source.PauseReasonSkew))
	if err != nil {
		shutdown()
		return nil, nil, err
	}
	return provider, func() { pipe.Close(); shutdown() }, nil
}

// kafkaClientHooks are the source options that record a Kafka client's
// metrics (franz-go's kprom) under client=name, if kafka is not nil.
func kafkaClientHooks(kafka *metrics.KafkaClientMetrics, name string) source.Option {
	if kafka == nil {
		return nil
	}
	return source.WithKgoOpts(kgo.WithHooks(kafka.Hook(name)))
}

// metricSources reads the pipeline for the metrics layer at collection
// time; every method called is safe from any goroutine.
func metricSources(coord *checkpoint.Coordinator, reader *source.Reader, router *bucketing.Router, storage *metrics.StorageRequests) metrics.Sources {
	return metrics.Sources{
		Partitions: func() []metrics.PartitionStat { return partitionStats(reader.PartitionStates()) },
		Watermark:  reader.Watermark,
		Rebalances: func() metrics.RebalanceStats {
			r := reader.Rebalances()
			return metrics.RebalanceStats{Assigned: r.Assigned, Revoked: r.Revoked, Lost: r.Lost}
		},
		Workers: func() []metrics.WorkerStat {
			ws := coord.WorkerStats()
			out := make([]metrics.WorkerStat, len(ws))
			for i, w := range ws {
				out[i] = metrics.WorkerStat{Worker: w.Worker, OpenFiles: w.OpenFiles, BufferedBytes: w.BufferedBytes}
			}
			return out
		},
		Pipeline:   func() metrics.PipelineStats { return pipelineStats(coord.Stats()) },
		HotBuckets: func() int { return len(router.HotBuckets()) },
		Health:     func() metrics.HealthStats { return healthStats(coord.Health()) },
		Storage:    storage.Stats,
	}
}

func healthStats(h checkpoint.Health) metrics.HealthStats {
	out := metrics.HealthStats{Retrying: len(h.Retrying), LastCommit: h.LastCommit}
	out.Age, out.HasAge = h.Age()
	for _, f := range h.Failures {
		out.Failures = append(out.Failures, metrics.FailureStat{Phase: f.Phase, Class: f.Class, Failures: f.Failures, Retries: f.Retries})
	}
	return out
}

func partitionStats(states []source.PartitionState) []metrics.PartitionStat {
	out := make([]metrics.PartitionStat, len(states))
	for i, s := range states {
		var reasons []string
		if s.PauseReason != "" {
			reasons = strings.Split(s.PauseReason, ",")
		}
		out[i] = metrics.PartitionStat{
			Partition: s.Partition, Lag: s.Lag, Records: s.RecordsRead, Bytes: s.BytesRead,
			BufferedRecords: int64(s.BufferedRecords), BufferedBytes: s.BufferedBytes,
			Paused: s.Paused, PauseReasons: reasons, Idle: s.Idle,
			EventTime: s.EventTime, HasEventTime: s.HasEventTime,
		}
	}
	return out
}

func pipelineStats(st checkpoint.Stats) metrics.PipelineStats {
	return metrics.PipelineStats{
		Records: st.Records, Bytes: st.Bytes, Rows: st.Rows, DeadLetters: st.DeadLetters,
		LateRecords: st.LateRecords, LateBatches: st.LateFlushes, LateBuffered: st.LateBuffered,
		Checkpoints: st.Checkpoints, Files: st.Files, RowsCommitted: st.RowsCommitted, LastDuration: st.LastDuration,
		BudgetFlushes: st.BudgetFlushes,
		RowsStaged:    st.RowsStaged,
	}
}

// newTracing makes the checkpoint's TracerProvider: a no-op one unless
// tracing.otlp_endpoint is set. The returned function exports the spans
// still buffered and stops the exporter.
func newTracing(ctx context.Context, cfg Config, logger *slog.Logger) (trace.TracerProvider, func(), error) {
	opts := append(cfg.Tracing.options(), tracing.WithLogger(logger), tracing.WithResourceAttributes(
		attribute.String("service.name", "ingestd"),
		attribute.String("service.instance.id", cfg.Checkpoint.WriterID),
		attribute.String("lakestream.table", cfg.Table.Name),
	))
	p, err := tracing.NewProvider(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	return p, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			logger.Warn("tracing shutdown", "err", err)
		}
	}, nil
}
