package hudi

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"io"
	"maps"
	"slices"
)

// WriteTo writes the metadata as Marshal renders it (indented JSON, byte
// for byte), one write stat at a time: a commit of 100,000 files is about
// 100 MB of JSON, which is never held in memory whole.
func (m *CommitMetadata) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	e := metadataEncoder{w: bw}
	e.str("{\n  \"partitionToWriteStats\": ")
	if len(m.PartitionToWriteStats) == 0 {
		e.str("{}")
	} else {
		e.str("{\n")
		parts := slices.Sorted(maps.Keys(m.PartitionToWriteStats))
		for i, part := range parts {
			e.str("    ")
			e.json(part, "", "")
			e.str(": ")
			switch stats := m.PartitionToWriteStats[part]; {
			case stats == nil:
				e.str("null")
			case len(stats) == 0:
				e.str("[]")
			default:
				e.str("[\n")
				for j := range stats {
					e.str("      ")
					e.json(&stats[j], "      ", "  ")
					e.sep(j, len(stats))
				}
				e.str("    ]")
			}
			e.sep(i, len(parts))
		}
		e.str("  }")
	}
	e.str(",\n  \"compacted\": ")
	e.json(m.Compacted, "", "")
	e.str(",\n  \"extraMetadata\": ")
	if m.ExtraMetadata == nil {
		e.str("{}")
	} else {
		e.json(m.ExtraMetadata, "  ", "  ")
	}
	e.str(",\n  \"operationType\": ")
	e.json(m.OperationType, "", "")
	if len(m.PartitionToReplaceFileIDs) > 0 {
		e.str(",\n  \"partitionToReplaceFileIds\": ")
		e.json(m.PartitionToReplaceFileIDs, "  ", "  ")
	}
	e.str("\n}")
	if e.err == nil {
		e.err = bw.Flush()
	}
	return cw.n, e.err
}

// digest is the SHA-256 of the metadata's rendering: two metadata are the
// same commit if their digests are equal.
func (m *CommitMetadata) digest() ([sha256.Size]byte, error) {
	h := sha256.New()
	if _, err := m.WriteTo(h); err != nil {
		return [sha256.Size]byte{}, err
	}
	return [sha256.Size]byte(h.Sum(nil)), nil
}

// metadataEncoder writes pieces of JSON, keeping the first error.
type metadataEncoder struct {
	w   *bufio.Writer
	err error
}

func (e *metadataEncoder) str(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

// json writes v as json.MarshalIndent(v, prefix, indent) does.
func (e *metadataEncoder) json(v any, prefix, indent string) {
	if e.err != nil {
		return
	}
	var b []byte
	if indent == "" {
		b, e.err = json.Marshal(v)
	} else {
		b, e.err = json.MarshalIndent(v, prefix, indent)
	}
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// sep ends element i of n: a comma unless it is the last.
func (e *metadataEncoder) sep(i, n int) {
	if i < n-1 {
		e.str(",\n")
	} else {
		e.str("\n")
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
