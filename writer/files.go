package writer

// Making a Set's files (their names, spool files, encoders and the values
// of the columns fixed for each) and finishing them for their upload.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go"
)

// fileMaker makes the files of one Set.
type fileMaker struct {
	worker          int
	shape           *rowShape
	spool           *spool
	encs            *encoders
	now             func() time.Time
	layout          table.Layout                          // WithLayout
	partitionValues func(bucket string) ([][]byte, error) // WithPartitionColumns
	seq             int                                   // files made since begin (the <n> of the write token)
	stats           bool                                  // WithFileStats
	log             *slog.Logger
	schema          json.RawMessage // the Iceberg schema of the last file described, shared by the files that have the same
}

// newFileMaker makes the files of worker, spooled to sp and encoded by
// encs, with the options that shape a file (clock, layout, partition
// values, file stats).
func newFileMaker(worker int, sp *spool, encs *encoders, o *options) fileMaker {
	return fileMaker{worker: worker, spool: sp, encs: encs, now: o.now, layout: o.layout,
		partitionValues: o.partitionValues, stats: o.fileStats, log: o.logger}
}

// begin starts the count of the files of a checkpoint.
func (m *fileMaker) begin() { m.seq = 0 }

// make makes a new file of bucket for checkpoint cp.
func (m *fileMaker) make(bucket string, cp *checkpointMeta) (*file, error) {
	df, err := m.layout.NewFile(bucket, table.FileSpec{Instant: cp.instant, Checkpoint: cp.id, Worker: m.worker, Seq: m.seq})
	if err != nil {
		return nil, fmt.Errorf("writer: bucket %s: %w", bucket, err)
	}
	sh := m.shape
	f := &file{
		bucket:   bucket,
		fileID:   df.ID,
		name:     df.Name,
		key:      df.Key,
		openedAt: m.now().UnixNano(),
	}
	for _, c := range m.layout.Constants(df) {
		switch c.Column {
		case hudimeta.ColPartitionPath:
			f.bucketValue = parquet.ByteArrayValue(c.Value).Level(0, 1, sh.metaIdx[3])
		case hudimeta.ColFileName:
			f.nameValue = parquet.ByteArrayValue(c.Value).Level(0, 1, sh.metaIdx[4])
		default:
			return nil, fmt.Errorf("writer: the layout's constant column %s is not one the writer fills", c.Column)
		}
	}
	if err := m.spool.open(&f.spool); err != nil {
		return nil, fmt.Errorf("writer: create spool file: %w", err)
	}
	m.seq++
	if len(sh.partCols) > 0 {
		values, err := m.partitionValues(bucket)
		if err == nil && len(values) != len(sh.partCols) {
			err = fmt.Errorf("%d values for %d partition columns", len(values), len(sh.partCols))
		}
		if err != nil {
			_ = f.discard()
			return nil, fmt.Errorf("writer: bucket %s: %w", bucket, err)
		}
		for i, v := range values {
			pv := parquet.Value{}.Level(0, 0, sh.partCols[i])
			if v != nil {
				pv = parquet.ByteArrayValue(v).Level(0, 1, sh.partCols[i])
			}
			f.partColValues = append(f.partColValues, pv)
		}
	}
	if f.enc, err = m.encs.get(); err != nil {
		_ = f.discard()
		return nil, fmt.Errorf("writer: new encoder: %w", err)
	}
	f.enc.reset(&f.spool.count)
	if f.generated, err = f.enc.generate(sh.metaIdx, cp.instantValue, f.bucketValue, f.nameValue, cp.seqnoPrefix(), sh.partCols, f.partColValues); err != nil {
		_ = f.discard()
		return nil, fmt.Errorf("writer: %s: %w", f.key, err)
	}
	return f, nil
}

// sharedBytes is the memory of the dictionary tables the open files share
// (a cache across files: counted while files use it).
func (m *fileMaker) sharedBytes(openFiles int) int64 {
	if m.encs.shared == nil || openFiles == 0 {
		return 0
	}
	return m.encs.shared.MemoryBytes()
}

// releaseShared drops the shared dictionary tables.
func (m *fileMaker) releaseShared() { m.encs.shared.Release() }

// close drops the encoders and spool buffers kept for reuse.
func (m *fileMaker) close() { m.encs.free, m.spool.bufs = nil, nil }

// finish finishes f's Parquet file in its spool file, ready for upload, and
// keeps its encoder for reuse. After an error the file is discarded.
func (m *fileMaker) finish(f *file) error {
	minKey, maxKey := m.layout.KeyRangeFooter()
	enc, tail, err := f.close(minKey, maxKey, m.stats)
	if err != nil {
		return err
	}
	m.encs.put(enc)
	if m.stats {
		m.describe(f, tail)
	}
	return nil
}

// describe records f's Iceberg schema and column metrics from tail, the
// end of its file (the page index and the footer). A footer that cannot
// be described leaves f without them: the Iceberg publisher then reads
// the footers of its instant back.
func (m *fileMaker) describe(f *file, tail []byte) {
	md, err := filestats.FooterFromTail(tail)
	var schema json.RawMessage
	var cols []filestats.Column
	if err == nil {
		schema, cols, err = filestats.FromFooter(md)
	}
	if err == nil && md.NumRows != f.records {
		err = fmt.Errorf("footer holds %d rows, the writer wrote %d", md.NumRows, f.records)
	}
	if err != nil {
		m.log.Warn("file without column metrics: the Iceberg publisher will read its footer", "key", f.key, "err", err)
		return
	}
	if bytes.Equal(schema, m.schema) {
		schema = m.schema
	} else {
		m.schema = schema
	}
	f.stats = &Stats{Schema: schema, Columns: cols}
}
