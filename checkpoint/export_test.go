package checkpoint

import "github.com/lakestream/lakestream/schemas"

// What the tests of package checkpoint_test (the pipeline tests, which
// open the engine with ingest.Open, as ingestd does: package ingest
// imports checkpoint) use of the package's insides.

// The states the coordinator's and the workers' tasks show.
const (
	StateIdle    = stateIdle
	StateBetween = stateBetween
)

// ErrGraceOver is what Run's error wraps when the shutdown grace period
// ended a checkpoint.
var ErrGraceOver = errGraceOver

// FailureCountOf is h's failure count of phase and class (zero if none).
var FailureCountOf = failureCount

// WrapDecoder replaces the coordinator's decoder by wrap of it (before
// Run).
func (c *Coordinator) WrapDecoder(wrap func(schemas.Decoder) schemas.Decoder) {
	c.cfg.Decoder = wrap(c.cfg.Decoder)
}

// MaxOpenFilesOfWorker is worker i's bound on open files
// (writer.Set.MaxOpenFiles).
func (c *Coordinator) MaxOpenFilesOfWorker(i int) int { return c.pool.workers[i].set.MaxOpenFiles() }
