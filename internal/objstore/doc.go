// Package objstore is the one small object-storage interface lakestream writes
// tables through, with its implementations: the local filesystem, memory (for
// tests) and S3 (through aws-sdk-go-v2). Every implementation passes the same
// acceptance suite in objstoretest; Faulty wraps any of them to inject errors
// and latency.
//
// Open picks the implementation from a location: a local path, file:///path
// or s3://bucket/prefix. Package s3test runs a local S3-compatible server
// (versitygw) for tests.
//
// Errors carry the operation and key ("get t/x.parquet: ...") and match the
// sentinels ErrNotExist, ErrExists and ErrInjected, or are a *KeyError for a
// key that ValidateKey rejects.
package objstore
