// Package bucketing decides where a record goes: its bucket (the partition
// path of the table, by default dt=YYYY-MM-DD/hr=HH of its event time in UTC)
// and the worker that writes that bucket. Partition values are sanitized so
// that no record can make a path outside the table root, and buckets map to
// workers through key groups so that every worker gets the same share.
//
// A hot bucket (in a live stream, the current hour) would serialize onto its
// one worker, so Router.Route splits it: a bucket with more than the hot
// share of the recent records is spread over several workers by a hash of
// each record, each writing its own file group, while cold buckets stay on
// their home worker (hotness.go, router_options.go).
package bucketing
