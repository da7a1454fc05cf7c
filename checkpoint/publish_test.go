package checkpoint_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
)

// TestPublishersSeeEveryCommit has two publishers observe a run: one
// records the commits, one always fails. The first sees every completed
// instant of the timeline once, in order, with its checkpoint and offsets;
// the failures of the second are counted in phase publish and leave every
// commit standing.
func TestPublishersSeeEveryCommit(t *testing.T) {
	b, err := objstore.NewFilesystem(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []table.Commit
	record := table.PublisherFunc(func(_ context.Context, c table.Commit) error {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		return nil
	})
	failures := 0
	failing := table.PublisherFunc(func(context.Context, table.Commit) error {
		failures++
		return errors.New("iceberg catalog unreachable")
	})
	p := newPipeline(t, b, 2, pageviewRecords(8000, time.Now().UTC()), checkpoint.WithInterval(30*time.Millisecond),
		checkpoint.WithTimelineMaintenance(1, 0), checkpoint.WithPublishers(failing, record))
	p.src.batch, p.src.pause = 1000, 20*time.Millisecond
	p.run(t)

	ctx := context.Background()
	tl, err := p.table.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var instants []string
	for _, e := range tl.Completed() {
		instants = append(instants, e.Time)
	}
	st := p.coord.Stats()
	if st.Checkpoints < 2 || int64(len(instants)) != st.Checkpoints {
		t.Fatalf("%d checkpoints, %d completed instants: want several, one per checkpoint", st.Checkpoints, len(instants))
	}
	var got []string
	var rows int64
	for i, c := range seen {
		got = append(got, c.Instant)
		rows += c.Rows
		if i > 0 && c.CheckpointID != seen[i-1].CheckpointID+1 {
			t.Errorf("commit %s has checkpoint %d after %d", c.Instant, c.CheckpointID, seen[i-1].CheckpointID)
		}
		if c.WriterID != "bench-0" || c.Topic != "pageviews" || len(c.Next) == 0 || c.Files == 0 {
			t.Errorf("commit %+v: want writer bench-0, topic pageviews, offsets and files", c)
		}
	}
	if !slices.Equal(got, instants) {
		t.Fatalf("published %v, want the completed instants %v", got, instants)
	}
	if rows != 8000 {
		t.Fatalf("published commits hold %d rows, want 8000", rows)
	}
	if last := seen[len(seen)-1].Next; last[0] != 1000 || last[7] != 1000 {
		t.Fatalf("last published offsets %v, want 1000 for every partition", last)
	}
	if failures != len(instants) {
		t.Fatalf("the failing publisher was called %d times for %d commits", failures, len(instants))
	}
	if n := checkpoint.FailureCountOf(p.coord.Health(), checkpoint.PhasePublish, checkpoint.ClassOther); n.Failures != int64(failures) || n.Retries != 0 {
		t.Fatalf("publish failures counted %+v, want %d, none retried", n, failures)
	}
}
