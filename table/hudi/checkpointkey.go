package hudi

import "github.com/lakestream/lakestream/table/fence"

// Keys lakestream puts in a commit's extraMetadata.
const (
	// MetaSchema holds the table's Avro schema (what Hudi itself writes).
	MetaSchema = "schema"
	// MetaCheckpointKey holds the next offset of every Kafka partition the
	// commit covers, in HoodieStreamer's form "topic,0:next,1:next".
	MetaCheckpointKey = "deltastreamer.checkpoint.key"
	// MetaWriterID names the writer (an ingestd replica or the compactor).
	MetaWriterID = "lakestream.writer.id"
	// MetaCheckpointID is the writer's checkpoint sequence number.
	MetaCheckpointID = "lakestream.checkpoint.id"
)

// Offsets are the next offsets to read, per partition of one topic
// (fence.Offsets); String renders them as HoodieStreamer's checkpoint key.
type Offsets = fence.Offsets

// ValidateTopic reports whether name is a legal Kafka topic name.
func ValidateTopic(name string) error { return fence.ValidateTopic(name) }

// ParseCheckpointKey parses "topic,0:next,1:next". Partitions and offsets
// must be non-negative and each partition appear once.
func ParseCheckpointKey(s string) (Offsets, error) { return fence.ParseOffsets(s) }
