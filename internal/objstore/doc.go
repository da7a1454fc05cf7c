// Package objstore is the one small object-storage interface lakestream writes
// tables through, with its implementations: the local filesystem, memory (for
// tests) and S3 (through aws-sdk-go-v2). Every implementation passes the same
// acceptance suite in objstoretest; Faulty wraps any of them to inject errors
// and latency, and Observe to report every request (operation, duration,
// error) to a metrics callback, with ErrorClass turning the error into a
// short label. Package s3test runs a local S3-compatible server (versitygw)
// for tests.
//
// Open picks the implementation from a location: file:///abs/path, a local
// path, or s3://bucket/prefix with the query parameters endpoint,
// path_style and region. Any other "scheme:" prefix (s3:/x, file:/x, gs://x)
// is refused, so a mistyped URL never becomes a directory under the working
// directory; so are credentials in the location and invalid S3 bucket names.
// Describe gives the resolved location of a bucket (absolute root path, or
// s3://bucket/prefix/ at endpoint) for a log line.
//
// Errors carry the operation and key ("get t/x.parquet: ...") and match the
// sentinels ErrNotExist, ErrExists, ErrInjected and ErrSymlink (a Filesystem
// never follows a symbolic link below its root: *SymlinkError), or are a
// *KeyError for a key that ValidateKey rejects. No secret reaches an error:
// locations, endpoints and the request URLs of S3 transport errors go
// through internal/redact.URL (user-info and query values masked), and
// S3Config and S3 format without the secret key.
//
// The package starts no goroutines of its own; the S3 client's HTTP
// transport keeps idle connections, which S3.Close releases. It is fed by
// cmd/ingestd (Open), and feeds the writer, checkpoint and table/hudi
// packages, which read and write tables through a Store.
package objstore
