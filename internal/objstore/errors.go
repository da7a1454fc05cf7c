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
