package compaction

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/lakestream/lakestream/internal/parquetfile"
	"github.com/lakestream/lakestream/table/hudi"
)

// Group is files of one partition and one layout merged into one new file
// group.
type Group struct {
	Partition   string
	Fingerprint string
	// Files are in the order their rows are written: oldest instant first.
	Files []hudi.BaseFile
	Bytes int64
}

// FileGroups are the file IDs the group replaces.
func (g *Group) FileGroups() []string {
	ids := make([]string, len(g.Files))
	for i, f := range g.Files {
		ids[i] = f.FileID
	}
	return ids
}

// ClusteringPlan is the group as Hudi's clustering plan names it.
func (g *Group) ClusteringPlan() *hudi.ClusteringPlan {
	cg := hudi.ClusteringGroup{NumOutputFileGroups: 1, Metrics: map[string]float64{
		"TOTAL_IO_MB":      float64(g.Bytes) / (1 << 20),
		"TOTAL_IO_READ_MB": float64(g.Bytes) / (1 << 20),
		"TOTAL_LOG_FILES":  0,
	}}
	for _, f := range g.Files {
		cg.Slices = append(cg.Slices, hudi.ClusteringSlice{DataFilePath: f.Path, FileID: f.FileID, PartitionPath: f.Partition})
	}
	return &hudi.ClusteringPlan{Groups: []hudi.ClusteringGroup{cg},
		Extra: map[string]string{"lakestream.fingerprint": g.Fingerprint}}
}

// PlanResult is what a run would do.
type PlanResult struct {
	// Snapshot is the instant the plan was made from.
	Snapshot string
	Groups   []Group
	// Skipped counts the small files left out, by reason.
	Skipped map[string]int
	// settled are the replacecommits completed before the snapshot was
	// read, and those the run committed: none holds a planned file group.
	settled map[string]bool
}

// Skip reasons.
const (
	SkipPending = "in a pending replacecommit"
	SkipQuiet   = "partition not quiet"
	SkipAlone   = "too few files of its layout"
	SkipShard   = "other shard"
)

// InputFiles is the number of files the plan merges.
func (p *PlanResult) InputFiles() int {
	n := 0
	for _, g := range p.Groups {
		n += len(g.Files)
	}
	return n
}

// InputBytes is their size.
func (p *PlanResult) InputBytes() int64 {
	var n int64
	for _, g := range p.Groups {
		n += g.Bytes
	}
	return n
}

// String renders the plan, a line per group.
func (p *PlanResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan at %s: %d groups, %d files, %d bytes\n", p.Snapshot, len(p.Groups), p.InputFiles(), p.InputBytes())
	for _, g := range p.Groups {
		fmt.Fprintf(&b, "  %s: %d files, %d bytes, layout %s\n", g.Partition, len(g.Files), g.Bytes, g.Fingerprint)
	}
	for _, r := range slices.Sorted(maps.Keys(p.Skipped)) {
		fmt.Fprintf(&b, "  skipped %d files: %s\n", p.Skipped[r], r)
	}
	return b.String()
}

// ShardOf returns the shard of n a partition belongs to: FNV-1a of its
// path, modulo n.
func ShardOf(partition string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(partition))
	return int(h.Sum32() % uint32(n))
}

// Plan plans a compaction of tbl: per partition (of the shard), the
// snapshot's files smaller than SmallFileBytes whose file group no
// replacecommit holds, grouped by layout (parquetfile.Fingerprint, read
// from each file's footer) and bin-packed, oldest first, into groups of at
// most TargetFileBytes; groups of fewer than MinFiles files are dropped.
func Plan(ctx context.Context, tbl *hudi.Table, opts ...Option) (*PlanResult, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return plan(ctx, tbl, &o)
}

func plan(ctx context.Context, tbl *hudi.Table, o *options) (*PlanResult, error) {
	// The replacecommits completed before the snapshot is read retired
	// file groups the snapshot does not hold: the conflict checks need not
	// read them (settled). Pending ones hold file groups the plan leaves
	// alone.
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return nil, fmt.Errorf("compaction: plan: %w", err)
	}
	settled := map[string]bool{}
	for _, e := range tl.Entries {
		if e.Action == hudi.ActionReplaceCommit && e.State == hudi.StateCompleted {
			settled[e.Time] = true
		}
	}
	intents, err := tbl.Replacements(ctx, func(e hudi.TimelineEntry) bool { return settled[e.Time] })
	if err != nil {
		return nil, fmt.Errorf("compaction: plan: %w", err)
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("compaction: plan: %w", err)
	}
	held := map[string]bool{}
	for _, ri := range intents {
		if ri.State == hudi.StateCompleted {
			continue // completed since the timeline was read: out of the snapshot
		}
		if ri.Unknown {
			// A replacecommit that may replace anything: wait for it.
			return &PlanResult{Snapshot: snap.Instant, settled: settled, Skipped: map[string]int{"pending replacecommit " + ri.Instant + " without a plan": len(snap.Files)}}, nil
		}
		for part, ids := range ri.FileGroups {
			for _, id := range ids {
				held[part+"\x00"+id] = true
			}
		}
	}
	res := &PlanResult{Snapshot: snap.Instant, Skipped: map[string]int{}, settled: settled}
	byPart := map[string][]hudi.BaseFile{}
	newest := map[string]string{}
	for _, f := range snap.Files {
		if f.Instant > newest[f.Partition] {
			newest[f.Partition] = f.Instant
		}
		if f.SizeBytes >= o.smallFileBytes {
			continue
		}
		if o.shards > 1 && ShardOf(f.Partition, o.shards) != o.shard {
			res.Skipped[SkipShard]++
			continue
		}
		if held[f.Partition+"\x00"+f.FileID] {
			res.Skipped[SkipPending]++
			continue
		}
		byPart[f.Partition] = append(byPart[f.Partition], f)
	}
	if o.quietPeriod > 0 {
		cutoff := hudi.FormatInstantTime(o.now().Add(-o.quietPeriod))
		for part, files := range byPart {
			if newest[part] > cutoff {
				res.Skipped[SkipQuiet] += len(files)
				delete(byPart, part)
			}
		}
	}
	var all []hudi.BaseFile
	for _, files := range byPart {
		all = append(all, files...)
	}
	prints, err := fingerprints(ctx, tbl, all)
	if err != nil {
		return nil, err
	}
	parts := slices.Sorted(maps.Keys(byPart))
	for _, part := range parts {
		files := byPart[part]
		byLayout := map[string][]hudi.BaseFile{}
		for _, f := range files {
			byLayout[prints[f.Path]] = append(byLayout[prints[f.Path]], f)
		}
		for _, fp := range slices.Sorted(maps.Keys(byLayout)) {
			fs := byLayout[fp]
			sort.Slice(fs, func(i, j int) bool {
				if fs[i].Instant != fs[j].Instant {
					return fs[i].Instant < fs[j].Instant
				}
				return fs[i].Path < fs[j].Path
			})
			for _, g := range binPack(fs, o.targetFileBytes) {
				if len(g) < o.minFiles {
					res.Skipped[SkipAlone] += len(g)
					continue
				}
				grp := Group{Partition: part, Fingerprint: fp, Files: g}
				for _, f := range g {
					grp.Bytes += f.SizeBytes
				}
				res.Groups = append(res.Groups, grp)
			}
		}
	}
	return res, nil
}

// binPack cuts files, in order, into runs adding up to at most target
// bytes (a run of one file may be larger).
func binPack(files []hudi.BaseFile, target int64) [][]hudi.BaseFile {
	var out [][]hudi.BaseFile
	var cur []hudi.BaseFile
	var size int64
	for _, f := range files {
		if len(cur) > 0 && size+f.SizeBytes > target {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, f)
		size += f.SizeBytes
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// fingerprints reads the footer of every file (8 at a time) and returns
// their layouts by path.
func fingerprints(ctx context.Context, tbl *hudi.Table, files []hudi.BaseFile) (map[string]string, error) {
	out := make(map[string]string, len(files))
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			footer, err := parquetfile.ReadFooter(&objectReader{ctx: ctx, bucket: tbl.Bucket(), key: f.Path, size: f.SizeBytes}, f.SizeBytes)
			var fp string
			if err == nil {
				fp, err = parquetfile.Fingerprint(footer)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("compaction: plan: footer of %s: %w", f.Path, err)
				}
				return
			}
			out[f.Path] = fp
		}()
	}
	wg.Wait()
	return out, firstErr
}
