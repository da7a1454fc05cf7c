// Package registrytest is test support for schema registry users: an
// in-process Confluent-compatible schema registry on 127.0.0.1, and an Avro
// binary encoder producing Confluent wire-format values from Go maps. It is
// independent of package schemas, so tests of the decoder check it against
// a second implementation.
package registrytest
