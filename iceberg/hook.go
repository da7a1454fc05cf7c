package iceberg

import (
	"context"

	laketable "github.com/lakestream/lakestream/table"
)

// Hook returns p as a table.Publisher, for the coordinator's publish hook
// (checkpoint.WithPublishers): after every Hudi commit, Publish of its
// instant, which catches up on every completed instant not published yet.
// Its failure is the hook's to log and count; the Hudi commit stands and
// the next commit (or the CatchUp at start) publishes what was missed.
func (p *Publisher) Hook() laketable.Publisher {
	return laketable.PublisherFunc(func(ctx context.Context, c laketable.Commit) error {
		_, err := p.Publish(ctx, c.Instant)
		return err
	})
}
