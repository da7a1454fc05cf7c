// Package source is ingestd's Kafka side: a group consumer (Reader) of one
// topic whose start offsets come from the table, and a dead-letter producer
// (DeadLetter).
//
// Exactly once. The table is the only source of truth for positions: every
// table commit carries the next offset of every partition, and a partition
// newly assigned to a Reader starts where the table says (Hooks.StartOffsets),
// never at the consumer group's committed offset. The group's committed
// offsets are written after table commits (CommitGroupOffsets) only so that
// ordinary lag tools work.
//
// Rebalances. The Reader uses franz-go's BlockRebalanceOnPoll: between a Poll
// that returned records and the following AllowRebalance no partition is
// assigned, revoked or lost. Revocation therefore reaches the pipeline
// (Hooks.Revoked) only between polls, and for a classic cooperative or eager
// group it runs before the partitions can be assigned to another member:
// that member is only given them in the rebalance this member joins after
// its Revoked hook has returned.
//
// Fairness. franz-go's PollRecords drains buffered fetches in the order the
// brokers answered. Poll instead moves fetched records into one queue per
// partition and hands them out round-robin (see rrBuffer), the place where
// per-partition quotas and pause/resume will go.
//
// Transactions. Records are read with read_committed. Control records
// (transaction markers) are kept internally only to advance the position used
// by Lag, so that lag reaches zero on a transactional topic; they are never
// returned by Poll.
package source
