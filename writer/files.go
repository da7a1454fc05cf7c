package writer

// Making a Set's files (their names, spool files, encoders and the values
// of the columns fixed for each) and finishing them for their upload.

import (
	"fmt"
	"time"

	"github.com/lakestream/lakestream/table/hudi"
	"github.com/parquet-go/parquet-go"
)

// fileMaker makes the files of one Set.
type fileMaker struct {
	worker          int
	shape           *rowShape
	spool           *spool
	encs            *encoders
	now             func() time.Time
	partitionValues func(bucket string) ([][]byte, error) // WithPartitionColumns
	seq             int                                   // files made since begin (the <n> of the write token)
}

// begin starts the count of the files of a checkpoint.
func (m *fileMaker) begin() { m.seq = 0 }

// make makes a new file of bucket for checkpoint cp.
func (m *fileMaker) make(bucket string, cp *checkpointMeta) (*file, error) {
	fileID := hudi.NewFileID()
	name := hudi.BaseFileName(fileID, hudi.WriteToken(m.worker, cp.id, m.seq), cp.instant)
	if _, _, _, ok := hudi.ParseBaseFileName(name); !ok {
		return nil, fmt.Errorf("writer: base file name %q is not valid", name) // unreachable
	}
	sh := m.shape
	f := &file{
		bucket:      bucket,
		fileID:      fileID,
		name:        name,
		key:         hudi.BaseFilePath(bucket, name),
		openedAt:    m.now().UnixNano(),
		bucketValue: parquet.ByteArrayValue([]byte(bucket)).Level(0, 1, sh.metaIdx[3]),
		nameValue:   parquet.ByteArrayValue([]byte(name)).Level(0, 1, sh.metaIdx[4]),
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
	var err error
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
	enc, err := f.close()
	if err != nil {
		return err
	}
	m.encs.put(enc)
	return nil
}
