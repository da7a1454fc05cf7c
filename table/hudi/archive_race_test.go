package hudi

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
)

// archiveOnFirstRead is a bucket on which another process archives the
// timeline right before the first read of a completed commit: the commit
// Checkpoints listed is gone when it reads it.
type archiveOnFirstRead struct {
	objstore.Store
	once    sync.Once
	archive func()
}

func (b *archiveOnFirstRead) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.HasPrefix(key, MetaDir+"/") && strings.HasSuffix(key, ".commit") && !strings.Contains(key, "archived") {
		b.once.Do(b.archive)
	}
	return b.Store.Get(ctx, key)
}

// TestCheckpointsReadAgainWhenArchivedUnderIt: an instant archived
// between Checkpoints' listing and its read of the instant failed the read
// ("object does not exist", seen in the S3 zombie torture); Checkpoints
// reads again and finds it in the archive.
func TestCheckpointsReadAgainWhenArchivedUnderIt(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMemory()
	if _, err := Create(ctx, mem, Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}}); err != nil {
		t.Fatal(err)
	}
	writer, err := Open(ctx, mem)
	if err != nil {
		t.Fatal(err)
	}
	const commits = 6
	for c := 1; c <= commits; c++ {
		if err := commitOne(ctx, writer, 0, c); err != nil {
			t.Fatal(err)
		}
	}
	var archived int
	b := &archiveOnFirstRead{Store: mem}
	b.archive = func() {
		res, err := writer.Archive(ctx, ArchiveOptions{KeepCompleted: 2})
		if err != nil {
			t.Errorf("archive: %v", err)
			return
		}
		archived = len(res.Archived)
	}
	reader, err := Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	cps, err := reader.Checkpoints(ctx)
	if err != nil {
		t.Fatalf("checkpoints: %v", err)
	}
	if archived == 0 {
		t.Fatal("nothing was archived under the read: the test does not test what it says")
	}
	if cp := cps.Writers["w0"]; cp.CheckpointID != commits {
		t.Errorf("checkpoint %d, want %d", cp.CheckpointID, commits)
	}
	if pos, ok := cps.Next("events", 0); !ok || pos.Next != commits*10 {
		t.Errorf("partition 0: %+v, want next %d", pos, commits*10)
	}
}
