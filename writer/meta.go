package writer

// The Hudi meta columns: their names, and the checkpoint being written with
// the values of those it fills (the commit time and the sequence numbers);
// a file's own constants (partition path, file name) are made with the file
// (files.go).

import (
	"fmt"
	"strconv"

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

// checkpointMeta is the checkpoint being written and the meta column
// values of its files.
type checkpointMeta struct {
	instant      string
	id           int64
	instantValue parquet.Value // _hoodie_commit_time, levels set
	seqno        []byte        // <instant>_<worker>_, followed by a record index while one is made
	seqnoLen     int           // length of the prefix
}

// begin starts checkpoint id of instant, for worker.
func (m *checkpointMeta) begin(sh *rowShape, instant string, id int64, worker int) {
	m.instant, m.id = instant, id
	m.instantValue = parquet.ByteArrayValue([]byte(instant)).Level(0, 1, sh.metaIdx[0])
	m.seqno = fmt.Appendf(m.seqno[:0], "%s_%d_", instant, worker)
	m.seqnoLen = len(m.seqno)
}

// seqnoPrefix is <instant>_<worker>_.
func (m *checkpointMeta) seqnoPrefix() []byte { return m.seqno[:m.seqnoLen] }

// seqnoOf returns the sequence number of record n of a file, valid until
// the next call.
func (m *checkpointMeta) seqnoOf(n int64) []byte {
	m.seqno = strconv.AppendInt(m.seqno[:m.seqnoLen], n, 10)
	return m.seqno
}
