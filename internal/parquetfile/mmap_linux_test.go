package parquetfile

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMergeMappedInputs: local files are mapped (Linux) and merged as
// their bytes are; an input cut short after it was mapped is an error
// naming the problem, not a crash.
func TestMergeMappedInputs(t *testing.T) {
	dir := t.TempDir()
	if err := writePageviewFiles(dir, 3, 2000); err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	var mems []MergeInput
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		mems = append(mems, memInput(filepath.Base(p), data))
	}
	for _, concurrency := range []int{1, 2} {
		var fromFiles, fromMemory bytes.Buffer
		mapped := 0
		inputs := fileInputs(paths)
		for i := range inputs {
			open := inputs[i].Open
			inputs[i].Open = func(ctx context.Context) (io.ReaderAt, error) {
				r, err := open(ctx)
				if f, ok := r.(*os.File); ok {
					if m := mapFile(f, inputs[i].Size); m != nil {
						mapped++
						unmapFile(m)
					}
				}
				return r, err
			}
		}
		if _, err := Merge(context.Background(), inputs, &fromFiles, MergeConcurrency(concurrency)); err != nil {
			t.Fatal(err)
		}
		if mapped != len(paths) {
			t.Fatalf("%d of %d files can be mapped", mapped, len(paths))
		}
		if _, err := Merge(context.Background(), mems, &fromMemory, MergeConcurrency(concurrency)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fromFiles.Bytes(), fromMemory.Bytes()) {
			t.Fatalf("concurrency %d: the merge of the mapped files differs from the merge of their bytes", concurrency)
		}

		// The first input truncated once the last is opened (the first
		// is mapped by then): its pages are gone.
		victim := filepath.Join(t.TempDir(), "victim.parquet")
		data, _ := os.ReadFile(paths[0])
		writeFile(t, victim, data)
		inputs = fileInputs(append([]string{victim}, paths[1:]...))
		last := &inputs[len(inputs)-1]
		open := last.Open
		last.Open = func(ctx context.Context) (io.ReaderAt, error) {
			if err := os.Truncate(victim, 0); err != nil {
				t.Error(err)
			}
			return open(ctx)
		}
		_, err := Merge(context.Background(), inputs, io.Discard, MergeConcurrency(1))
		if err == nil || !strings.Contains(err.Error(), "cut short") {
			t.Fatalf("an input truncated while mapped: %v, want an error saying it was cut short", err)
		}
	}
}
