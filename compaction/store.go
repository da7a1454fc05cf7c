package compaction

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/lakestream/lakestream/internal/objstore"
)

// objectReader reads an object with one range request per ReadAt: for
// footers and the read-back of a merged file, whose reads are large.
type objectReader struct {
	ctx    context.Context
	bucket objstore.Store
	key    string
	size   int64
}

func (r *objectReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	rc, err := r.bucket.GetRange(r.ctx, r.key, off, int64(len(p)))
	if err != nil {
		return 0, fmt.Errorf("read %s at %d: %w", r.key, off, err)
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	if err != nil && err != io.EOF {
		return n, fmt.Errorf("read %s at %d: %w", r.key, off, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// download copies the object key into a new file of dir and returns it,
// open, with its size.
func download(ctx context.Context, b objstore.Store, key, dir string) (*os.File, int64, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "input-*.parquet")
	if err != nil {
		return nil, 0, err
	}
	os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
	n, err := io.Copy(f, rc)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	return f, n, nil
}
