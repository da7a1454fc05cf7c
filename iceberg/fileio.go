package iceberg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	icebergio "github.com/apache/iceberg-go/io"

	"github.com/lakestream/lakestream/internal/objstore"
)

// bucketIO is iceberg-go's file IO over the table's bucket: an absolute
// path under the table location is the object at the same relative key.
// Paths elsewhere are refused. It records the objects it creates so that a
// commit that lost its race can delete what it wrote.
type bucketIO struct {
	bucket   objstore.Store
	location string // no trailing slash
	ctx      context.Context

	mu      sync.Mutex
	created []string // keys Create/WriteFile wrote since the last takeCreated
}

var (
	_ icebergio.ReadFileIO  = (*bucketIO)(nil)
	_ icebergio.WriteFileIO = (*bucketIO)(nil)
	_ icebergio.StatIO      = (*bucketIO)(nil)
)

// wholeReadLimit is the largest object Open reads at once; larger ones are
// read by range as the reader asks.
const wholeReadLimit = 8 << 20

func (b *bucketIO) key(op, name string) (string, error) {
	rest, ok := strings.CutPrefix(name, b.location+"/")
	if !ok {
		return "", &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: outside the table location %s", fs.ErrInvalid, b.location)}
	}
	if err := objstore.ValidateKey(rest); err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: %v", fs.ErrInvalid, err)}
	}
	return rest, nil
}

func pathErr(op, name string, err error) error {
	if errors.Is(err, objstore.ErrNotExist) {
		err = fmt.Errorf("%w: %v", fs.ErrNotExist, err)
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func (b *bucketIO) Open(name string) (icebergio.File, error) {
	key, err := b.key("open", name)
	if err != nil {
		return nil, err
	}
	ctx := b.ctx
	info, err := b.bucket.Stat(ctx, key)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	f := &objectFile{bucket: b.bucket, key: key, name: name, info: info, ctx: ctx}
	if info.Size <= wholeReadLimit {
		data, err := objstore.ReadAll(ctx, b.bucket, key)
		if err != nil {
			return nil, pathErr("open", name, err)
		}
		f.data, f.whole = data, true
		f.info.Size = int64(len(data))
	}
	return f, nil
}

func (b *bucketIO) ReadFile(name string) ([]byte, error) {
	key, err := b.key("read", name)
	if err != nil {
		return nil, err
	}
	data, err := objstore.ReadAll(b.ctx, b.bucket, key)
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	return data, nil
}

func (b *bucketIO) Stat(name string) (fs.FileInfo, error) {
	key, err := b.key("stat", name)
	if err != nil {
		return nil, err
	}
	info, err := b.bucket.Stat(b.ctx, key)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return fileInfo{info}, nil
}

func (b *bucketIO) Remove(name string) error {
	key, err := b.key("remove", name)
	if err != nil {
		return err
	}
	if err := b.bucket.Delete(b.ctx, key); err != nil {
		return pathErr("remove", name, err)
	}
	return nil
}

func (b *bucketIO) Create(name string) (icebergio.FileWriter, error) {
	key, err := b.key("create", name)
	if err != nil {
		return nil, err
	}
	return &objectWriter{io: b, key: key, name: name}, nil
}

func (b *bucketIO) WriteFile(name string, p []byte) error {
	key, err := b.key("write", name)
	if err != nil {
		return err
	}
	return b.put(key, name, p)
}

func (b *bucketIO) put(key, name string, p []byte) error {
	if err := b.bucket.Put(b.ctx, key, bytes.NewReader(p)); err != nil {
		return pathErr("write", name, err)
	}
	b.mu.Lock()
	b.created = append(b.created, key)
	b.mu.Unlock()
	return nil
}

// takeCreated returns the keys written since the last call and forgets them.
func (b *bucketIO) takeCreated() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.created
	b.created = nil
	return out
}

// objectWriter buffers what iceberg-go writes (a manifest or a manifest
// list) and puts it whole on Close.
type objectWriter struct {
	io     *bucketIO
	key    string
	name   string
	buf    bytes.Buffer
	closed bool
}

func (w *objectWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

func (w *objectWriter) ReadFrom(r io.Reader) (int64, error) { return w.buf.ReadFrom(r) }

func (w *objectWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.io.put(w.key, w.name, w.buf.Bytes())
}

// objectFile is an object opened for reading: held whole when small, else
// read by range.
type objectFile struct {
	bucket objstore.Store
	key    string
	name   string
	info   objstore.ObjectInfo
	ctx    context.Context
	data   []byte
	whole  bool
	off    int64
}

func (f *objectFile) Stat() (fs.FileInfo, error) { return fileInfo{f.info}, nil }

func (f *objectFile) Close() error { return nil }

func (f *objectFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *objectFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.info.Size
	default:
		return 0, fmt.Errorf("seek %s: bad whence %d", f.name, whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek %s: negative offset", f.name)
	}
	f.off = offset
	return offset, nil
}

func (f *objectFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset", f.name)
	}
	if off >= f.info.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), f.info.Size-off)
	if f.whole {
		n := copy(p, f.data[off:off+want])
		if int64(n) < int64(len(p)) {
			return n, io.EOF
		}
		return n, nil
	}
	rc, err := f.bucket.GetRange(f.ctx, f.key, off, want)
	if err != nil {
		return 0, pathErr("read", f.name, err)
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err != nil {
		return n, pathErr("read", f.name, err)
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

type fileInfo struct{ objstore.ObjectInfo }

func (i fileInfo) Name() string {
	k := i.Key
	if j := strings.LastIndexByte(k, '/'); j >= 0 {
		k = k[j+1:]
	}
	return k
}
func (i fileInfo) Size() int64        { return i.ObjectInfo.Size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return i.ObjectInfo.ModTime }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
