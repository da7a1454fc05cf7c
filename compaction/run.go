package compaction

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/parquetfile"
	"github.com/lakestream/lakestream/table/hudi"
)

// ErrConflict is matched by the error of a run that gave up a group
// because another replacecommit (another compactor's) holds one of its
// file groups. The group's output was removed; the table is as before.
var ErrConflict = errors.New("compaction: conflict with another replacecommit")

// ConflictError names the groups a run gave up to other replacecommits.
type ConflictError struct {
	Conflicts []Conflict
}

// Conflict is one group given up.
type Conflict struct {
	Partition string
	Instant   string   // the compactor's, rolled back
	With      []string // the other replacecommits
}

func (e *ConflictError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = fmt.Sprintf("%s (instant %s, with %s)", c.Partition, c.Instant, strings.Join(c.With, ", "))
	}
	return fmt.Sprintf("compaction: %d groups given up to other replacecommits: %s", len(e.Conflicts), strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Compactor runs compactions of one table.
type Compactor struct {
	tbl *hudi.Table
	o   options
}

// New returns a compactor of tbl. The table should be opened with the
// same failpoints as the compactor's, if any.
func New(tbl *hudi.Table, opts ...Option) (*Compactor, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if tbl == nil {
		return nil, errors.New("compaction: no table")
	}
	return &Compactor{tbl: tbl, o: o}, nil
}

// GroupResult is a group merged and committed.
type GroupResult struct {
	Partition   string
	Instant     string
	Output      string // the new base file, relative to the table root
	InputFiles  int
	InputBytes  int64
	OutputBytes int64
	Rows        int64
	RowGroups   int
	// What became of the column chunks and pages (parquetfile.MergeResult).
	ChunksCopied, ChunksRemapped, ChunksConstant, ChunksReencoded int
	PagesCopied, PagesRewritten                                   int64
	Fallbacks                                                     []parquetfile.MergeFallback
	Duration                                                      time.Duration
}

// Result is what a run did.
type Result struct {
	Recovered []hudi.RollbackResult
	Plan      *PlanResult
	Groups    []GroupResult
	Conflicts []Conflict
	// Cleaned counts the replaced files removed past their retention.
	Cleaned  int
	Duration time.Duration
}

// Totals of a run's committed groups.
func (r *Result) Totals() (t GroupResult) {
	for _, g := range r.Groups {
		t.InputFiles += g.InputFiles
		t.InputBytes += g.InputBytes
		t.OutputBytes += g.OutputBytes
		t.Rows += g.Rows
		t.RowGroups += g.RowGroups
		t.ChunksReencoded += g.ChunksReencoded
		t.PagesCopied += g.PagesCopied
		t.PagesRewritten += g.PagesRewritten
		t.Fallbacks = append(t.Fallbacks, g.Fallbacks...)
	}
	return t
}

// OutputFiles is the number of files written and committed.
func (r *Result) OutputFiles() int { return len(r.Groups) }

// run compacts the table once: it settles what failed runs left, plans,
// and merges and commits each group (see the package doc). A group given
// up to another replacecommit does not stop the others; the run then
// returns its result and a *ConflictError. Any other error stops the run;
// the groups committed before it stay committed. An error injected by a
// failpoint (failpoint.ErrInjected) leaves the instant as a crash would,
// for the next run to settle.
func (c *Compactor) run(ctx context.Context) (*Result, error) {
	start := time.Now()
	res := &Result{}
	defer func() { res.Duration = time.Since(start) }()
	if !c.o.dryRun {
		rec, err := c.tbl.Recover(ctx, c.o.writerID)
		res.Recovered = rec
		for _, r := range rec {
			if r.Outcome != hudi.OutcomeLive {
				c.o.logger.Info("settled a failed instant", "instant", r.Instant, "action", r.Action, "outcome", r.Outcome, "files_removed", r.FilesRemoved)
			}
		}
		if err != nil {
			return res, fmt.Errorf("compaction: recover: %w", err)
		}
	}
	p, err := c.tracedPlan(ctx)
	if err != nil {
		return res, err
	}
	res.Plan = p
	c.o.logger.Info("planned", "snapshot", p.Snapshot, "groups", len(p.Groups), "files", p.InputFiles(), "bytes", p.InputBytes())
	if c.o.dryRun {
		return res, nil
	}
	if len(p.Groups) == 0 {
		return res, c.clean(ctx, res)
	}

	var mu sync.Mutex // serializes the progress reports
	var done, filesDone int
	var bytesDone int64
	report := func(log bool) {
		mu.Lock()
		defer mu.Unlock()
		pr := Progress{GroupsDone: done, Groups: len(p.Groups), FilesDone: filesDone, Files: p.InputFiles(),
			BytesDone: bytesDone, Bytes: p.InputBytes(), Elapsed: time.Since(start)}
		if log {
			c.o.logger.Info("progress", "groups_done", pr.GroupsDone, "groups", pr.Groups,
				"files_done", pr.FilesDone, "files", pr.Files, "bytes_done", pr.BytesDone, "bytes", pr.Bytes,
				"elapsed", pr.Elapsed.Round(time.Millisecond).String())
		}
		if c.o.progress != nil {
			c.o.progress(pr)
		}
	}
	report(false)
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(c.o.progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				report(true)
			}
		}
	}()
	defer func() { close(stop); <-stopped }()

	for i := range p.Groups {
		g := &p.Groups[i]
		gr, err := c.runGroup(ctx, i, g, p.settled)
		mu.Lock()
		done++
		if err == nil {
			filesDone += len(g.Files)
			bytesDone += g.Bytes
		}
		mu.Unlock()
		report(false)
		var ce *ConflictError
		switch {
		case errors.As(err, &ce):
			res.Conflicts = append(res.Conflicts, ce.Conflicts...)
			continue
		case err != nil:
			return res, err
		}
		res.Groups = append(res.Groups, *gr)
		if err := c.o.failpoints.Hit(failpoint.AfterCommitBeforePublish); err != nil {
			return res, fmt.Errorf("compaction: %s: %w", gr.Partition, err)
		}
		c.publish(ctx, gr.Instant)
		c.o.logger.Info("group committed", "partition", gr.Partition, "instant", gr.Instant, "output", gr.Output,
			"files_in", gr.InputFiles, "bytes_in", gr.InputBytes, "bytes_out", gr.OutputBytes, "rows", gr.Rows,
			"row_groups", gr.RowGroups, "pages_copied", gr.PagesCopied, "pages_rewritten", gr.PagesRewritten,
			"chunks_reencoded", gr.ChunksReencoded, "duration", gr.Duration.Round(time.Millisecond).String())
	}
	if err := c.clean(ctx, res); err != nil {
		return res, err
	}
	if len(res.Conflicts) > 0 {
		return res, &ConflictError{Conflicts: res.Conflicts}
	}
	return res, nil
}

// clean removes the replaced files past their retention, after the
// Iceberg snapshots that reference them are expired (Iceberg option).
func (c *Compactor) clean(ctx context.Context, res *Result) error {
	if p := c.o.iceberg; p != nil {
		through, err := c.cleanThrough(ctx)
		if err != nil {
			return fmt.Errorf("compaction: %w", err)
		}
		if through != "" {
			if _, err := p.Expire(ctx, through); err != nil {
				c.o.logger.Warn("expire iceberg snapshots failed: replaced files are kept until an expiry succeeds", "through", through, "err", err)
				return nil
			}
		}
	}
	cr, err := c.tbl.CleanReplaced(ctx, hudi.CleanOptions{Retention: c.o.retention})
	if err != nil {
		return fmt.Errorf("compaction: %w", err)
	}
	res.Cleaned = cr.FilesRemoved
	return nil
}

// cleanThrough returns the newest completed replacecommit of the timeline
// that completed at least the retention ago ("" if none): the newest
// whose replaced files CleanReplaced may delete. Expiring the Iceberg
// snapshots through it removes every snapshot before the one that
// publishes it, which are all that reference its replaced files (and
// those of older replacecommits). The margin of a second covers the
// clocks of the table and of the compactor.
func (c *Compactor) cleanThrough(ctx context.Context) (string, error) {
	tl, err := c.tbl.Timeline(ctx)
	if err != nil {
		return "", err
	}
	cutoff := c.o.now().Add(-c.o.retention + time.Second)
	through := ""
	for _, e := range tl.Entries {
		if e.Action == hudi.ActionReplaceCommit && e.State == hudi.StateCompleted && !e.ModTime.After(cutoff) {
			through = e.Time
		}
	}
	return through, nil
}

// publish publishes a committed replacecommit as an Iceberg snapshot
// (Iceberg option). A failure is logged: the replacecommit stands, and
// the next publish (or an ingestd's) catches up.
func (c *Compactor) publish(ctx context.Context, instant string) {
	p := c.o.iceberg
	if p == nil {
		return
	}
	if _, err := p.Publish(ctx, instant); err != nil {
		c.o.logger.Warn("publish iceberg snapshot failed: the replacecommit stands, the next publish catches up", "instant", instant, "err", err)
	}
}

// writeSidecar writes the stats sidecar of the replacecommit instant
// (Iceberg option), whose one file, outPath, is the merged output: its
// metrics from its footer, read from the local file out (not from the
// store), so that the publisher reads no footer. A failure is logged and
// the commit goes on: the publisher then reads the output's footer. It
// reports whether the sidecar was written.
func (c *Compactor) writeSidecar(ctx context.Context, instant, outPath string, out io.ReaderAt, mr *parquetfile.MergeResult) bool {
	if c.o.iceberg == nil || !c.o.iceberg.Enabled() {
		return false
	}
	md, err := filestats.ReadFooterAt(out, mr.Bytes, outPath)
	var st *filestats.Instant
	if err == nil {
		var schema json.RawMessage
		var cols []filestats.Column
		if schema, cols, err = filestats.FromFooter(md); err == nil {
			st = &filestats.Instant{Schema: schema, Files: []filestats.File{{Path: outPath, Records: mr.Rows, Size: mr.Bytes, Columns: cols}}}
		}
	}
	if err == nil {
		err = filestats.WriteSidecar(ctx, c.tbl.Bucket(), instant, st)
	}
	if err != nil {
		c.o.logger.Warn("stats sidecar not written: the Iceberg publisher will read the output's footer", "instant", instant, "output", outPath, "err", err)
		return false
	}
	return true
}

// removeSidecar deletes the stats sidecar of a replacecommit rolled back.
// A failure is logged: the Iceberg expiry through the instant deletes it.
func (c *Compactor) removeSidecar(ctx context.Context, instant string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := c.tbl.Bucket().Delete(ctx, filestats.SidecarKey(instant)); err != nil {
		c.o.logger.Warn("delete the stats sidecar of a rolled-back replacecommit: the Iceberg expiry deletes it", "instant", instant, "err", err)
	}
}

// runGroup merges and commits one group in its own replacecommit.
func (c *Compactor) runGroup(ctx context.Context, idx int, g *Group, settled map[string]bool) (_ *GroupResult, err error) {
	start := time.Now()
	ctx, tr := c.traceGroup(ctx, idx, g)
	defer func() { tr.end(err) }()
	tbl := c.tbl
	cp := g.ClusteringPlan()
	cp.Extra[hudi.ClusteringPlanWriter] = c.o.writerID
	requested, err := hudi.EncodeClusteringPlan(cp)
	if err != nil {
		return nil, err
	}
	x, err := tbl.Begin(ctx, hudi.BeginOptions{WriterID: c.o.writerID, Action: hudi.ActionReplaceCommit, Requested: requested})
	if err != nil {
		return nil, fmt.Errorf("compaction: %s: %w", g.Partition, err)
	}
	defer x.Close()
	tr.instant(x.Instant())
	committed := false
	defer func() {
		if committed || err == nil || errors.Is(err, failpoint.ErrInjected) || errors.Is(err, hudi.ErrFenced) {
			return
		}
		// Undo now rather than wait for the next run: the instant's files
		// are removed and it leaves the timeline.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if aerr := x.Abort(actx); aerr != nil {
			c.o.logger.Warn("abort instant", "instant", x.Instant(), "err", aerr)
		}
	}()
	// The conflict rule (hudi.Table.ClusteringConflicts): give up to a
	// completed replacecommit, to a pending one of an earlier instant, and
	// to one that cannot be fenced; fence a pending one of a later instant.
	conflict := func() error {
		intents, err := tbl.ClusteringConflicts(ctx, x.Instant(), cp, func(e hudi.TimelineEntry) bool { return settled[e.Time] })
		if err != nil {
			return fmt.Errorf("compaction: %s: %w", g.Partition, err)
		}
		var with []string
		for _, ri := range intents {
			if ri.State != hudi.StateCompleted && !ri.Unknown && ri.Instant > x.Instant() {
				fenced, err := tbl.FenceClustering(ctx, ri.Instant, c.o.writerID)
				if err != nil {
					return fmt.Errorf("compaction: %s: %w", g.Partition, err)
				}
				if fenced {
					c.o.logger.Info("fenced a later replacecommit holding a file group of the group", "partition", g.Partition, "instant", x.Instant(), "fenced", ri.Instant)
					continue
				}
			}
			with = append(with, ri.Instant)
		}
		if len(with) > 0 {
			c.o.logger.Warn("conflict: another replacecommit holds a file group of the group; giving it up", "partition", g.Partition, "instant", x.Instant(), "with", strings.Join(with, ","))
			return &ConflictError{Conflicts: []Conflict{{Partition: g.Partition, Instant: x.Instant(), With: with}}}
		}
		return nil
	}
	if err := conflict(); err != nil {
		return nil, err
	}

	tr.enter(StepMerge)
	name := hudi.BaseFileName(hudi.NewFileID(), hudi.WriteToken(idx, 0, 0), x.Instant())
	outPath := hudi.BaseFilePath(g.Partition, name)
	inputs := make([]parquetfile.MergeInput, len(g.Files))
	for i, f := range g.Files {
		inputs[i] = parquetfile.MergeInput{Key: f.Path, Size: f.SizeBytes, Open: func(ctx context.Context) (io.ReaderAt, error) {
			file, size, err := download(ctx, tbl.Bucket(), f.Path, c.o.tempDir)
			if err != nil {
				return nil, err
			}
			if size != f.SizeBytes {
				file.Close()
				return nil, fmt.Errorf("%s: %d bytes, listed with %d", f.Path, size, f.SizeBytes)
			}
			return file, nil
		}}
	}
	out, err := os.CreateTemp(c.o.tempDir, "merged-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("compaction: %w", err)
	}
	os.Remove(out.Name())
	defer out.Close()
	bw := bufio.NewWriterSize(out, 1<<20)
	mopts := append([]parquetfile.MergeOption{
		parquetfile.MergeHudi(name),
		parquetfile.MergeRowGroupBytes(c.o.rowGroupBytes),
		parquetfile.MergeLogger(c.o.logger.With("partition", g.Partition, "output", name)),
		parquetfile.MergeConcurrency(min(4, runtime.GOMAXPROCS(0))),
	}, c.o.mergeOpts...)
	mr, err := parquetfile.Merge(ctx, inputs, bw, mopts...)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("compaction: merge %s: %w", g.Partition, err)
	}
	tr.enter(StepVerify)
	if err := parquetfile.VerifyMerge(ctx, out, mr.Bytes, mr); err != nil {
		return nil, fmt.Errorf("compaction: %s: %w", g.Partition, err)
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	tr.enter(StepUpload)
	if err := tbl.Bucket().Put(ctx, outPath, io.LimitReader(out, mr.Bytes)); err != nil {
		return nil, fmt.Errorf("compaction: upload %s: %w", outPath, err)
	}
	// Read back what the store holds (one GET, to a local file: the check
	// reads every page), with the product's reader.
	tr.enter(StepReadBack)
	back, size, err := download(ctx, tbl.Bucket(), outPath, c.o.tempDir)
	if err != nil {
		return nil, fmt.Errorf("compaction: read back %s: %w", outPath, err)
	}
	defer back.Close()
	if size != mr.Bytes {
		return nil, fmt.Errorf("compaction: read back %s: %d bytes, wrote %d", outPath, size, mr.Bytes)
	}
	if err := parquetfile.VerifyMerge(ctx, back, size, mr); err != nil {
		return nil, fmt.Errorf("compaction: read back %s: %w", outPath, err)
	}
	back.Close()
	if err := c.o.failpoints.Hit(failpoint.AfterFileWrite); err != nil {
		return nil, fmt.Errorf("compaction: %s: %w", g.Partition, err)
	}
	sidecar := c.writeSidecar(ctx, x.Instant(), outPath, out, mr)
	defer func() {
		if sidecar && !committed && !errors.Is(err, failpoint.ErrInjected) {
			c.removeSidecar(ctx, x.Instant()) // rolled back (a crash's: the expiry's)
		}
	}()
	tr.enter(StepCommit)
	// Again, just before the commit: whatever completed meanwhile. And the
	// inputs must still be there (a replacecommit archived meanwhile has
	// had its replaced files removed first).
	if err := conflict(); err != nil {
		return nil, err
	}
	for _, f := range g.Files {
		if _, err := tbl.Bucket().Stat(ctx, f.Path); err != nil {
			return nil, fmt.Errorf("compaction: input %s: %w", f.Path, err)
		}
	}
	_, err = x.Commit(ctx, hudi.CommitRequest{
		Files:    []hudi.FileStat{{Path: outPath, NumRecords: mr.Rows}},
		Replaced: map[string][]string{g.Partition: g.FileGroups()},
		Extra: map[string]string{
			"lakestream.compaction.inputs":      strconv.Itoa(len(g.Files)),
			"lakestream.compaction.fingerprint": g.Fingerprint,
		},
	})
	if errors.Is(err, hudi.ErrFenced) {
		// Rolled back by another compactor holding an earlier plan over
		// these file groups (or, the heartbeat lost, by a writer that took
		// the instant for dead): the commit removed the output.
		c.o.logger.Warn("fenced: the instant was rolled back by another writer; giving the group up", "partition", g.Partition, "instant", x.Instant(), "err", err)
		return nil, &ConflictError{Conflicts: []Conflict{{Partition: g.Partition, Instant: x.Instant(), With: []string{"fenced"}}}}
	}
	if err != nil {
		return nil, fmt.Errorf("compaction: %w", err)
	}
	committed = true
	settled[x.Instant()] = true // this run's groups are disjoint
	gr := &GroupResult{Partition: g.Partition, Instant: x.Instant(), Output: outPath, InputFiles: len(g.Files), InputBytes: g.Bytes,
		OutputBytes: mr.Bytes, Rows: mr.Rows, RowGroups: len(mr.RowGroups),
		ChunksCopied: mr.ChunksCopied, ChunksRemapped: mr.ChunksRemapped, ChunksConstant: mr.ChunksConstant, ChunksReencoded: mr.ChunksReencoded,
		PagesCopied: mr.PagesCopied, PagesRewritten: mr.PagesRewritten, Fallbacks: mr.Fallbacks, Duration: time.Since(start)}
	return tr.done(gr), nil
}
