package checkpoint

import (
	"context"
	"errors"
	"sync"
	"time"
)

// workerPool is the coordinator's workers (one goroutine each, owning its
// writer.Set) and the batch being filled for each. The intake and the
// checkpoints fill and send batches with Coordinator.mu held, on Run's
// goroutine or in Revoked: filling is guarded by it. The workers and their
// channels are fixed from New on. start starts the worker goroutines (Run),
// stop closes their inboxes and waits for them (Close).
type workerPool struct {
	workers []*worker
	filling []*rowBatch // the batch being filled, per worker (nil: none taken yet)
	wg      sync.WaitGroup
}

// start starts a goroutine per worker, which runs until stop.
func (p *workerPool) start(ctx context.Context, rollEvery time.Duration) {
	for _, w := range p.workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			w.run(ctx, rollEvery)
		}()
	}
}

// stop closes the workers' inboxes and waits for their goroutines to end.
// Call it once.
func (p *workerPool) stop() {
	for _, w := range p.workers {
		close(w.inbox)
	}
	p.wg.Wait()
}

// closeSets releases the workers' files, once they stopped.
func (p *workerPool) closeSets() error {
	var errs []error
	for _, w := range p.workers {
		errs = append(errs, w.set.Close())
	}
	return errors.Join(errs...)
}

// batchFor returns the batch being filled for worker w, waiting for one
// the worker hands back if none is.
func (p *workerPool) batchFor(ctx context.Context, w int) (*rowBatch, error) {
	if b := p.filling[w]; b != nil {
		return b, nil
	}
	select {
	case b := <-p.workers[w].free:
		p.filling[w] = b
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send hands worker w its filling batch.
func (p *workerPool) send(ctx context.Context, w int) error {
	b := p.filling[w]
	if b == nil || b.len() == 0 {
		return nil
	}
	p.filling[w] = nil
	select {
	case p.workers[w].inbox <- workerMsg{kind: msgRows, batch: b}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendAll hands every worker its filling batch: the barrier of a
// checkpoint (a worker's messages are taken in order).
func (p *workerPool) sendAll(ctx context.Context) error {
	for w := range p.workers {
		if err := p.send(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// discardFilling empties the batches being filled and hands them back to
// their workers (the open checkpoint is abandoned).
func (p *workerPool) discardFilling() {
	for w, b := range p.filling {
		if b != nil {
			b.reset()
			p.workers[w].free <- b
			p.filling[w] = nil
		}
	}
}
