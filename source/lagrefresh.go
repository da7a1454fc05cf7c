package source

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// DefaultLagRefresh is how often, by default, the Reader lists the topic's
// last stable offsets by itself (WithLagRefresh).
const DefaultLagRefresh = 5 * time.Second

// WithLagRefresh makes the Reader list the topic's last stable offsets
// every d, besides what its fetches report, so that PartitionStates' Lag
// (and lakestream_partition_lag) keeps growing while the pipeline takes
// nothing in: a coordinator retrying a checkpoint against storage that is
// down polls no records, and without the listing the lag stood still at
// its last value (0 when it was caught up) while the topic grew. A listed
// offset only ever raises a partition's known end. 0 turns the listing
// off. Default DefaultLagRefresh.
func WithLagRefresh(d time.Duration) Option {
	return func(o *options) { o.lagRefresh = d }
}

// refreshLag lists the last stable offsets every interval until the
// Reader is closed. It runs on its own goroutine, started by NewReader
// and ended by Close (which waits for it).
func (r *Reader) refreshLag(interval time.Duration) {
	defer close(r.lagDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.lagStop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(interval, 10*time.Second))
		go func() {
			select {
			case <-r.lagStop:
				cancel()
			case <-ctx.Done():
			}
		}()
		// The consumer reads committed records only (read_committed): its
		// end is the last stable offset, which ListCommittedOffsets lists.
		listed, err := r.adm.ListCommittedOffsets(ctx, r.cfg.Topic)
		cancel()
		if err != nil {
			r.log.Debug("listing the topic's end offsets for the lag", "err", err)
			continue
		}
		r.mu.Lock()
		listed.Each(func(o kadm.ListedOffset) {
			if o.Err != nil || o.Topic != r.cfg.Topic || o.Offset < 0 {
				return
			}
			if _, owned := r.owned[o.Partition]; !owned {
				return
			}
			if ps := r.parts[o.Partition]; ps != nil && o.Offset > ps.lso {
				ps.lso = o.Offset
				ps.hw = max(ps.hw, o.Offset)
			}
		})
		r.mu.Unlock()
	}
}
