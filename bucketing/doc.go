// Package bucketing decides where a record goes: its bucket (the partition
// path of the table, by default dt=YYYY-MM-DD/hr=HH of its event time in UTC)
// and the worker that writes that bucket. Partition values are sanitized so
// that no record can make a path outside the table root, and buckets map to
// workers through key groups so that every worker gets the same share.
package bucketing
