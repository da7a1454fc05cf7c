package writer

// One base file: File, what Finish returns of an uploaded one, and file,
// one being written (its identity, its encoder and spool file, the
// statistics of its records), pending its upload, or uploaded.

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/parquet-go/parquet-go"
)

// NoEventTime, passed to Set.Write as the event time, says the record has
// none: it is left out of the file's event time range.
const NoEventTime = math.MinInt64

// File is a finished base file, uploaded to its final key.
type File struct {
	// Path is the object key relative to the table root:
	// <PartitionPath>/<fileId>_<writeToken>_<instant>.parquet.
	Path          string
	FileID        string
	PartitionPath string // the Hudi partition path (the bucket), not a Kafka partition
	Records       int64
	SizeBytes     int64
	// MinEventTime and MaxEventTime (microseconds) are valid if Records > 0
	// and HasEventTime, that is if at least one record had an event time.
	MinEventTime, MaxEventTime int64
	HasEventTime               bool
	// Stats are the file's Iceberg schema and column metrics, nil unless
	// WithFileStats (or if its footer could not be described).
	Stats *Stats
}

// Stats are what an Iceberg manifest entry and the stats sidecar
// (filestats.WriteSidecar) hold of a file beyond its record count and
// size, as filestats.FromFooter makes them of the footer the writer wrote.
type Stats struct {
	// Schema is the Iceberg schema (JSON, with the Parquet field IDs) of
	// the file's rows. Files of one Set share its bytes while it does not
	// change.
	Schema json.RawMessage
	// Columns are the metrics of the file's columns.
	Columns []filestats.Column
}

// Stat returns the commit's description of the file: a new file group
// (no previous commit), its record count and event time range.
func (f File) Stat() hudi.FileStat {
	st := hudi.FileStat{Path: f.Path, NumRecords: f.Records}
	if f.Records > 0 && f.HasEventTime {
		lo, hi := f.MinEventTime, f.MaxEventTime
		st.MinEventTime, st.MaxEventTime = &lo, &hi
	}
	return st
}

// file is one base file: open (being written), pending (closed, complete in
// its spool file, not uploaded yet) or done.
type file struct {
	bucket string // partition path
	fileID string
	name   string // base file name
	key    string // object key: bucket/name

	spool     spoolFile
	enc       encoder // nil once closed
	generated bool    // enc makes the commit time, sequence, partition path, file name and partition columns

	openedAt  int64  // clock, unix nanoseconds
	lastWrite uint64 // Set.tick of the last write, for LRU
	rowBytes  int64  // size growth per row of the last run

	records      int64
	size         int64 // bytes, once closed
	hasEventTime bool
	minEventTime int64
	maxEventTime int64
	minKey       []byte
	maxKey       []byte

	stats *Stats // WithFileStats: of the closed file

	// Values of the columns fixed for the file, levels set.
	bucketValue   parquet.Value   // _hoodie_partition_path
	nameValue     parquet.Value   // _hoodie_file_name
	partColValues []parquet.Value // of the partition columns (rowShape.partCols)
}

// bufferedBytes is the memory of the file's encoder: the capacity of its
// page buffers, encoded pages and dictionaries (parquetfile), or the length
// of its buffered row group (parquet-go).
func (f *file) bufferedBytes() int64 {
	if f.enc == nil {
		return 0
	}
	return f.enc.memory(f.spool.written())
}

// bufferedRowGroup is the size of the file's buffered row group: what its
// encoder holds beyond what it wrote to the spool.
func (f *file) bufferedRowGroup() int64 { return f.enc.size() - f.spool.written() }

// observe updates the file's statistics with one written record.
func (f *file) observe(key []byte, eventTime int64) {
	if f.records == 0 {
		f.minKey = append(f.minKey[:0], key...)
		f.maxKey = append(f.maxKey[:0], key...)
	} else if bytes.Compare(key, f.minKey) < 0 {
		f.minKey = append(f.minKey[:0], key...)
	} else if bytes.Compare(key, f.maxKey) > 0 {
		f.maxKey = append(f.maxKey[:0], key...)
	}
	if eventTime != NoEventTime {
		if !f.hasEventTime {
			f.hasEventTime = true
			f.minEventTime, f.maxEventTime = eventTime, eventTime
		} else if eventTime < f.minEventTime {
			f.minEventTime = eventTime
		} else if eventTime > f.maxEventTime {
			f.maxEventTime = eventTime
		}
	}
	f.records++
}

// close finishes the Parquet file in its spool file, with its record key
// range under the footer keys minKey and maxKey, and records its size.
// The encoder is returned for reuse; on an error the file is discarded.
// With keepTail, the last row group is flushed first, and what the
// encoder writes then (the page index and the footer) is returned.
func (f *file) close(minKey, maxKey string, keepTail bool) (encoder, []byte, error) {
	enc := f.enc
	enc.setKeyValue(minKey, string(f.minKey))
	enc.setKeyValue(maxKey, string(f.maxKey))
	var err error
	if keepTail {
		if err = enc.flush(); err == nil {
			f.spool.count.keep = true
		}
	}
	if err == nil {
		err = enc.close()
	}
	tail := f.spool.count.kept
	f.spool.count.keep, f.spool.count.kept = false, nil
	var size int64
	if err == nil {
		size, err = f.spool.finish()
	}
	if err != nil {
		_ = f.discard()
		return nil, nil, err
	}
	f.size = size
	f.enc = nil
	return enc, tail, nil
}

func (f *file) info() File {
	// FileID and Partition are parts of the key: one allocation per file,
	// not three.
	bucket, fileID := f.bucket, f.fileID
	if strings.HasPrefix(f.key, bucket+"/") {
		bucket = f.key[:len(bucket)]
		if name := f.key[len(bucket)+1:]; strings.HasPrefix(name, fileID) {
			fileID = name[:len(fileID)]
		}
	}
	return File{
		Path:          f.key,
		FileID:        fileID,
		PartitionPath: bucket,
		Records:       f.records,
		SizeBytes:     f.size,
		MinEventTime:  f.minEventTime,
		MaxEventTime:  f.maxEventTime,
		HasEventTime:  f.hasEventTime,
		Stats:         f.stats,
	}
}

// discard closes and removes the spool file. It is for files that will not
// be uploaded (any more).
func (f *file) discard() error {
	err := f.spool.discard()
	f.enc = nil
	return err
}
