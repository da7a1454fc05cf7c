package objstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a Store held in a map, for tests. It is deterministic: listings
// are sorted and modification times come from Now. Put copies the data in and
// Get copies it out, so callers can never alias stored bytes.
type Memory struct {
	// Now is the clock for ModTime. It defaults to time.Now; set it before
	// the first use of the bucket.
	Now func() time.Time

	mu      sync.Mutex
	objects map[string]memObject
}

type memObject struct {
	data    []byte
	modTime time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory bucket.
func NewMemory() *Memory {
	return &Memory{Now: time.Now, objects: make(map[string]memObject)}
}

// String names the bucket type.
func (m *Memory) String() string { return "memory" }

// Location is "memory", for logs.
func (m *Memory) Location() string { return "memory" }

// Put implements Store.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader) error {
	if err := m.put(ctx, key, r, false); err != nil {
		return opError("put", key, err)
	}
	return nil
}

// PutIfAbsent implements Store.
func (m *Memory) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	if err := m.put(ctx, key, r, true); err != nil {
		return opError("put if absent", key, err)
	}
	return nil
}

func (m *Memory) put(ctx context.Context, key string, r io.Reader, ifAbsent bool) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := io.ReadAll(contextReader{ctx: ctx, r: r})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok && ifAbsent {
		return ErrExists
	}
	m.objects[key] = memObject{data: data, modTime: m.Now()}
	return nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := m.get(ctx, key, 0, -1)
	if err != nil {
		return nil, opError("get", key, err)
	}
	return rc, nil
}

// GetRange implements Store.
func (m *Memory) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := checkRange(off, length); err != nil {
		return nil, opError("get range", key, err)
	}
	rc, err := m.get(ctx, key, off, length)
	if err != nil {
		return nil, opError("get range", key, err)
	}
	return rc, nil
}

func (m *Memory) get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	obj, err := m.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	start, n := clampRange(int64(len(obj.data)), off, length)
	data := bytes.Clone(obj.data[start : start+n])
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (m *Memory) lookup(ctx context.Context, key string) (memObject, error) {
	if err := ValidateKey(key); err != nil {
		return memObject{}, err
	}
	if err := ctx.Err(); err != nil {
		return memObject{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	obj, ok := m.objects[key]
	if !ok {
		return memObject{}, ErrNotExist
	}
	return obj, nil
}

// List implements Store. It lists a snapshot taken when called; fn runs
// without the lock held and may use the bucket.
func (m *Memory) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	m.mu.Lock()
	var infos []ObjectInfo
	for key, obj := range m.objects {
		if strings.HasPrefix(key, prefix) {
			infos = append(infos, ObjectInfo{Key: key, Size: int64(len(obj.data)), ModTime: obj.modTime})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(infos, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Stat implements Store.
func (m *Memory) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	obj, err := m.lookup(ctx, key)
	if err != nil {
		return ObjectInfo{}, opError("stat", key, err)
	}
	return ObjectInfo{Key: key, Size: int64(len(obj.data)), ModTime: obj.modTime}, nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return opError("delete", key, err)
	}
	if err := ctx.Err(); err != nil {
		return opError("delete", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// Close implements Store. The objects stay readable: a Memory holds no
// resources.
func (m *Memory) Close() error { return nil }
