package filestats

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/lakestream/lakestream/internal/objstore"
)

// SidecarDir holds one stats sidecar per instant, beside the timeline in a
// sub-directory of .hoodie, where Hudi's readers never look.
const SidecarDir = ".hoodie/.lakestream/stats"

// sidecarVersion is the version of the sidecar format WriteSidecar writes.
const sidecarVersion = 1

// MaxSidecarLine bounds one line of a sidecar (the header with the schema,
// or one file's metrics) on read.
const MaxSidecarLine = 16 << 20

// SidecarKey is the key of instant's stats sidecar.
func SidecarKey(instant string) string { return SidecarDir + "/" + instant + ".jsonl" }

type sidecarHeader struct {
	Version int             `json:"version"`
	Instant string          `json:"instant"`
	Files   int             `json:"files"`
	Schema  json.RawMessage `json:"schema,omitempty"`
}

// WriteSidecar writes the stats of instant's base files (docs/format/iceberg.md,
// "Stats sidecar"), one JSON line per file after a header line, streamed.
// The writer calls it before its commit decision; it replaces an earlier
// attempt's sidecar of the same instant.
func WriteSidecar(ctx context.Context, b objstore.Store, instant string, st *Instant) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		bw := bufio.NewWriterSize(pw, 64<<10)
		enc := json.NewEncoder(bw)
		err := enc.Encode(sidecarHeader{Version: sidecarVersion, Instant: instant, Files: len(st.Files), Schema: st.Schema})
		for i := 0; err == nil && i < len(st.Files); i++ {
			err = enc.Encode(&st.Files[i])
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	err := b.Put(ctx, SidecarKey(instant), pr)
	pr.CloseWithError(errors.New("sidecar upload ended"))
	<-done
	if err != nil {
		return fmt.Errorf("write stats sidecar of %s: %w", instant, err)
	}
	return nil
}

// ReadSidecar reads the stats sidecar of instant. An absent sidecar is an
// error matching objstore.ErrNotExist; a malformed one names the problem.
func ReadSidecar(ctx context.Context, b objstore.Store, instant string) (*Instant, error) {
	key := SidecarKey(instant)
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), MaxSidecarLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return nil, fmt.Errorf("%s: empty", key)
	}
	var h sidecarHeader
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
		return nil, fmt.Errorf("%s: header: %w", key, err)
	}
	if h.Version != sidecarVersion {
		return nil, fmt.Errorf("%s: version %d, this build reads %d", key, h.Version, sidecarVersion)
	}
	if h.Instant != instant {
		return nil, fmt.Errorf("%s: holds instant %q", key, h.Instant)
	}
	out := &Instant{Schema: h.Schema, Files: make([]File, 0, min(h.Files, 1<<16))}
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var f File
		if err := json.Unmarshal(line, &f); err != nil {
			return nil, fmt.Errorf("%s: file %d: %w", key, len(out.Files)+1, err)
		}
		out.Files = append(out.Files, f)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if len(out.Files) != h.Files {
		return nil, fmt.Errorf("%s: %d files, the header says %d: truncated", key, len(out.Files), h.Files)
	}
	return out, nil
}
