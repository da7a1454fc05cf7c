package fence

import (
	"fmt"

	"github.com/lakestream/lakestream/table"
)

// FileError reports a table file that cannot be used: truncated, corrupt,
// or holding a value lakestream does not support. Path is relative to the
// table root.
type FileError struct {
	Path    string
	Problem string
	Err     error
}

func (e *FileError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Path, e.Problem, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Problem)
}

func (e *FileError) Unwrap() error { return e.Err }

// ErrFenced is matched by the error of a commit that lost its instant to a
// rollback (the writer was presumed dead) or to another writer.
var ErrFenced = table.ErrFenced

// FencedError says why a commit could not complete its instant.
type FencedError struct {
	Instant string
	Reason  string
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("instant %s fenced: %s", e.Instant, e.Reason)
}

func (e *FencedError) Unwrap() error { return ErrFenced }
