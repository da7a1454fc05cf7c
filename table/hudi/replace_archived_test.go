package hudi

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// archiveOnReplaceRead is a bucket on which another process archives the
// timeline right before the first read of a completed replacecommit: the
// replacecommit the reader listed is gone when it reads it.
type archiveOnReplaceRead struct {
	objstore.Store
	once    sync.Once
	archive func()
}

func (b *archiveOnReplaceRead) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.HasPrefix(key, MetaDir+"/") && strings.HasSuffix(key, "."+ActionReplaceCommit) && !strings.HasPrefix(key, ArchiveDir+"/") {
		b.once.Do(b.archive)
	}
	return b.Store.Get(ctx, key)
}

// replaceArchivedUnderRead makes a table of three commits, a replacecommit
// merging the first two, and two more commits, and returns a reader of it
// on which the first read of the replacecommit archives everything but the
// newest commit first; archived reports whether that happened, and replace
// is the replacecommit.
func replaceArchivedUnderRead(t *testing.T) (reader, writer *Table, replace string, ids []string, archived func() bool) {
	t.Helper()
	ctx := context.Background()
	mem := objstore.NewMemory()
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	nowFn := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	mem.Now = nowFn // modification times: the replacecommit's age
	clock := WithClock(nowFn)
	writer, err := Create(ctx, mem, Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}}, clock)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for c := 1; c <= 3; c++ {
		if err := commitOne(ctx, writer, 0, c); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := writer.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files[:2] {
		files = append(files, f.Path)
		ids = append(ids, f.FileID)
	}
	x, err := writer.Begin(ctx, BeginOptions{WriterID: "compactor", Action: ActionReplaceCommit})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	merged := BaseFilePath("dt=w0", BaseFileName(NewFileID(), WriteToken(0, 0, 0), x.Instant()))
	if err := mem.Put(ctx, merged, bytes.NewReader([]byte("PAR1 merged PAR1"))); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Commit(ctx, CommitRequest{Files: []FileStat{{Path: merged, NumRecords: 20}}, Replaced: map[string][]string{"dt=w0": ids}}); err != nil {
		t.Fatal(err)
	}
	for c := 4; c <= 5; c++ {
		if err := commitOne(ctx, writer, 0, c); err != nil {
			t.Fatal(err)
		}
	}
	// Past the retention of the replaced files: archival takes the
	// replacecommit.
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	var done bool
	b := &archiveOnReplaceRead{Store: mem}
	b.archive = func() {
		res, err := writer.Archive(ctx, ArchiveOptions{KeepCompleted: 1})
		if err != nil {
			t.Errorf("archive: %v", err)
			return
		}
		done = slices.Contains(res.Archived, x.Instant())
	}
	reader, err = Open(ctx, b, clock)
	if err != nil {
		t.Fatal(err)
	}
	return reader, writer, x.Instant(), ids, func() bool { return done }
}

// TestSnapshotListsAgainWhenReplaceArchivedUnderIt: the compactor's plan
// failed with "read .hoodie/<t>.replacecommit: object does not exist" when
// an archival moved the replacecommit into the archive between Snapshot's
// listing and its read (3 times in the torture). Snapshot lists again.
func TestSnapshotListsAgainWhenReplaceArchivedUnderIt(t *testing.T) {
	ctx := context.Background()
	reader, writer, _, _, archived := replaceArchivedUnderRead(t)
	snap, err := reader.Snapshot(ctx)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if !archived() {
		t.Fatal("the replacecommit was not archived under the read: the test does not test what it says")
	}
	want, err := writer.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(paths(snap.Files), paths(want.Files)) || snap.Instant != want.Instant {
		t.Errorf("snapshot at %s %v, want at %s %v", snap.Instant, paths(snap.Files), want.Instant, paths(want.Files))
	}
}

// TestReplacementsReadArchivedReplace: Replacements (the planner's and
// ClusteringConflicts' read) failed the same way. The archived
// replacecommit is read from the archive: its file groups still count.
func TestReplacementsReadArchivedReplace(t *testing.T) {
	ctx := context.Background()
	reader, _, replace, ids, archived := replaceArchivedUnderRead(t)
	intents, err := reader.Replacements(ctx, nil)
	if err != nil {
		t.Fatalf("replacements: %v", err)
	}
	if !archived() {
		t.Fatal("the replacecommit was not archived under the read: the test does not test what it says")
	}
	if len(intents) != 1 || intents[0].Instant != replace || intents[0].State != StateCompleted ||
		!slices.Equal(slices.Sorted(slices.Values(intents[0].FileGroups["dt=w0"])), slices.Sorted(slices.Values(ids))) {
		t.Errorf("replacements %+v, want %s completed replacing %v", intents, replace, ids)
	}
}

func paths(files []BaseFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}
