// Package harness runs whole-system scenarios for the demo and the e2e
// tests: Kafka on 127.0.0.1 (in process with kfake, or Apache Kafka brokers
// in KRaft mode, JVMs started from the jars `make kafka` installs, see
// ApacheKafka and EnvKafka; SecureListener adds a SASL_SSL listener with
// certificates the test issues and SCRAM users), sample pageview events, the ingestd binary as
// a child process, the compactor binary beside it, and DuckDB reading the
// table's snapshot as a user would.
//
// Child processes (ingestd, the compactor, the brokers' JVMs) run in their own process
// groups and, on Linux, die with the test process; ApacheKafka.Close kills
// the JVMs. Each started process has one goroutine waiting for its exit.
package harness
