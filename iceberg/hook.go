package iceberg

import (
	"context"
	"fmt"

	"github.com/lakestream/lakestream/internal/failpoint"

	laketable "github.com/lakestream/lakestream/table"
)

// Hook returns p as a table.Publisher, for the coordinator's publish hook
// (checkpoint.WithPublishers): after every Hudi commit, Publish of its
// instant, which catches up on every completed instant not published yet.
// Its failure is the hook's to log and count; the Hudi commit stands and
// the next commit (or the CatchUp at start) publishes what was missed.
//
// Before it publishes, it hits failpoint.AfterCommitBeforePublish of the
// table's failpoints (hudi.WithFailpoints): a crash there leaves a
// completed commit without its snapshot, an error skips the publish.
func (p *Publisher) Hook() laketable.Publisher {
	return laketable.PublisherFunc(func(ctx context.Context, c laketable.Commit) error {
		if err := p.table.Failpoints().Hit(failpoint.AfterCommitBeforePublish); err != nil {
			return fmt.Errorf("publish %s: %w", c.Instant, err)
		}
		_, err := p.Publish(ctx, c.Instant)
		return err
	})
}
