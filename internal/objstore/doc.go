// Package objstore is the one small object-storage interface lakestream writes
// tables through, with its implementations: the local filesystem, memory (for
// tests) and S3 (through aws-sdk-go-v2). Every implementation passes the same
// acceptance suite in objstoretest; Faulty wraps any of them to inject errors
// and latency.
package objstore
