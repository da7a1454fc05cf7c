package checkpoint

import (
	"maps"
	"slices"

	"github.com/lakestream/lakestream/table"
)

// openInstant is the table side of the checkpoint being filled: its ID,
// its instant (begun at its first row, so that idle intervals leave no
// pending instant: ensureTxn), the Kafka partitions the instant lists, and
// an instant abandoned when partitions were lost whose rollback has not
// completed yet (settleAbandonedLocked finishes it before the next one
// begins).
//
// Guarded by Coordinator.mu: the intake, the checkpoints and the rebalance
// hooks (all under it) read and change it; Close reads it after the
// workers stopped.
type openInstant struct {
	id        int64     // ID of the checkpoint being filled
	txn       table.Txn // nil: no instant open
	listed    map[int32]bool
	abandoned table.Txn // aborted when partitions were lost, not yet rolled back
}

// lists reports whether the open instant lists Kafka partition p: true with
// no instant open, or one that lists every partition (its partitions were
// unchecked: no claims held). Rows of a partition it does not list must
// wait for the next instant: a new owner of the partition could not fence
// this one.
func (o *openInstant) lists(p int32) bool {
	return o.txn == nil || o.listed == nil || o.listed[p]
}

// list sets the Kafka partitions the next instant lists (nil claims: it
// lists every partition, unchecked) and returns them, sorted.
func (o *openInstant) list(claims map[int32]int64) []int32 {
	o.listed = nil
	if claims == nil {
		return nil
	}
	o.listed = make(map[int32]bool, len(claims))
	for p := range claims {
		o.listed[p] = true
	}
	return slices.Sorted(maps.Keys(claims))
}

// begun records the instant just begun.
func (o *openInstant) begun(txn table.Txn) { o.txn = txn }

// take returns the open instant (nil: none) and forgets it.
func (o *openInstant) take() table.Txn {
	txn := o.txn
	o.txn = nil
	return txn
}
