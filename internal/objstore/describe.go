package objstore

import "fmt"

// Describe returns where b keeps its objects, for a log line or a status
// page: the Location of the bucket, or of the innermost bucket under
// wrappers that have an Inner method (Faulty, Observe's). That is the
// absolute root path of a Filesystem, "s3://bucket/prefix/ at endpoint" of
// an S3 bucket (the endpoint through redact.URL; no credentials) and
// "memory" for a Memory. A bucket without a Location is described by its
// type only, since its String might hold secrets.
func Describe(b Store) string {
	for {
		switch v := b.(type) {
		case nil:
			return "<nil>"
		case interface{ Location() string }:
			return v.Location()
		case interface{ Inner() Store }:
			b = v.Inner()
		default:
			return fmt.Sprintf("%T", b)
		}
	}
}
