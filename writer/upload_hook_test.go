package writer

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// putRecorder records the keys of the Puts that reached the bucket, in
// order.
type putRecorder struct {
	objstore.Store
	mu   sync.Mutex
	puts []string
}

func (r *putRecorder) Put(ctx context.Context, key string, body io.Reader) error {
	if err := r.Store.Put(ctx, key, body); err != nil {
		return err
	}
	r.mu.Lock()
	r.puts = append(r.puts, key)
	r.mu.Unlock()
	return nil
}

func (r *putRecorder) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.puts)
}

// TestBeforeUploadSeesEveryUpload: the hook is called with the key of every
// upload, before it, whatever made the file ready: the maximum age, the
// open-file bound, the target size and Finish (uploads of one batch run at
// once, in any order).
func TestBeforeUploadSeesEveryUpload(t *testing.T) {
	ctx := context.Background()
	b := &putRecorder{Store: objstore.NewMemory()}
	clock := &fakeClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	var hookMu sync.Mutex
	var hooked []string
	s := newTestSet(t, b, WithClock(clock.now), WithMaxFileAge(10*time.Minute), WithMaxOpenFiles(2), WithMinFileSize(0),
		WithTargetFileSize(32<<10), WithRowGroupBytes(8<<10), WithPageBufferSize(2<<10),
		WithBeforeUpload(func(key string) error {
			if slices.Contains(b.keys(), key) {
				t.Errorf("hook called for %s after its upload", key)
			}
			hookMu.Lock()
			hooked = append(hooked, key)
			hookMu.Unlock()
			return nil
		}))
	if err := s.Begin(testInstant, 4); err != nil {
		t.Fatal(err)
	}
	w := &seqWriter{t: t, s: s}
	write := w.write
	uploadedFrom := func(p string) int {
		n := 0
		for _, k := range b.keys() {
			if strings.HasPrefix(k, p+"/") {
				n++
			}
		}
		return n
	}

	write("age")
	clock.advance(11 * time.Minute)
	if err := s.RollIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if uploadedFrom("age") != 1 {
		t.Fatalf("age roll: uploaded %v", b.keys())
	}
	write("lru")
	write("other")
	write("new") // rolls lru, the least recently written of two open files
	if uploadedFrom("lru") != 1 {
		t.Fatalf("open-file bound: uploaded %v", b.keys())
	}
	for range 4000 {
		write("size")
	}
	if uploadedFrom("size") < 2 {
		t.Fatalf("size roll: uploaded %v", b.keys())
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	puts := b.keys()
	slices.Sort(puts)
	slices.Sort(hooked)
	if !slices.Equal(hooked, puts) {
		t.Errorf("hook saw\n%v\nuploads were\n%v", hooked, puts)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	slices.Sort(paths)
	if !slices.Equal(paths, puts) {
		t.Errorf("Finish returned\n%v\nuploads were\n%v", paths, puts)
	}
	checkAllRows(t, b, files, w.n, func(int) string { return "" })
}

// TestBeforeUploadErrorAbortsUpload: an error from the hook stops the
// upload before it starts and is returned like an upload error; the file
// stays spooled, and a retry calls the hook again before uploading it.
func TestBeforeUploadErrorAbortsUpload(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMemory()
	b := objstore.NewFaulty(mem)
	errJournal := errors.New("journal unavailable")
	failing := true
	var hooked []string
	spool := t.TempDir()
	s := newTestSet(t, b, WithSpoolDir(spool), WithBeforeUpload(func(key string) error {
		hooked = append(hooked, key)
		if failing {
			return errJournal
		}
		return nil
	}))
	if err := s.Begin(testInstant, 2); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		writeRec(t, s, "p", i)
	}
	if _, err := s.Finish(ctx); !errors.Is(err, errJournal) {
		t.Fatalf("Finish with a failing hook: %v", err)
	}
	if n := b.Calls(objstore.OpPut); n != 0 {
		t.Errorf("%d Puts after the hook failed, want none", n)
	}
	if keys := listKeys(t, mem); len(keys) != 0 {
		t.Errorf("objects %v after the hook failed", keys)
	}
	if len(spoolFiles(t, spool)) != 1 {
		t.Errorf("spool files %v, want the file kept for a retry", spoolFiles(t, spool))
	}
	failing = false
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || len(hooked) != 2 || hooked[0] != files[0].Path || hooked[1] != files[0].Path {
		t.Fatalf("files %v, hook saw %v: want one file, hooked before each attempt", files, hooked)
	}
	if n := b.Calls(objstore.OpPut); n != 1 {
		t.Errorf("%d Puts, want 1", n)
	}
	checkAllRows(t, mem, files, 100, func(int) string { return "p" })

	// During a Write, a file rolled earlier is uploaded first: a hook error
	// is returned and the row is not written.
	small := newTestSet(t, b, WithSpoolDir(spool), WithMaxOpenFiles(1), WithMinFileSize(0), WithBeforeUpload(func(string) error { return errJournal }))
	if err := small.Begin(testInstant, 3); err != nil {
		t.Fatal(err)
	}
	if err := small.Write(ctx, "a", makeRow(testRec(0)), 0); err != nil {
		t.Fatal(err)
	}
	if err := small.Write(ctx, "b", makeRow(testRec(1)), 0); !errors.Is(err, errJournal) {
		t.Fatalf("Write rolling a with a failing hook: %v", err)
	}
	if err := small.Abort(ctx); err != nil {
		t.Fatal(err)
	}
}
