package checkpoint

import (
	"maps"
	"slices"
	"sync"
)

// kafkaPartitions is the bookkeeping of the Kafka partitions this process
// owns (never partition paths: those are buckets): the owner claims held
// and the next offsets the table held when they were assigned
// (StartOffsets), and, per partition, the next offset as processed and as
// last committed.
//
// Two locks guard it. claims and fromTable have their own mutex, mu:
// StartOffsets writes them on the source's rebalance goroutine without
// Coordinator.mu (a rebalance must not wait for a checkpoint to claim), and
// the commit reads them. next and committed are guarded by Coordinator.mu:
// only the intake, the checkpoints and Revoked (all under it) touch them.
// Lock order: Coordinator.mu, then mu; mu is held for map operations only.
type kafkaPartitions struct {
	// Guarded by Coordinator.mu.
	next      map[int32]int64 // next offset per owned partition, as processed
	committed map[int32]int64 // next offset per owned partition, as last committed

	mu        sync.Mutex
	claims    map[int32]int64 // owner claims held (Table.Claim's sequence); nil: never assigned through StartOffsets
	fromTable map[int32]int64 // next offsets the table held when the partitions were assigned
}

func newKafkaPartitions() kafkaPartitions {
	return kafkaPartitions{next: map[int32]int64{}, committed: map[int32]int64{}}
}

// claimed records the owner claims acquired for newly assigned partitions
// (StartOffsets; Coordinator.mu not held).
func (k *kafkaPartitions) claimed(held map[int32]int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.claims == nil {
		k.claims = map[int32]int64{}
	}
	maps.Copy(k.claims, held)
}

// assigned records the next offsets the table held for newly assigned
// partitions (StartOffsets; Coordinator.mu not held). A partition the
// table has no offset for forgets any it had.
func (k *kafkaPartitions) assigned(partitions []int32, fromTable map[int32]int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fromTable == nil {
		k.fromTable = map[int32]int64{}
	}
	for _, p := range partitions {
		delete(k.fromTable, p)
	}
	maps.Copy(k.fromTable, fromTable)
}

// heldClaims returns the owner claims held (nil when partitions were never
// assigned through StartOffsets, as with a source without a group).
func (k *kafkaPartitions) heldClaims() map[int32]int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.claims == nil {
		return nil
	}
	return maps.Clone(k.claims)
}

// advance records that partition's next offset, as processed, is next.
// Coordinator.mu is held.
func (k *kafkaPartitions) advance(partition int32, next int64) { k.next[partition] = next }

// allPositioned reports whether every claimed partition has a next offset
// already (false before claims are known). Coordinator.mu is held.
func (k *kafkaPartitions) allPositioned() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.claims == nil {
		return false
	}
	for p := range k.claims {
		if _, ok := k.next[p]; !ok {
			return false
		}
	}
	return true
}

// notePositions gives every owned partition without a next offset yet the
// source's position pos (Source.Positions). It skips a partition whose
// claim is not held (revoked, not yet disowned by the source) and one
// listed reports false for (the open instant does not list it: the next
// instant will). A position the table already holds counts as committed:
// no checkpoint is made just for it. Coordinator.mu is held.
func (k *kafkaPartitions) notePositions(pos map[int32]int64, listed func(partition int32) bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for p, next := range pos {
		if _, ok := k.next[p]; ok || next < 0 {
			continue
		}
		if _, ok := k.claims[p]; k.claims != nil && !ok {
			continue
		}
		if !listed(p) {
			continue
		}
		k.next[p] = next
		if at, ok := k.fromTable[p]; ok && at == next {
			k.committed[p] = next
		}
	}
}

// moved reports whether a partition's offset moved since the last commit.
// Coordinator.mu is held.
func (k *kafkaPartitions) moved() bool {
	for p, n := range k.next {
		if k.committed[p] != n {
			return true
		}
	}
	return false
}

// nextOffsets returns a copy of the next offsets, as processed.
// Coordinator.mu is held.
func (k *kafkaPartitions) nextOffsets() map[int32]int64 { return maps.Clone(k.next) }

// markCommitted records that the next offsets were committed.
// Coordinator.mu is held.
func (k *kafkaPartitions) markCommitted() { k.committed = maps.Clone(k.next) }

// uncommittedBesides returns, sorted, the partitions other than these
// whose offsets moved since the last commit. Coordinator.mu is held.
func (k *kafkaPartitions) uncommittedBesides(partitions []int32) []int32 {
	var out []int32
	for p, n := range k.next {
		if !slices.Contains(partitions, p) && k.committed[p] != n {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// rewind forgets what was processed since the last commit: the rows are
// abandoned, and offsets past them must never be committed.
// Coordinator.mu is held.
func (k *kafkaPartitions) rewind() { k.next = maps.Clone(k.committed) }

// drop forgets partitions that left this process. Coordinator.mu is held.
func (k *kafkaPartitions) drop(partitions []int32) {
	for _, p := range partitions {
		delete(k.next, p)
		delete(k.committed, p)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range partitions {
		delete(k.claims, p)
		delete(k.fromTable, p)
	}
}
