package metrics

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Pipeline holds the instruments registered by New and their callback.
type Pipeline struct {
	src          Sources
	base         []attribute.KeyValue
	pauseReasons []string
	reg          metric.Registration

	part      partitionInstruments
	watermark metric.Float64ObservableGauge
	rebalance metric.Int64Observable
	worker    workerInstruments
	pipe      pipelineInstruments
	hot       metric.Int64ObservableGauge
	health    healthInstruments
	storage   storageInstruments
}

type storageInstruments struct {
	requests metric.Int64Observable
	time     metric.Float64Observable
}

type healthInstruments struct {
	failures, retries, retrying metric.Int64Observable
	lastCommit, age             metric.Float64Observable
}

type partitionInstruments struct {
	lag, records, bytes, bufRecords, bufBytes, paused, pausedReason, idle metric.Int64Observable
	eventTime                                                             metric.Float64Observable
}

type workerInstruments struct {
	openFiles, bufferedBytes metric.Int64Observable
}

type pipelineInstruments struct {
	records, bytes, rows, dead, late, lateBatches, lateBuffered  metric.Int64Observable
	checkpoints, files, rowsCommitted, budgetFlushes, rowsStaged metric.Int64Observable
	lastDuration                                                 metric.Float64Observable
}

// New registers the instruments of every non-nil source on meter, with one
// callback that reads the sources when a reader collects. Close
// unregisters the callback.
func New(meter metric.Meter, src Sources, opts ...Option) (*Pipeline, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if meter == nil {
		errs = append(errs, errors.New("metrics: meter is nil"))
	}
	if src.Partitions == nil && src.Watermark == nil && src.Rebalances == nil && src.Workers == nil && src.Pipeline == nil && src.HotBuckets == nil && src.Health == nil && src.Storage == nil {
		errs = append(errs, errors.New("metrics: every source is nil"))
	}
	if err := o.validate(); err != nil {
		errs = append(errs, fmt.Errorf("metrics: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &Pipeline{src: src, base: o.attrs, pauseReasons: o.pauseReasons}
	r := &registrar{meter: meter}
	if src.Partitions != nil {
		p.part = partitionInstruments{
			lag:          r.gauge(NamePartitionLag, "{record}", "Records left to read in the partition: high watermark (last stable offset) minus the next offset."),
			records:      r.counter(NamePartitionRecords, "{record}", "Records consumed from the partition since it was assigned."),
			bytes:        r.counter(NamePartitionBytes, "By", "Bytes (key, value, headers) consumed from the partition since it was assigned."),
			bufRecords:   r.gauge(NamePartitionBufferedRecords, "{record}", "Records fetched from the partition but not yet consumed."),
			bufBytes:     r.gauge(NamePartitionBufferedBytes, "By", "Bytes fetched from the partition but not yet consumed."),
			paused:       r.gauge(NamePartitionPaused, "", "1 while fetching of the partition is paused, else 0."),
			pausedReason: r.gauge(NamePartitionPausedReason, "", "1 while the partition is paused for the reason, else 0."),
			idle:         r.gauge(NamePartitionIdle, "", "1 while the partition is idle (does not hold the watermark back), else 0."),
			eventTime:    r.floatGauge(NamePartitionEventTime, "s", "Largest event time seen in the partition, seconds since the Unix epoch."),
		}
	}
	if src.Watermark != nil {
		p.watermark = r.floatGauge(NameWatermark, "s", "The reader's event-time watermark, seconds since the Unix epoch.")
	}
	if src.Rebalances != nil {
		p.rebalance = r.counter(NameRebalancePartitions, "{partition}", "Partitions the consumer group assigned to this process, revoked from it (offsets committed first) or reported lost (its session ended; another member may read them again from the last checkpoint), by event.")
	}
	if src.Workers != nil {
		p.worker = workerInstruments{
			openFiles:     r.gauge(NameWorkerOpenFiles, "{file}", "Parquet files the worker has open (one per bucket it writes)."),
			bufferedBytes: r.gauge(NameWorkerBufferedBytes, "By", "Column data the worker buffers in memory."),
		}
	}
	if src.Pipeline != nil {
		p.pipe = pipelineInstruments{
			records:       r.counter(NameRecordsPolled, "{record}", "Records polled from Kafka."),
			bytes:         r.counter(NameBytesPolled, "By", "Value bytes polled from Kafka."),
			rows:          r.counter(NameRowsWritten, "{row}", "Rows handed to the writers."),
			dead:          r.counter(NameDeadLetters, "{record}", "Records sent to the dead-letter topic, by reason."),
			late:          r.counter(NameLateRecords, "{record}", "Late records (older than the watermark minus the allowed lateness) written."),
			lateBatches:   r.counter(NameLateBatches, "{batch}", "Batches of late records written."),
			lateBuffered:  r.gauge(NameLateBuffered, "{record}", "Late records waiting for their batch."),
			checkpoints:   r.counter(NameCheckpoints, "{checkpoint}", "Checkpoints committed."),
			files:         r.counter(NameFilesCommitted, "{file}", "Data files committed."),
			rowsCommitted: r.counter(NameRowsCommitted, "{row}", "Rows committed."),
			budgetFlushes: r.counter(NameBudgetFlushes, "{flush}", "Buffers written out because the memory budget was exceeded."),
			rowsStaged:    r.counter(NameRowsStaged, "{row}", "Committed rows that waited in a worker's stage for a file (more buckets live than open files)."),
			lastDuration:  r.floatGauge(NameCheckpointLastDuration, "s", "How long the last checkpoint took."),
		}
	}
	if src.HotBuckets != nil {
		p.hot = r.gauge(NameHotBuckets, "{bucket}", "Buckets currently split over several workers.")
	}
	if src.Health != nil {
		p.health = healthInstruments{
			failures:   r.counter(NameCheckpointFailures, "{failure}", "Failed operations of the pipeline (every failed attempt), by phase and error class."),
			retries:    r.counter(NameCheckpointRetries, "{retry}", "Failed operations that were retried, by phase and error class."),
			retrying:   r.gauge(NameCheckpointRetrying, "{operation}", "Operations failing and being retried now (0 when nothing fails)."),
			lastCommit: r.floatGauge(NameLastCommitTime, "s", "When the process last committed to the table, seconds since the Unix epoch."),
			age:        r.floatGauge(NameLastCommitAge, "s", "Seconds since a checkpoint last completed (committed, or had nothing to commit), or since the pipeline started."),
		}
	}
	if src.Storage != nil {
		p.storage = storageInstruments{
			requests: r.counter(NameStorageRequests, "{request}", "Requests to the table's storage, by operation and outcome class (ok, not_found, exists, timeout, no_space, throttled, network, ...)."),
			time:     r.floatCounter(NameStorageTime, "s", "Total time of the requests to the table's storage, by operation and outcome class: divided by the requests, their mean latency."),
		}
	}
	if err := errors.Join(r.errs...); err != nil {
		return nil, err
	}
	reg, err := meter.RegisterCallback(p.observe, r.all...)
	if err != nil {
		return nil, fmt.Errorf("metrics: register callback: %w", err)
	}
	p.reg = reg
	return p, nil
}

// Close unregisters the callback: the instruments report nothing after it.
func (p *Pipeline) Close() error { return p.reg.Unregister() }

// registrar creates instruments, collecting errors and the instruments for
// RegisterCallback.
type registrar struct {
	meter metric.Meter
	all   []metric.Observable
	errs  []error
}

func (r *registrar) add(o metric.Observable, err error) {
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	r.all = append(r.all, o)
}

func (r *registrar) gauge(name, unit, desc string) metric.Int64ObservableGauge {
	g, err := r.meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	r.add(g, err)
	return g
}

func (r *registrar) floatGauge(name, unit, desc string) metric.Float64ObservableGauge {
	g, err := r.meter.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	r.add(g, err)
	return g
}

func (r *registrar) counter(name, unit, desc string) metric.Int64ObservableCounter {
	c, err := r.meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	r.add(c, err)
	return c
}

func (r *registrar) floatCounter(name, unit, desc string) metric.Float64ObservableCounter {
	c, err := r.meter.Float64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	r.add(c, err)
	return c
}
