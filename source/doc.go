// Package source is ingestd's Kafka side: a group consumer (Reader) of one
// topic whose start offsets come from the table, and a dead-letter producer
// (DeadLetter).
//
// Exactly once. The table is the only source of truth for positions: every
// table commit carries the next offset of every partition, and a partition
// newly assigned to a Reader starts where the table says (Hooks.StartOffsets),
// never at the consumer group's committed offset. The group's committed
// offsets are written after table commits, in the background
// (QueueGroupOffsets; a table commit never waits for the group), only so
// that ordinary lag tools work. A fetch that goes back (franz-go resetting
// an offset the broker called out of range) never hands an offset out twice.
//
// Rebalances. The Reader uses franz-go's BlockRebalanceOnPoll: between a Poll
// that returned records and the following AllowRebalance no partition is
// assigned, revoked or lost. Revocation therefore reaches the pipeline
// (Hooks.Revoked) only between polls, and for a classic cooperative or eager
// group it runs before the partitions can be assigned to another member:
// that member is only given them in the rebalance this member joins after
// its Revoked hook has returned. When the group session ends on an error
// (the member was presumed dead, or the coordinator was unreachable, as in
// a broker restart) franz-go reports every owned partition lost and
// rejoins; the Reader goes on, and partitions assigned again start where
// the table says. Start offsets are looked up with backoff for as long as
// the session lasts.
//
// Membership. WithStaticMember makes the Reader a static member
// (group.instance.id): a restart with the same ID takes its partitions back
// without a rebalance, and Close does not leave the group unless
// WithLeaveOnClose. WithGroupProtocol chooses the classic protocol or
// KIP-848's (GroupProtocolConsumer), under which ReleaseStaticMember lets a
// restart take over a crashed process's membership. CloseContext bounds
// the leave; Check waits for the brokers at start (refusing bad credentials or certificates at once). Besides
// franz-go's own, a Reader runs one goroutine (background group offset
// commits), and CloseContext one for the Close it bounds.
//
// Fairness. franz-go's PollRecords drains buffered fetches in the order the
// brokers answered. Poll instead moves fetched records into one queue per
// partition and hands them out round-robin (see rrBuffer), each partition
// within a quota per Poll (Config.MaxPartitionRecords, MaxPartitionBytes),
// so a partition with a large backlog never has more than its quota of a
// Poll. Fetching of a partition is paused (franz-go PauseFetchPartitions)
// while more than Config.PartitionBufferBytes of it is queued, and resumed
// below half. franz-go drops the records it had buffered for a partition
// when it is paused and fetches them again on resume, from right after the
// last record queued here; Poll decides pauses between fetches on its own
// goroutine so that nothing is skipped or returned twice (and a repeated
// record would be dropped by the queue).
//
// Event time. The Reader does not decode values: the pipeline reports each
// record's event time with ObserveEventTime (lock free). With
// Config.MaxEventTimeSkew a partition running ahead of the slowest active one
// is paused and its queued records held back until the others catch up.
// Watermark is the minimum event time over the active partitions minus
// Config.OutOfOrderness; a partition that is caught up and had no record for
// Config.IdleTimeout is idle and holds nothing back, a partition with records
// left to read never is. PartitionStates reports positions, high watermarks,
// lag, pauses, idleness, event times and byte counts per partition.
//
// Security. Config.Security and DeadLetterConfig.Security (TLS: CA,
// client certificate, server name; SASL: PLAIN, SCRAM-SHA-256/512,
// AWS_MSK_IAM through franz-go's sasl/aws and the AWS default credential
// chain) give every client the same options (connOpts). Security.Validate
// reads and parses every file it names; passwords are Secrets, which print
// as REDACTED. Check connects once as the clients will and turns a refusal
// (SASL authentication failed, an untrusted or misnamed certificate, a
// TLS/SASL mismatch) into a ConnectError at once, where franz-go would retry
// in the background; it starts no goroutine that outlives it.
//
// Transactions. Records are read with read_committed. Control records
// (transaction markers) are kept internally only to advance the position used
// by Lag, so that lag reaches zero on a transactional topic; they are never
// returned by Poll.
package source
