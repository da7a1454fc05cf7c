package metrics

import (
	"sync/atomic"
	"time"
)

// StorageRequests counts the table storage's requests by operation and
// outcome class, with their total time: its Observe is the callback of
// objstore.Observe, and Stats feeds Sources.Storage. The operations and
// classes are fixed when it is made (objstore.ObserveOps and
// objstore.ErrorClasses), so counting is a pair of atomic adds, whatever
// the number of requests. Safe for concurrent use.
type StorageRequests struct {
	ops, classes []string
	opIndex      map[string]int
	classIndex   map[string]int
	classify     func(error) string
	counts       []atomic.Int64
	nanos        []atomic.Int64
}

// NewStorageRequests counts requests of the operations ops, their outcomes
// classified by classify into one of classes (an unknown operation or class
// counts as the last of each list: make those "other").
func NewStorageRequests(ops, classes []string, classify func(error) string) *StorageRequests {
	s := &StorageRequests{ops: ops, classes: classes, classify: classify,
		opIndex: map[string]int{}, classIndex: map[string]int{}}
	for i, op := range ops {
		s.opIndex[op] = i
	}
	for i, c := range classes {
		s.classIndex[c] = i
	}
	n := len(ops) * len(classes)
	s.counts = make([]atomic.Int64, n)
	s.nanos = make([]atomic.Int64, n)
	return s
}

// Observe counts one request of op that took d and ended with err.
func (s *StorageRequests) Observe(op string, d time.Duration, err error) {
	if len(s.counts) == 0 {
		return
	}
	o, ok := s.opIndex[op]
	if !ok {
		o = len(s.ops) - 1
	}
	c, ok := s.classIndex[s.classify(err)]
	if !ok {
		c = len(s.classes) - 1
	}
	i := o*len(s.classes) + c
	s.counts[i].Add(1)
	s.nanos[i].Add(int64(d))
}

// StorageStat counts the requests of one operation and outcome class.
type StorageStat struct {
	Op, Class string
	Requests  int64
	Duration  time.Duration // total
}

// Stats returns the counts of every operation and class seen so far.
func (s *StorageRequests) Stats() []StorageStat {
	var out []StorageStat
	for i := range s.counts {
		if n := s.counts[i].Load(); n > 0 {
			out = append(out, StorageStat{Op: s.ops[i/len(s.classes)], Class: s.classes[i%len(s.classes)],
				Requests: n, Duration: time.Duration(s.nanos[i].Load())})
		}
	}
	return out
}
