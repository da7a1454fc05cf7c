// Package harness runs whole-system scenarios for the demo and the e2e
// tests: an in-process Kafka (kfake) on 127.0.0.1, sample pageview events,
// the ingestd binary as a child process, and DuckDB reading the table's
// snapshot as a user would.
package harness
