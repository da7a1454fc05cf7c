package writer

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"os"
	"strings"

	"github.com/lakestream/lakestream/commitlog"
	"github.com/parquet-go/parquet-go"
)

// NoEventTime, passed to Set.Write as the event time, says the record has
// none: it is left out of the file's event time range.
const NoEventTime = math.MinInt64

// File is a finished base file, uploaded to its final key.
type File struct {
	// Path is the object key relative to the table root:
	// <Partition>/<fileId>_<writeToken>_<instant>.parquet.
	Path      string
	FileID    string
	Partition string
	Records   int64
	SizeBytes int64
	// MinEventTime and MaxEventTime (microseconds) are valid if Records > 0
	// and HasEventTime, that is if at least one record had an event time.
	MinEventTime, MaxEventTime int64
	HasEventTime               bool
}

// Stat returns the commit's description of the file: a new file group
// (no previous commit), its record count and event time range.
func (f File) Stat() commitlog.FileStat {
	st := commitlog.FileStat{Path: f.Path, NumRecords: f.Records}
	if f.Records > 0 && f.HasEventTime {
		lo, hi := f.MinEventTime, f.MaxEventTime
		st.MinEventTime, st.MaxEventTime = &lo, &hi
	}
	return st
}

// countingWriter counts the bytes the encoder emitted, which is its write
// offset: the encoder has no output buffer of its own, so the difference
// between its size and this count is its buffered row group.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// spoolBufferSize is the write buffer between a parquet writer and its
// spool file.
const spoolBufferSize = 256 << 10

// file is one base file: open (being written), pending (closed, complete in
// its spool file, not uploaded yet) or done.
type file struct {
	partition string
	fileID    string
	name      string // base file name
	key       string // object key: partition/name

	spoolPath string
	spool     *os.File // kept open until uploaded: a swept name does not lose the data
	buf       *bufio.Writer
	count     countingWriter
	enc       encoder // nil once closed
	generated bool    // enc makes the commit time, sequence, partition and file name columns

	openedAt  int64  // clock, unix nanoseconds
	lastWrite uint64 // Set.tick of the last write, for LRU
	rowBytes  int64  // Size growth per row of the last WriteBatch run

	records      int64
	size         int64 // bytes, once closed
	hasEventTime bool
	minEventTime int64
	maxEventTime int64
	minKey       []byte
	maxKey       []byte

	// Values of the meta columns fixed for the file, levels set.
	partitionValue parquet.Value
	nameValue      parquet.Value
	partValues     []parquet.Value // of the partition columns (Set.partCols)
}

// bufferedBytes is the memory of the file's encoder: the capacity of its
// page buffers, encoded pages and dictionaries (parquetfile), or the length
// of its buffered row group (parquet-go).
func (f *file) bufferedBytes() int64 {
	if f.enc == nil {
		return 0
	}
	return f.enc.memory(f.count.n)
}

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

func (f *file) info() File {
	// FileID and Partition are parts of the key: one allocation per file,
	// not three.
	part, fileID := f.partition, f.fileID
	if strings.HasPrefix(f.key, part+"/") {
		part = f.key[:len(part)]
		if name := f.key[len(part)+1:]; strings.HasPrefix(name, fileID) {
			fileID = name[:len(fileID)]
		}
	}
	return File{
		Path:         f.key,
		FileID:       fileID,
		Partition:    part,
		Records:      f.records,
		SizeBytes:    f.size,
		MinEventTime: f.minEventTime,
		MaxEventTime: f.maxEventTime,
		HasEventTime: f.hasEventTime,
	}
}

// discard closes and removes the spool file. It is for files that will not
// be uploaded (any more).
func (f *file) discard() error {
	var err error
	if f.spool != nil {
		err = f.spool.Close()
		f.spool = nil
		if rmErr := os.Remove(f.spoolPath); rmErr != nil && !os.IsNotExist(rmErr) && err == nil {
			err = rmErr
		}
	}
	f.enc = nil
	return err
}
