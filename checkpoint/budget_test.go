package checkpoint_test

import (
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
)

// Past the memory budget the workers write their largest buffers out
// (files stay open): every row is still committed exactly once, and the
// buffered total stays near the budget.
func TestMemoryBudgetFlushesLargestBuffers(t *testing.T) {
	const n = 30000
	recs := pageviewRecords(n, time.Now().UTC())
	for _, c := range []struct {
		budget      int64
		wantFlushes bool
	}{{1 << 20, true}, {0, false}} {
		root := t.TempDir()
		b, err := objstore.NewFilesystem(root)
		if err != nil {
			t.Fatal(err)
		}
		p := newPipeline(t, b, 2, recs, checkpoint.WithInterval(time.Hour), checkpoint.WithMemoryBudget(c.budget), checkpoint.WithBatchRows(256))
		p.src.batch = 1000
		var peak int64
		p.src.onPoll = func() {
			if buffered := p.coord.Stats().BufferedBytes; buffered > peak {
				peak = buffered
			}
		}
		p.run(t)
		st := p.coord.Stats()
		if got := st.BudgetFlushes > 0; got != c.wantFlushes {
			t.Errorf("budget %d: %d flushes, want flushes: %v", c.budget, st.BudgetFlushes, c.wantFlushes)
		}
		if c.budget > 0 && peak > 2*c.budget {
			t.Errorf("budget %d: %d bytes buffered at a poll", c.budget, peak)
		}
		if c.budget == 0 && peak <= 1<<20 {
			t.Errorf("without a budget only %d bytes were ever buffered: the test does not exercise the budget", peak)
		}
		_, rows, distinct := filesPerBucket(t, p, root)
		if rows != n || distinct != n {
			t.Errorf("budget %d: DuckDB reads %d rows, %d distinct; want %d", c.budget, rows, distinct, n)
		}
	}
}
