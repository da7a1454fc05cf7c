package journal

import (
	"strings"
	"testing"

	"github.com/lakestream/lakestream/table/hudi"
)

// suffixLayout names a file's instant by its last path segment's
// "<instant>.dat" (a layout other than Hudi's).
type suffixLayout struct{ hudi.BaseFileLayout }

func (suffixLayout) FileInstant(key string) (string, bool) {
	name := key[strings.LastIndexByte(key, '/')+1:]
	return strings.CutSuffix(name, ".dat")
}

// TestJournalLayout: the journal finds the instant of a key with its
// layout: keys of that layout are recorded, Hudi base files are not.
func TestJournalLayout(t *testing.T) {
	j := openTestJournal(t, t.TempDir(), WithLayout(suffixLayout{}))
	in := jInstant(1)
	if err := j.BeginCheckpoint(in, 1); err != nil {
		t.Fatal(err)
	}
	key := "dt=2026-11-01/" + in + ".dat"
	if err := j.BeforeUpload(key); err != nil {
		t.Fatal(err)
	}
	if err := j.BeforeUpload(jFile(in, "dt=2026-11-01", 0)); err == nil {
		t.Fatal("a Hudi base file was recorded by a journal of another layout")
	}
	checkPending(t, j, []Entry{{Instant: in, Checkpoint: 1, Files: []string{key}}})
}
