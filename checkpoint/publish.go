package checkpoint

import (
	"context"
	"fmt"
	"sync"

	"github.com/lakestream/lakestream/table"
)

// publishQueue holds the commits not yet handed to the publishers
// (WithPublishers). A checkpoint adds its commit (with Coordinator.mu
// held, on Run's goroutine or in Revoked); Run alone takes them, between
// polls, and publishes them in order outside Coordinator.mu. Its own mutex
// guards the queue, so that publishing never waits for a checkpoint in
// progress. Lock order: Coordinator.mu, then mu.
type publishQueue struct {
	publishers []table.Publisher

	mu      sync.Mutex
	pending []table.Commit
}

// enabled reports whether there are publishers to publish to.
func (q *publishQueue) enabled() bool { return len(q.publishers) > 0 }

// add queues a commit for the publishers.
func (q *publishQueue) add(cm table.Commit) {
	q.mu.Lock()
	q.pending = append(q.pending, cm)
	q.mu.Unlock()
}

// take returns the queued commits, oldest first, and empties the queue.
func (q *publishQueue) take() []table.Commit {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.pending
	q.pending = nil
	return out
}

// publish hands the commits made since the last call to every publisher,
// in order, on Run's goroutine, outside Coordinator.mu (a commit made in a
// rebalance hook waits for Run's next turn). A failure is logged and
// counted in phase publish and is not retried: the commit stands, and the
// publisher catches up at the next one (table.Publisher).
func (c *Coordinator) publish(ctx context.Context) {
	for _, cm := range c.pub.take() {
		span := c.startPublish(ctx, cm)
		for i, p := range c.pub.publishers {
			if err := p.Publish(ctx, cm); err != nil {
				op := fmt.Sprintf("publisher %d: publish instant %s", i, cm.Instant)
				msg := c.health.failed(op, PhasePublish, -1, err, false)
				publishFailed(span, i, ErrorClass(err), msg)
				c.opts.logger.Warn("publish commit: the commit stands, the publisher catches up later", "publisher", i, "instant", cm.Instant, "err", msg)
			}
		}
		span.End()
	}
}
