package writer

// The checkpoint being written, with the values of the Hudi meta columns
// it fills (the commit time and the sequence numbers; the names are
// hudimeta's); a file's own constants (partition path, file name) are made
// with the file (files.go).

import (
	"fmt"
	"strconv"

	"github.com/parquet-go/parquet-go"
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
