package writer

// The Hudi meta columns: their names, and the values of those a checkpoint
// fills (the commit time and the sequence number prefix); a file's own
// constants (partition path, file name) are made with the file (file.go).

import (
	"fmt"

	"github.com/parquet-go/parquet-go"
)

// The Hudi meta columns. They must be the first five leaf columns of the
// schema: top-level, optional BYTE_ARRAY (strings).
const (
	ColCommitTime    = "_hoodie_commit_time"
	ColCommitSeqno   = "_hoodie_commit_seqno"
	ColRecordKey     = "_hoodie_record_key"
	ColPartitionPath = "_hoodie_partition_path"
	ColFileName      = "_hoodie_file_name"
)

// MetaColumns lists the meta columns in Hudi's order.
var MetaColumns = [5]string{ColCommitTime, ColCommitSeqno, ColRecordKey, ColPartitionPath, ColFileName}

// Footer key-value metadata keys Hudi reads for key range pruning.
const (
	MetaMinRecordKey = "hoodie_min_record_key"
	MetaMaxRecordKey = "hoodie_max_record_key"
)

// checkpointMeta is the meta column values of one checkpoint.
type checkpointMeta struct {
	instant  parquet.Value // _hoodie_commit_time, levels set
	seqno    []byte        // <instant>_<worker>_, followed by a record index while one is made
	seqnoLen int           // length of the prefix
}

// begin sets the values of instant for worker.
func (m *checkpointMeta) begin(sh *rowShape, instant string, worker int) {
	m.instant = parquet.ByteArrayValue([]byte(instant)).Level(0, 1, sh.metaIdx[0])
	m.seqno = fmt.Appendf(m.seqno[:0], "%s_%d_", instant, worker)
	m.seqnoLen = len(m.seqno)
}

// seqnoPrefix is <instant>_<worker>_.
func (m *checkpointMeta) seqnoPrefix() []byte { return m.seqno[:m.seqnoLen] }
