package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

// sidecarCleanupTimeout bounds the delete of the sidecar of an instant
// rolled back, which runs even if the commit's context ended.
const sidecarCleanupTimeout = 10 * time.Second

// sidecarMemory bounds the memory the metrics of one instant's files may
// hold until its commit (about 2 KiB a file of 20 columns: 32,000
// files). Past it, the instant's metrics are dropped and it gets no
// sidecar: the publisher reads its footers.
const sidecarMemory = 64 << 20

// sidecars keeps what the writers know of each file they upload (its size
// and column metrics, writer.WithFileStats), by instant, until the
// instant's commit writes them as its stats sidecar
// (filestats.WriteSidecar), so that the Iceberg publisher reads no footer.
// Its methods are safe for concurrent use (the workers' writer sets call
// uploaded from their goroutines).
type sidecars struct {
	bucket objstore.Store
	layout table.Layout
	log    *slog.Logger

	limit int64 // sidecarMemory

	mu    sync.Mutex
	files map[string]map[string]sidecarFile // instant → path → file
	bytes map[string]int64                  // instant → memory of its files' metrics
	over  map[string]bool                   // instants past the limit: no sidecar
}

type sidecarFile struct {
	size  int64
	stats *writer.Stats // nil: the writer could not describe it
}

func newSidecars(b objstore.Store, log *slog.Logger) *sidecars {
	return &sidecars{bucket: b, layout: hudi.BaseFileLayout{}, log: log, limit: sidecarMemory,
		files: map[string]map[string]sidecarFile{}, bytes: map[string]int64{}, over: map[string]bool{}}
}

// uploaded records a file a writer uploaded (writer.WithAfterUpload).
func (s *sidecars) uploaded(f writer.File) {
	instant, ok := s.layout.FileInstant(f.Path)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over[instant] {
		return
	}
	s.bytes[instant] += statsMemory(f)
	if s.bytes[instant] > s.limit {
		s.log.Warn("stats sidecar dropped: the metrics of the instant's files exceed their memory bound; the Iceberg publisher will read their footers",
			"instant", instant, "files", len(s.files[instant])+1, "bound_bytes", s.limit)
		s.over[instant] = true
		delete(s.files, instant)
		delete(s.bytes, instant)
		return
	}
	m := s.files[instant]
	if m == nil {
		m = map[string]sidecarFile{}
		s.files[instant] = m
	}
	m[f.Path] = sidecarFile{size: f.SizeBytes, stats: f.Stats}
}

// statsMemory estimates the memory f's entry holds (its schema is shared
// with the Set's other files).
func statsMemory(f writer.File) int64 {
	n := int64(len(f.Path) + 64)
	if f.Stats != nil {
		for _, c := range f.Stats.Columns {
			n += int64(80 + len(c.Lower) + len(c.Upper))
		}
	}
	return n
}

// forget drops what is known of instant's files.
func (s *sidecars) forget(instant string) {
	s.mu.Lock()
	delete(s.files, instant)
	delete(s.bytes, instant)
	delete(s.over, instant)
	s.mu.Unlock()
}

// errIncomplete: a file of the commit has no metrics.
var errIncomplete = errors.New("a file of the commit has no column metrics")

// sidecar returns the stats sidecar of instant's commit of files.
func (s *sidecars) sidecar(instant string, files []table.FileStat) (*filestats.Instant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over[instant] {
		return nil, fmt.Errorf("the metrics of its %d files exceed their memory bound (%d bytes)", len(files), s.limit)
	}
	known := s.files[instant]
	out := &filestats.Instant{Files: make([]filestats.File, 0, len(files))}
	widest := -1
	for _, f := range files {
		sf, ok := known[f.Path]
		if !ok || sf.stats == nil {
			return nil, fmt.Errorf("%s: %w", f.Path, errIncomplete)
		}
		out.Files = append(out.Files, filestats.File{Path: f.Path, Records: f.NumRecords, Size: sf.size, Columns: sf.stats.Columns})
		// The schema of the file with the most columns, as the footers'
		// source takes it (the files of one commit share one schema).
		if len(sf.stats.Columns) > widest {
			out.Schema, widest = sf.stats.Schema, len(sf.stats.Columns)
		}
	}
	return out, nil
}

// write writes the stats sidecar of instant's commit of files, before the
// commit decision. It never fails the commit: a file without metrics or a
// failed put is logged, and the Iceberg publisher reads the footers of
// that instant instead (iceberg.SidecarStats), which costs reads and
// loses nothing.
func (s *sidecars) write(ctx context.Context, instant string, files []table.FileStat) {
	st, err := s.sidecar(instant, files)
	if err == nil {
		err = filestats.WriteSidecar(ctx, s.bucket, instant, st)
	}
	if err != nil {
		s.log.Warn("stats sidecar not written: the Iceberg publisher will read the footers of the instant's files", "instant", instant, "files", len(files), "err", err)
	}
}

// remove deletes the stats sidecar of an instant rolled back. A failure is
// logged: the Iceberg expiry through the instant deletes it.
func (s *sidecars) remove(ctx context.Context, instant string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sidecarCleanupTimeout)
	defer cancel()
	if err := s.bucket.Delete(ctx, filestats.SidecarKey(instant)); err != nil {
		s.log.Warn("delete the stats sidecar of a rolled-back instant: the Iceberg expiry deletes it", "instant", instant, "err", err)
	}
}

// sidecarTxn is a transaction that writes its stats sidecar before its
// commit decision.
type sidecarTxn struct {
	table.Txn
	sc *sidecars
}

// Commit writes the sidecar, then commits. A retried Commit writes it
// again (the same). If the instant was fenced (rolled back by another
// process), its sidecar is deleted with it.
func (x sidecarTxn) Commit(ctx context.Context, req table.CommitRequest) error {
	instant := x.Instant()
	x.sc.write(ctx, instant, req.Files)
	err := x.Txn.Commit(ctx, req)
	switch {
	case err == nil:
		x.sc.forget(instant)
	case errors.Is(err, table.ErrFenced):
		x.sc.forget(instant)
		x.sc.remove(ctx, instant)
	}
	return err
}

// Abort rolls the instant back and deletes its sidecar, if one was
// written (a commit attempt that failed before its decision).
func (x sidecarTxn) Abort(ctx context.Context) error {
	err := x.Txn.Abort(ctx)
	if err == nil {
		x.sc.forget(x.Instant())
		x.sc.remove(ctx, x.Instant())
	}
	return err
}

// Close releases the transaction; what is known of its files is dropped
// (the instant is settled by the next start's recovery, or was committed).
func (x sidecarTxn) Close() error {
	x.sc.forget(x.Instant())
	return x.Txn.Close()
}
