package objstore

import (
	"context"
	"fmt"
	"io"
)

// contextReader makes a reader stop with the context's error once the context
// is done, so that copying a long body honours cancellation.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// readCloser joins a reader with the closer of what it reads from.
type readCloser struct {
	io.Reader
	io.Closer
}

// emptyReadCloser returns a reader of no bytes.
func emptyReadCloser() io.ReadCloser { return io.NopCloser(eofReader{}) }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// checkRange validates the arguments of GetRange.
func checkRange(off, length int64) error {
	if off < 0 {
		return fmt.Errorf("negative offset %d", off)
	}
	if length < -1 {
		return fmt.Errorf("invalid length %d", length)
	}
	return nil
}

// clampRange returns the start and length of the part of an object of the
// given size that GetRange(off, length) reads.
func clampRange(size, off, length int64) (start, n int64) {
	if off >= size {
		return size, 0
	}
	n = size - off
	if length >= 0 && length < n {
		n = length
	}
	return off, n
}
