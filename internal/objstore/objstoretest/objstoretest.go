// Package objstoretest is the acceptance suite that every objstore.Store
// implementation must pass, in the manner of thanos-io/objstore's objtesting:
//
//	func TestMyBucket(t *testing.T) {
//		objstoretest.Run(t, func(t *testing.T) objstore.Store { return newEmptyBucket(t) })
//	}
package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// LargeSize is the size of the suite's large objects: more than the 5 MiB
// minimum S3 part size, so that an S3 bucket configured with that part size
// exercises multipart uploads.
const LargeSize = 6<<20 + 123

// Run runs the suite. newBucket must return an empty bucket, a different one
// on each call; it is called once per subtest, concurrently, since the
// subtests run in parallel. The suite closes the buckets it gets.
func Run(t *testing.T, newBucket func(t *testing.T) objstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b objstore.Store)
	}{
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"PutAtomic", testPutAtomic},
		{"PutReaderError", testPutReaderError},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentConcurrent", testPutIfAbsentConcurrent},
		{"GetMissing", testGetMissing},
		{"GetRange", testGetRange},
		{"List", testList},
		{"ListStops", testListStops},
		{"Stat", testStat},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"Large", testLarge},
		{"BinarySafe", testBinarySafe},
		{"ContextCanceled", testContextCanceled},
		{"CloseIdempotent", testCloseIdempotent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(t)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, b)
		})
	}
}

// put writes data at key or fails the test.
func put(t *testing.T, b objstore.Store, key string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// mustRead reads the object at key or fails the test.
func mustRead(t *testing.T, b objstore.Store, key string) []byte {
	t.Helper()
	data, err := objstore.ReadAll(t.Context(), b, key)
	if err != nil {
		t.Fatalf("ReadAll(%q): %v", key, err)
	}
	return data
}

// wantContent checks the object at key.
func wantContent(t *testing.T, b objstore.Store, key string, want []byte) {
	t.Helper()
	if got := mustRead(t, b, key); !bytes.Equal(got, want) {
		t.Fatalf("content of %q = %s, want %s", key, summary(got), summary(want))
	}
}

// summary shortens data for failure messages.
func summary(data []byte) string {
	if len(data) <= 64 {
		return fmt.Sprintf("%q", data)
	}
	return fmt.Sprintf("%q... (%d bytes)", data[:64], len(data))
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed byte, n int) []byte {
	var key [32]byte
	key[0] = seed
	data := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(data)
	return data
}

// listKeys returns the keys listed under prefix, in listing order.
func listKeys(t *testing.T, b objstore.Store, prefix string) []string {
	t.Helper()
	keys := []string{}
	err := b.List(t.Context(), prefix, func(info objstore.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func testPutGet(t *testing.T, b objstore.Store) {
	put(t, b, "hello.txt", []byte("hello, world"))
	wantContent(t, b, "hello.txt", []byte("hello, world"))

	put(t, b, "empty", nil)
	wantContent(t, b, "empty", []byte{})

	put(t, b, "deep/ly/nested/key.json", []byte(`{"a":1}`))
	wantContent(t, b, "deep/ly/nested/key.json", []byte(`{"a":1}`))

	// A reader that returns one byte at a time still makes one object.
	if err := b.Put(t.Context(), "slow", &oneByteReader{r: strings.NewReader("trickle")}); err != nil {
		t.Fatalf("Put(slow): %v", err)
	}
	wantContent(t, b, "slow", []byte("trickle"))
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func testOverwrite(t *testing.T, b objstore.Store) {
	put(t, b, "k", []byte("first version, longer"))
	put(t, b, "k", []byte("second"))
	wantContent(t, b, "k", []byte("second"))
	if keys := listKeys(t, b, ""); !slices.Equal(keys, []string{"k"}) {
		t.Fatalf("List after overwrite = %q, want [k]", keys)
	}
}

// chunkReader yields data in small chunks, yielding the processor between
// them, so that a non-atomic Put would expose partial content.
type chunkReader struct {
	data  []byte
	chunk int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.chunk, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	time.Sleep(time.Microsecond)
	return n, nil
}

func testPutAtomic(t *testing.T, b objstore.Store) {
	versions := [][]byte{
		bytes.Repeat([]byte("a"), 64<<10),
		bytes.Repeat([]byte("b"), 96<<10),
		bytes.Repeat([]byte("c"), 32<<10),
	}
	put(t, b, "atomic", versions[0])

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				data, err := objstore.ReadAll(ctx, b, "atomic")
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					errs <- fmt.Errorf("read during overwrites: %w", err)
					return
				}
				if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, data) }) {
					errs <- fmt.Errorf("read a partial or mixed object: %s", summary(data))
					return
				}
			}
		})
	}
	for i := range 24 {
		v := versions[i%len(versions)]
		if err := b.Put(t.Context(), "atomic", &chunkReader{data: v, chunk: 4 << 10}); err != nil {
			t.Errorf("Put #%d: %v", i, err)
			break
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// failingReader returns some data and then an error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func testPutReaderError(t *testing.T, b objstore.Store) {
	errBody := errors.New("body failed")
	put(t, b, "k", []byte("old"))
	if err := b.Put(t.Context(), "k", &failingReader{data: []byte("new, partial"), err: errBody}); !errors.Is(err, errBody) {
		t.Fatalf("Put with a failing body = %v, want %v", err, errBody)
	}
	wantContent(t, b, "k", []byte("old"))

	err := b.PutIfAbsent(t.Context(), "fresh", &failingReader{data: []byte("partial"), err: errBody})
	if !errors.Is(err, errBody) {
		t.Fatalf("PutIfAbsent with a failing body = %v, want %v", err, errBody)
	}
	if _, err := b.Stat(t.Context(), "fresh"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("Stat after failed PutIfAbsent = %v, want ErrNotExist", err)
	}
	if keys := listKeys(t, b, ""); !slices.Equal(keys, []string{"k"}) {
		t.Fatalf("List after failed puts = %q, want [k]", keys)
	}
}

func testPutIfAbsent(t *testing.T, b objstore.Store) {
	ctx := t.Context()
	if err := b.PutIfAbsent(ctx, "once", strings.NewReader("one")); err != nil {
		t.Fatalf("PutIfAbsent on a new key: %v", err)
	}
	wantContent(t, b, "once", []byte("one"))
	err := b.PutIfAbsent(ctx, "once", strings.NewReader("two"))
	if !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("PutIfAbsent on an existing key = %v, want ErrExists", err)
	}
	wantContent(t, b, "once", []byte("one"))

	// An object written by Put counts as existing too.
	put(t, b, "nested/put", []byte("by put"))
	if err := b.PutIfAbsent(ctx, "nested/put", strings.NewReader("x")); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("PutIfAbsent over Put = %v, want ErrExists", err)
	}
	wantContent(t, b, "nested/put", []byte("by put"))

	// After Delete the key is free again.
	if err := b.Delete(ctx, "once"); err != nil {
		t.Fatal(err)
	}
	if err := b.PutIfAbsent(ctx, "once", strings.NewReader("three")); err != nil {
		t.Fatalf("PutIfAbsent after Delete: %v", err)
	}
	wantContent(t, b, "once", []byte("three"))
}

func testPutIfAbsentConcurrent(t *testing.T, b objstore.Store) {
	const writers = 32
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []int
		errs    []error
	)
	start := make(chan struct{})
	content := func(i int) []byte {
		return fmt.Appendf(nil, "writer %02d %s", i, strings.Repeat("x", 100*i))
	}
	for i := range writers {
		wg.Go(func() {
			<-start
			err := b.PutIfAbsent(t.Context(), "race/winner", bytes.NewReader(content(i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, i)
			case !errors.Is(err, objstore.ErrExists):
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("PutIfAbsent: %v (want nil or ErrExists)", err)
	}
	if len(winners) != 1 {
		t.Fatalf("%d PutIfAbsent calls succeeded (writers %v), want exactly 1", len(winners), winners)
	}
	wantContent(t, b, "race/winner", content(winners[0]))
}

func testGetMissing(t *testing.T, b objstore.Store) {
	ctx := t.Context()
	put(t, b, "dir/obj", []byte("x"))
	for _, key := range []string{"missing", "dir", "dir/obj/child", "dir/ob", "other/missing"} {
		if _, err := b.Get(ctx, key); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("Get(%q) = %v, want ErrNotExist", key, err)
		}
		if _, err := b.GetRange(ctx, key, 0, 1); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("GetRange(%q) = %v, want ErrNotExist", key, err)
		}
		if _, err := b.GetRange(ctx, key, 1, 0); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("GetRange(%q, 1, 0) = %v, want ErrNotExist", key, err)
		}
		if _, err := b.Stat(ctx, key); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("Stat(%q) = %v, want ErrNotExist", key, err)
		}
	}
}

func testGetRange(t *testing.T, b objstore.Store) {
	ctx := t.Context()
	put(t, b, "digits", []byte("0123456789"))
	put(t, b, "empty", nil)
	for _, tc := range []struct {
		key         string
		off, length int64
		want        string
	}{
		{"digits", 2, 3, "234"},
		{"digits", 0, 1, "0"},
		{"digits", 0, -1, "0123456789"},
		{"digits", 5, -1, "56789"},
		{"digits", 9, -1, "9"},
		{"digits", 8, 10, "89"},
		{"digits", 0, 100, "0123456789"},
		{"digits", 4, 0, ""},
		{"digits", 10, -1, ""},
		{"digits", 10, 5, ""},
		{"digits", 20, 5, ""},
		{"digits", 20, -1, ""},
		{"empty", 0, -1, ""},
		{"empty", 0, 10, ""},
		{"empty", 3, -1, ""},
	} {
		rc, err := b.GetRange(ctx, tc.key, tc.off, tc.length)
		if err != nil {
			t.Errorf("GetRange(%q, %d, %d): %v", tc.key, tc.off, tc.length, err)
			continue
		}
		got, err := io.ReadAll(rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Errorf("GetRange(%q, %d, %d): read: %v", tc.key, tc.off, tc.length, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("GetRange(%q, %d, %d) = %q, want %q", tc.key, tc.off, tc.length, got, tc.want)
		}
	}
	for _, bad := range [][2]int64{{-1, 2}, {0, -2}} {
		if rc, err := b.GetRange(ctx, "digits", bad[0], bad[1]); err == nil {
			rc.Close()
			t.Errorf("GetRange(digits, %d, %d) succeeded, want an error", bad[0], bad[1])
		}
	}
}

func testList(t *testing.T, b objstore.Store) {
	// "a-b" and "a.b" sort before "a/..." ('-' < '.' < '/'), "a0" after.
	keys := []string{
		"a-b", "a.b", "a/b", "a/c-d", "a/c/d", "a/c0", "a0", "ab", "b/x", "b/y/z",
		"dir/sub.json", "dir/sub/x", "dir/sub0",
	}
	order := rand.New(rand.NewPCG(7, 7)).Perm(len(keys))
	for _, i := range order {
		put(t, b, keys[i], bytes.Repeat([]byte{'x'}, i))
	}
	sorted := slices.Sorted(slices.Values(keys))
	if !slices.Equal(sorted, keys) {
		t.Fatalf("test keys not sorted: %q", keys)
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", keys},
		{"a", keys[:8]},
		{"a/", []string{"a/b", "a/c-d", "a/c/d", "a/c0"}},
		{"a/c", []string{"a/c-d", "a/c/d", "a/c0"}},
		{"a/c/", []string{"a/c/d"}},
		{"a/c/d", []string{"a/c/d"}},
		{"a.", []string{"a.b"}},
		{"b", []string{"b/x", "b/y/z"}},
		{"b/y/z", []string{"b/y/z"}},
		{"dir/sub", []string{"dir/sub.json", "dir/sub/x", "dir/sub0"}},
		{"zz", []string{}},
		{"a/zz/", []string{}},
		{"missing/dir/", []string{}},
	} {
		if got := listKeys(t, b, tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
	// Sizes and times are filled in.
	err := b.List(t.Context(), "", func(info objstore.ObjectInfo) error {
		i := slices.Index(keys, info.Key)
		if info.Size != int64(i) {
			t.Errorf("List: %s has size %d, want %d", info.Key, info.Size, i)
		}
		if info.ModTime.IsZero() {
			t.Errorf("List: %s has no modification time", info.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testListStops(t *testing.T, b objstore.Store) {
	for i := range 5 {
		put(t, b, fmt.Sprintf("k%d", i), []byte("x"))
	}
	errStop := errors.New("stop here")
	var seen []string
	err := b.List(t.Context(), "", func(info objstore.ObjectInfo) error {
		seen = append(seen, info.Key)
		if len(seen) == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("List = %v, want the callback's error", err)
	}
	if !slices.Equal(seen, []string{"k0", "k1"}) {
		t.Fatalf("List called back with %q after the error, want [k0 k1]", seen)
	}
}

func testStat(t *testing.T, b objstore.Store) {
	// Object stores keep whole seconds; allow clock skew between processes.
	before := time.Now().Add(-5 * time.Second)
	put(t, b, "dir/stat.bin", make([]byte, 1234))
	after := time.Now().Add(5 * time.Second)
	info, err := b.Stat(t.Context(), "dir/stat.bin")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "dir/stat.bin" || info.Size != 1234 {
		t.Errorf("Stat = %+v, want key dir/stat.bin and size 1234", info)
	}
	if info.ModTime.Before(before) || info.ModTime.After(after) {
		t.Errorf("Stat ModTime = %v, want between %v and %v", info.ModTime, before, after)
	}
	put(t, b, "zero", nil)
	if info, err := b.Stat(t.Context(), "zero"); err != nil || info.Size != 0 {
		t.Errorf("Stat(zero) = %+v, %v; want size 0", info, err)
	}
}

func testDelete(t *testing.T, b objstore.Store) {
	ctx := t.Context()
	put(t, b, "k", []byte("x"))
	put(t, b, "x/y/z", []byte("deep"))
	put(t, b, "x/keep", []byte("sibling"))
	for _, key := range []string{"k", "x/y/z"} {
		if err := b.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%q): %v", key, err)
		}
		if _, err := b.Get(ctx, key); !errors.Is(err, objstore.ErrNotExist) {
			t.Fatalf("Get(%q) after Delete = %v, want ErrNotExist", key, err)
		}
		if _, err := b.Stat(ctx, key); !errors.Is(err, objstore.ErrNotExist) {
			t.Fatalf("Stat(%q) after Delete = %v, want ErrNotExist", key, err)
		}
	}
	if keys := listKeys(t, b, ""); !slices.Equal(keys, []string{"x/keep"}) {
		t.Fatalf("List after Delete = %q, want [x/keep]", keys)
	}
	for _, key := range []string{"k", "never", "x/y/z", "x/y", "no/such/dir"} {
		if err := b.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) of a missing object: %v", key, err)
		}
	}
	// Deleting the last key under a prefix frees the prefix as a key.
	if err := b.Delete(ctx, "x/keep"); err != nil {
		t.Fatal(err)
	}
	put(t, b, "x", []byte("now a leaf"))
	wantContent(t, b, "x", []byte("now a leaf"))
	if keys := listKeys(t, b, ""); !slices.Equal(keys, []string{"x"}) {
		t.Fatalf("List = %q, want [x]", keys)
	}
}

func testInvalidKeys(t *testing.T, b objstore.Store) {
	ctx := t.Context()
	for _, key := range []string{"", "/x", "x/", "../x", "a/../b", "a/./b", ".", "..", "a//b", "a\\b", "a\x00b"} {
		check := func(op string, err error) {
			t.Helper()
			var ke *objstore.KeyError
			if !errors.As(err, &ke) {
				t.Errorf("%s(%q) = %v, want a *KeyError", op, key, err)
			}
		}
		check("Put", b.Put(ctx, key, strings.NewReader("x")))
		check("PutIfAbsent", b.PutIfAbsent(ctx, key, strings.NewReader("x")))
		_, err := b.Get(ctx, key)
		check("Get", err)
		_, err = b.GetRange(ctx, key, 0, 1)
		check("GetRange", err)
		_, err = b.Stat(ctx, key)
		check("Stat", err)
		check("Delete", b.Delete(ctx, key))
	}
	if keys := listKeys(t, b, ""); len(keys) != 0 {
		t.Fatalf("List after invalid puts = %q, want nothing", keys)
	}
}

func testLarge(t *testing.T, b objstore.Store) {
	ctx := t.Context()
	data := randomBytes(1, LargeSize)
	// Hide the reader's type so that implementations cannot use its size.
	if err := b.Put(ctx, "large/put", struct{ io.Reader }{bytes.NewReader(data)}); err != nil {
		t.Fatalf("Put large: %v", err)
	}
	wantContent(t, b, "large/put", data)
	info, err := b.Stat(ctx, "large/put")
	if err != nil || info.Size != LargeSize {
		t.Fatalf("Stat large = %+v, %v; want size %d", info, err, LargeSize)
	}
	// A range across the 5 MiB boundary.
	off := int64(5<<20 - 1000)
	rc, err := b.GetRange(ctx, "large/put", off, 5000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[off:off+5000]) {
		t.Fatalf("GetRange across parts: %s, %v", summary(got), err)
	}

	other := randomBytes(2, LargeSize)
	if err := b.PutIfAbsent(ctx, "large/once", struct{ io.Reader }{bytes.NewReader(other)}); err != nil {
		t.Fatalf("PutIfAbsent large: %v", err)
	}
	wantContent(t, b, "large/once", other)
	err = b.PutIfAbsent(ctx, "large/once", struct{ io.Reader }{bytes.NewReader(data)})
	if !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("PutIfAbsent large on an existing key = %v, want ErrExists", err)
	}
	wantContent(t, b, "large/once", other)
}

func testBinarySafe(t *testing.T, b objstore.Store) {
	var data []byte
	for range 4 {
		for c := range 256 {
			data = append(data, byte(c))
		}
	}
	data = append(data, "\r\n\x00\r\n"...)
	put(t, b, "binary.bin", data)
	wantContent(t, b, "binary.bin", data)
	// Keys with characters that need escaping in URLs and shells.
	for _, key := range []string{"sp ace/plus+sign", "pct%20=eq&amp;semi,comma", "unicode/żółw-日本", "q?x#frag@at:colon"} {
		put(t, b, key, []byte(key))
		wantContent(t, b, key, []byte(key))
		if keys := listKeys(t, b, key); !slices.Equal(keys, []string{key}) {
			t.Errorf("List(%q) = %q", key, keys)
		}
	}
}

func testContextCanceled(t *testing.T, b objstore.Store) {
	put(t, b, "exists", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", op, err)
		}
	}
	check("Put", b.Put(ctx, "new", strings.NewReader("x")))
	check("PutIfAbsent", b.PutIfAbsent(ctx, "new", strings.NewReader("x")))
	_, err := b.Get(ctx, "exists")
	check("Get", err)
	_, err = b.GetRange(ctx, "exists", 0, 1)
	check("GetRange", err)
	_, err = b.Stat(ctx, "exists")
	check("Stat", err)
	check("List", b.List(ctx, "", func(objstore.ObjectInfo) error { return nil }))
	check("Delete", b.Delete(ctx, "exists"))

	// Canceled while the body is being read: nothing is published.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	body := &cancelingReader{data: bytes.Repeat([]byte("y"), 1<<20), cancel: cancel}
	check("Put mid-body", b.Put(ctx, "new", body))
	if _, err := b.Stat(t.Context(), "new"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Stat after a canceled Put = %v, want ErrNotExist", err)
	}
	wantContent(t, b, "exists", []byte("x"))
}

// cancelingReader cancels its context after the first read.
type cancelingReader struct {
	data   []byte
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1024)], c.data)
	c.data = c.data[n:]
	c.cancel()
	return n, nil
}

func testCloseIdempotent(t *testing.T, b objstore.Store) {
	put(t, b, "k", []byte("x"))
	for i := range 2 {
		if err := b.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
}
