// Package hudimeta defines, once, the names Hudi gives to the columns and
// footer keys it reads from every base file: the five meta columns and the
// record key range. It is a leaf (it imports nothing), so the packages that
// build schemas (schemas), write files (writer), merge files
// (internal/parquetfile) and read the table (table/hudi, iceberg) share the
// names without depending on one another. It starts no goroutines.
package hudimeta

// The Hudi meta columns. They are the first five leaf columns of every base
// file, in this order: top-level, optional BYTE_ARRAY (strings).
const (
	ColCommitTime    = "_hoodie_commit_time"
	ColCommitSeqNo   = "_hoodie_commit_seqno"
	ColRecordKey     = "_hoodie_record_key"
	ColPartitionPath = "_hoodie_partition_path"
	ColFileName      = "_hoodie_file_name"
)

// NumColumns is the number of meta columns.
const NumColumns = 5

// Columns lists the meta columns in Hudi's order.
var Columns = [NumColumns]string{ColCommitTime, ColCommitSeqNo, ColRecordKey, ColPartitionPath, ColFileName}

// Footer key-value metadata keys Hudi reads for key range pruning: the
// smallest and the largest record key of the file.
const (
	MinRecordKey = "hoodie_min_record_key"
	MaxRecordKey = "hoodie_max_record_key"
)
