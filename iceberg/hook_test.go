package iceberg

import (
	"slices"
	"testing"
	"time"

	laketable "github.com/lakestream/lakestream/table"
)

// TestHookPublishesCommits: the hook publishes the commit it is given and
// catches up on those before it; an instant that is not completed fails.
func TestHookPublishesCommits(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	t1 := f.commit(f.events(100, base, 1))
	t2 := f.commit(f.events(100, base, 1))
	p := f.publisher()
	hook := p.Hook()
	if err := hook.Publish(f.ctx, laketable.Commit{Instant: t2}); err != nil {
		t.Fatal(err)
	}
	if got := published(t, f.ctx, p); !slices.Equal(got, []string{t1, t2}) {
		t.Fatalf("snapshots publish %v, want [%s %s]", got, t1, t2)
	}
	if err := hook.Publish(f.ctx, laketable.Commit{Instant: "29991231235959999"}); err == nil {
		t.Fatal("publishing an instant that is not on the timeline succeeded")
	}
}
