package table

// The validation of a partition path: it names a directory inside the
// table, not a hidden one.

import (
	"fmt"
	"strings"
)

// ValidatePartitionPath reports whether p can name a partition directory inside
// the table: "" (the table root, for non-partitioned tables) or
// slash-separated segments with no leading or trailing slash, no empty, "."
// or ".." segment, no segment starting with "." (hidden directories, among
// them .hoodie, which readers skip or own), and no NUL, backslash or other
// control character. The error names the path.
func ValidatePartitionPath(p string) error {
	if p == "" {
		return nil
	}
	reason := ""
	switch {
	case strings.HasPrefix(p, "/"):
		reason = "leading slash"
	case strings.HasSuffix(p, "/"):
		reason = "trailing slash"
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
		reason = "control character or backslash"
	default:
		for seg := range strings.SplitSeq(p, "/") {
			switch {
			case seg == "":
				reason = "empty segment"
			case seg == "." || seg == "..":
				reason = "dot segment"
			case seg[0] == '.':
				reason = "segment " + seg + " is hidden (starts with a dot)"
			}
			if reason != "" {
				break
			}
		}
	}
	if reason != "" {
		return &PartitionPathError{Partition: p, Reason: reason}
	}
	return nil
}

// PartitionPathError is returned for a partition path that could escape the
// table root or name a hidden directory.
type PartitionPathError struct {
	Partition string
	Reason    string
}

func (e *PartitionPathError) Error() string {
	return fmt.Sprintf("invalid partition path %q: %s", e.Partition, e.Reason)
}
