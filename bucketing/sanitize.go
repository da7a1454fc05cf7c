package bucketing

import (
	"errors"
	"fmt"
)

// MaxValueBytes bounds one sanitized partition value.
const MaxValueBytes = 128

// DefaultPartitionValue stands for an empty or null value, as in Hive.
const DefaultPartitionValue = "__HIVE_DEFAULT_PARTITION__"

// ErrValueTooLong is matched by the error for a partition value longer than
// MaxValueBytes once escaped.
var ErrValueTooLong = errors.New("partition value too long")

// appendEscaped appends v to dst with every byte outside [A-Za-z0-9._-]
// percent-encoded (%2F for '/', as Hive escapes partition values), so that a
// value can never add a path segment, climb with "..", or hide in .hoodie.
// An empty value appends nothing; a segment left empty becomes
// DefaultPartitionValue.
func appendEscaped(dst []byte, v []byte) ([]byte, error) {
	start := len(dst)
	for i, c := range v {
		safe := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		// A dot is safe except where it could make "." or ".." or a hidden
		// name: escape a leading dot.
		if c == '.' && i > 0 {
			safe = true
		}
		if safe {
			dst = append(dst, c)
		} else {
			const hex = "0123456789ABCDEF"
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
		if len(dst)-start > MaxValueBytes {
			return dst[:start], fmt.Errorf("%w: more than %d bytes", ErrValueTooLong, MaxValueBytes)
		}
	}
	return dst, nil
}
