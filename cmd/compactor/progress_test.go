package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/compaction"
)

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	bar := progressBar(&b)
	bar(compaction.Progress{GroupsDone: 1, Groups: 2, FilesDone: 10, Files: 20, BytesDone: 5e6, Bytes: 10e6, Elapsed: 3 * time.Second})
	if got := b.String(); got != "\r["+strings.Repeat("#", 15)+strings.Repeat(" ", 15)+"] 1/2 groups, 10/20 files, 5.0/10.0 MB, 3s " {
		t.Fatalf("%q", got)
	}
	b.Reset()
	bar(compaction.Progress{GroupsDone: 2, Groups: 2, FilesDone: 20, Files: 20, BytesDone: 10e6, Bytes: 10e6})
	if got := b.String(); !strings.HasSuffix(got, "\n") || !strings.Contains(got, strings.Repeat("#", 30)) {
		t.Fatalf("done: %q", got)
	}
	if isTerminal(&b) {
		t.Fatal("a buffer is not a terminal")
	}
}
