package iceberg

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// Stats gives the publisher the Iceberg schema and the metrics of the base
// files a completed instant wrote, without which a manifest entry has only
// a record count and a size.
type Stats interface {
	// InstantStats describes the files of instant, which its commit
	// metadata lists in files. The result has one File per write stat, in
	// any order, matched by Path. A File without Columns is published with
	// its record count and size only.
	InstantStats(ctx context.Context, instant string, files []hudi.WriteStat) (*filestats.Instant, error)
}

// SidecarStats reads the instant's stats sidecar (filestats.WriteSidecar),
// which the writer records before its commit decision, and asks fallback
// for instants without one (committed before the writer recorded stats,
// or by another writer, or whose put failed). A sidecar that does not
// describe every file of the commit, or cannot be read, is not used.
func SidecarStats(b objstore.Store, fallback Stats) Stats {
	return sidecarStats{bucket: b, fallback: fallback}
}

type sidecarStats struct {
	bucket   objstore.Store
	fallback Stats
}

func (s sidecarStats) InstantStats(ctx context.Context, instant string, files []hudi.WriteStat) (*filestats.Instant, error) {
	// Missing (committed by a writer that records none, or whose put
	// failed), partial or unreadable: the footers. A malformed sidecar
	// must not stop the publishing of its instant for good.
	if st, err := filestats.ReadSidecar(ctx, s.bucket, instant); err == nil && coversAll(st, files) {
		return st, nil
	}
	if s.fallback == nil {
		return countsOnly(files), nil
	}
	return s.fallback.InstantStats(ctx, instant, files)
}

func coversAll(st *filestats.Instant, files []hudi.WriteStat) bool {
	have := make(map[string]bool, len(st.Files))
	for _, f := range st.Files {
		have[f.Path] = true
	}
	for _, ws := range files {
		if ws.Path == nil || !have[*ws.Path] {
			return false
		}
	}
	return true
}

// countsOnly describes the files by their write stats alone.
func countsOnly(files []hudi.WriteStat) *filestats.Instant {
	out := &filestats.Instant{Files: make([]filestats.File, 0, len(files))}
	for _, ws := range files {
		if ws.Path != nil {
			out.Files = append(out.Files, filestats.File{Path: *ws.Path, Records: ws.NumWrites, Size: ws.FileSizeInBytes})
		}
	}
	return out
}

// FooterStats reads the Parquet footer of every file of the instant (two
// ranged reads each, at most concurrency at once): the fallback for
// commits written before the writer recorded stats. A file that no longer
// exists (an archived instant's file the archival deleted because a
// replacecommit retired it) is described by its write stat alone; the
// schema is that of the file with the most columns.
func FooterStats(b objstore.Store, concurrency int) Stats {
	return footerStats{bucket: b, concurrency: max(concurrency, 1)}
}

type footerStats struct {
	bucket      objstore.Store
	concurrency int
}

func (s footerStats) InstantStats(ctx context.Context, instant string, files []hudi.WriteStat) (*filestats.Instant, error) {
	out := countsOnly(files)
	schemas := make([][]byte, len(out.Files))
	ncols := make([]int, len(out.Files))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, s.concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range out.Files {
		f := &out.Files[i]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			md, err := filestats.ReadFooter(ctx, s.bucket, f.Path, f.Size)
			if errors.Is(err, objstore.ErrNotExist) {
				return
			}
			var cols []filestats.Column
			var schema []byte
			if err == nil {
				schema, cols, err = filestats.FromFooter(md)
				if err == nil && md.NumRows != f.Records {
					err = fmt.Errorf("footer holds %d rows, the commit says %d", md.NumRows, f.Records)
				}
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("instant %s: file %s: %w", instant, f.Path, err)
				}
				mu.Unlock()
				cancel()
				return
			}
			f.Columns, schemas[i], ncols[i] = cols, schema, len(cols)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	best := -1
	for i := range schemas {
		if schemas[i] != nil && (best < 0 || ncols[i] >= ncols[best]) {
			best = i
		}
	}
	if best >= 0 {
		out.Schema = schemas[best]
	}
	return out, nil
}
