package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Store is a flat namespace of immutable-by-convention objects addressed by
// slash-separated keys relative to the bucket root (no leading slash, no "."
// or ".." segments, no empty segments).
//
// Implementations are safe for concurrent use.
type Store interface {
	// Put writes the object at key, replacing any existing one. Readers see
	// either the old object or the whole new one, never a partial write.
	Put(ctx context.Context, key string, r io.Reader) error
	// PutIfAbsent writes the object at key only if no object exists there.
	// It returns an error matching ErrExists if one does. Among concurrent
	// callers on the same key exactly one succeeds.
	PutIfAbsent(ctx context.Context, key string, r io.Reader) error
	// Get opens the whole object. It returns an error matching ErrNotExist
	// if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// GetRange opens length bytes of the object starting at off. A length
	// of -1 reads to the end. A range past the end is truncated to the end.
	GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// List calls fn for every object whose key starts with prefix, in
	// lexical key order, recursively (no delimiter). Returning a non-nil
	// error from fn stops the listing and List returns that error.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Stat returns the object's size and modification time, or an error
	// matching ErrNotExist.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Delete removes the object. Deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// Close releases resources held by the bucket. It is idempotent.
	Close() error
}

// ObjectInfo describes one object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// ErrNotExist is matched (errors.Is) by errors for a missing object.
var ErrNotExist = errors.New("object does not exist")

// ErrExists is matched by PutIfAbsent's error when the key is taken.
var ErrExists = errors.New("object already exists")

// KeyError is returned for a key that is not a valid object key.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string { return fmt.Sprintf("invalid object key %q: %s", e.Key, e.Reason) }

// ValidateKey reports whether key is a clean relative key: non-empty, no
// leading or trailing slash, no empty, "." or ".." segments, no NUL or
// backslash. Every implementation calls it so that no key can escape the
// bucket root.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return &KeyError{Key: key, Reason: "empty"}
	case strings.HasPrefix(key, "/"):
		return &KeyError{Key: key, Reason: "leading slash"}
	case strings.HasSuffix(key, "/"):
		return &KeyError{Key: key, Reason: "trailing slash"}
	case strings.ContainsAny(key, "\x00\\"):
		return &KeyError{Key: key, Reason: "NUL or backslash"}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return &KeyError{Key: key, Reason: "empty path segment"}
		case ".", "..":
			return &KeyError{Key: key, Reason: "dot segment"}
		}
	}
	return nil
}

// ReadAll reads the whole object at key.
func ReadAll(ctx context.Context, b Store, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
