package main

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/lakestream/lakestream/compaction"
	"github.com/lakestream/lakestream/internal/redact"
)

// pusher pushes the gauges of the last run to the Pushgateway
// (docs/operations.md, "Compactor metrics"): POST, grouping key job,
// table and shard. A failed push is logged, nothing more.
type pusher struct {
	url, table, shard string
	logger            *slog.Logger
}

func newPusher(url, table, shard string, logger *slog.Logger) *pusher {
	return &pusher{url: url, table: table, shard: shard, logger: logger}
}

func (p *pusher) push(res *compaction.Result, tot compaction.GroupResult, ok bool) {
	if p == nil || p.url == "" {
		return
	}
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	now := float64(time.Now().UnixNano()) / 1e9
	success := 0.0
	if ok {
		success = 1
		gauge("lakestream_compactor_last_success_timestamp_seconds", "When the last successful run ended.", now)
	}
	gauge("lakestream_compactor_last_run_timestamp_seconds", "When the last run ended.", now)
	gauge("lakestream_compactor_last_run_success", "1 if the last run succeeded, 0 if it failed.", success)
	gauge("lakestream_compactor_last_run_duration_seconds", "How long the last run took.", res.Duration.Seconds())
	gauge("lakestream_compactor_last_run_input_files", "Data files the last run replaced.", float64(tot.InputFiles))
	gauge("lakestream_compactor_last_run_output_files", "Data files the last run wrote.", float64(res.OutputFiles()))
	gauge("lakestream_compactor_last_run_output_bytes", "Bytes the last run wrote.", float64(tot.OutputBytes))
	err := push.New(p.url, "lakestream-compactor").Grouping("table", p.table).Grouping("shard", p.shard).Gatherer(reg).Add()
	if err != nil {
		p.logger.Warn("push metrics", "pushgateway", redact.URL(p.url), "err", redact.URL(err.Error()))
	}
}
