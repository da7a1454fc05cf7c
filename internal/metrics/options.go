package metrics

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
)

// Option configures New. Every option has a default; New reports every
// invalid setting at once.
type Option func(*options)

type options struct {
	attrs        []attribute.KeyValue
	pauseReasons []string
}

// WithAttributes adds attributes to every observation, e.g. the topic and
// the table. Default none. Their keys must not be partition, worker,
// reason, phase or class, nor repeat.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(o *options) { o.attrs = append(o.attrs, attrs...) }
}

// WithPauseReasons names every reason a partition can be paused for, so
// that lakestream.partition.paused.reason reports 0 for the reasons a
// partition is not paused for, and its series stay put. Default none: a
// reason is then observed (as 1) only while a partition is paused for it.
func WithPauseReasons(reasons ...string) Option {
	return func(o *options) { o.pauseReasons = append(o.pauseReasons, reasons...) }
}

func (o options) validate() error {
	var errs []error
	seen := map[attribute.Key]bool{AttrPartition: true, AttrWorker: true, AttrReason: true, AttrPhase: true, AttrClass: true, AttrOperation: true}
	for _, kv := range o.attrs {
		switch {
		case !kv.Valid():
			errs = append(errs, fmt.Errorf("attribute %q: want a non-empty key and a value", kv.Key))
		case seen[kv.Key]:
			errs = append(errs, fmt.Errorf("attribute %q: the key is reserved or repeated", kv.Key))
		}
		seen[kv.Key] = true
	}
	for _, r := range o.pauseReasons {
		if r == "" {
			errs = append(errs, errors.New("pause reasons must not be empty"))
			break
		}
	}
	return errors.Join(errs...)
}
