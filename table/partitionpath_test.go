package table

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestValidatePartitionPath: paths that climb out of the table, name a
// hidden directory or hold control characters are refused, naming the
// path; partition paths of every template pass.
func TestValidatePartitionPath(t *testing.T) {
	bad := []string{"/abs", "a/../b", "..", "../x", ".", "a//b", "a/", ".hoodie", "a/.hoodie", ".hidden/x",
		"a\\b", "a\x00b", "a\nb", "x/./y", "a\x7fb"}
	for _, p := range bad {
		err := ValidatePartitionPath(p)
		var pe *PartitionPathError
		if !errors.As(err, &pe) || pe.Partition != p || !strings.Contains(err.Error(), fmt.Sprintf("%q", p)) {
			t.Errorf("partition path %q: %v, want a PartitionPathError naming it", p, err)
		}
	}
	for _, p := range []string{"", "dt=2026-11-01", "dt=2026-11-01/hr=09", "a/b/c", "_x", "k=v w", "x.y", "dt=__HIVE_DEFAULT_PARTITION__"} {
		if err := ValidatePartitionPath(p); err != nil {
			t.Errorf("partition path %q: %v", p, err)
		}
	}
}
