package hudi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lakestream/lakestream/table/fence"
)

// FileError reports a table file that cannot be used: truncated, corrupt,
// or holding a value lakestream does not support. Path is relative to the
// table root.
type FileError = fence.FileError

// ErrNotTable is matched by the error for a location that holds no table
// (no .hoodie/hoodie.properties).
var ErrNotTable = errors.New("not a hudi table")

// ErrUnsupported is matched by errors for tables lakestream cannot read or
// write: another table version, type or timeline layout.
var ErrUnsupported = errors.New("unsupported table")

// ErrUnknownAction is matched by errors for a timeline file whose action is
// not one Hudi defines.
var ErrUnknownAction = errors.New("unknown timeline action")

// ErrFenced is matched by the error of a commit that lost its instant to a
// rollback (the writer was presumed dead) or to another writer.
var ErrFenced = fence.ErrFenced

// ConfigMismatchError reports an existing table whose configuration differs
// from the one a caller asked for. It lists every difference.
type ConfigMismatchError struct {
	Diffs []ConfigDiff
}

// ConfigDiff is one property that differs between a table and a request.
type ConfigDiff struct {
	Key       string
	Table     string
	Requested string
}

func (e *ConfigMismatchError) Error() string {
	parts := make([]string, len(e.Diffs))
	for i, d := range e.Diffs {
		parts[i] = fmt.Sprintf("%s is %q in the table, %q requested", d.Key, d.Table, d.Requested)
	}
	return "table configuration differs: " + strings.Join(parts, "; ")
}

// FencedError says why a commit could not complete its instant.
type FencedError = fence.FencedError
