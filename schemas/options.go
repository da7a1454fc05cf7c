package schemas

import "time"

// DecoderOption configures NewJSONDecoder and NewAvroDecoder.
type DecoderOption func(*decoderOptions)

type decoderOptions struct {
	rejectUnknown   bool
	registryTimeout time.Duration
}

func defaultDecoderOptions() decoderOptions {
	return decoderOptions{registryTimeout: 10 * time.Second}
}

// WithRejectUnknownFields makes the JSON decoder fail with schema-mismatch
// on an object field that the schema does not declare. Default: such
// fields are skipped.
func WithRejectUnknownFields() DecoderOption {
	return func(o *decoderOptions) { o.rejectUnknown = true }
}

// WithRegistryTimeout bounds each schema registry lookup of the Avro
// decoder (a timeout is a registry-unavailable error). Zero or negative
// means no bound. Default 10s.
func WithRegistryTimeout(d time.Duration) DecoderOption {
	return func(o *decoderOptions) { o.registryTimeout = d }
}
