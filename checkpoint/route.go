package checkpoint

import "github.com/lakestream/lakestream/bucketing"

// router picks the worker of a row from its bucket (partition path). A hot
// bucket is spread over several workers (bucketing.Router.Route), each
// writing its own files; a Kafka partition's records stay in offset order
// within each worker. Without hot buckets a bucket's worker is fixed: the
// last one is remembered (the partitioner returns the same string for the
// same hour, so the comparison is a pointer check). Used by the intake
// only (Coordinator.mu held).
type router struct {
	r          *bucketing.Router
	hotSplit   bool   // the router splits hot buckets
	lastBucket string // the last bucket routed without a split, and its worker
	lastWorker int
}

func newRouter(r *bucketing.Router) router {
	return router{r: r, hotSplit: r.HotSplit().Enabled, lastWorker: -1}
}

// worker returns the worker of a row of bucket read at partition and
// offset. The common case, a bucket routed as the last row's without a
// split, is inlined into the intake's per-row loop.
func (rt *router) worker(bucket string, partition int32, offset int64) int {
	if !rt.hotSplit && rt.lastWorker >= 0 && bucket == rt.lastBucket {
		return rt.lastWorker
	}
	return rt.route(bucket, partition, offset)
}

// route is worker's slow path: a hot bucket's split, or a bucket other
// than the last one's.
func (rt *router) route(bucket string, partition int32, offset int64) int {
	if rt.hotSplit {
		return rt.r.Route(bucket, bucketing.OffsetHash(partition, offset))
	}
	w := rt.r.Worker(bucket)
	rt.lastBucket, rt.lastWorker = bucket, w
	return w
}
