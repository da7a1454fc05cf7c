package objstore

import (
	"errors"
	"fmt"
)

// opError adds the operation and key to err as context: "get a/b: ...". A
// *KeyError already names its key, so it gets only the operation.
func opError(op, key string, err error) error {
	if ke := (*KeyError)(nil); errors.As(err, &ke) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// ErrSymlink is matched by the errors of a Filesystem that met a symbolic
// link at or below its root, which it never follows (see SymlinkError).
var ErrSymlink = errors.New("symbolic link in the bucket")

// SymlinkError is the error of a Filesystem operation that met a symbolic
// link at or below the root: it refuses to follow it, for reads and writes
// alike, so that no object is written where a listing of the bucket does not
// see it. It matches ErrSymlink, never ErrNotExist or ErrExists.
type SymlinkError struct {
	// Path is the link's absolute path.
	Path string
	// Key is the key of the link relative to the bucket root: the object, or
	// the directory of keys, that the link stands in for.
	Key string
}

func (e *SymlinkError) Error() string {
	return fmt.Sprintf("%s is a symbolic link: the filesystem bucket does not follow links below its root", e.Path)
}

// Unwrap returns ErrSymlink.
func (e *SymlinkError) Unwrap() error { return ErrSymlink }
