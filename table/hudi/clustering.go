package hudi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/twmb/avro"
	"github.com/twmb/avro/ocf"

	"github.com/lakestream/lakestream/internal/objstore"
)

// Clustering: the compactor's replacecommits carry, in their requested
// file, the plan Hudi's clustering writes there (an Avro object container
// of one HoodieRequestedReplaceMetadata whose operationType is CLUSTER), so
// that Hudi's tools see a clustering and its input file groups; an empty
// requested file reads as "not a clustering" to Hudi.

// ClusteringPlan is the part of Hudi's HoodieClusteringPlan lakestream
// writes and reads: the input file slices, in groups that each become new
// file groups.
type ClusteringPlan struct {
	Groups []ClusteringGroup
	// Extra is the plan's extraMetadata.
	Extra map[string]string
}

// ClusteringGroup is a HoodieClusteringGroup: files merged together.
type ClusteringGroup struct {
	Slices              []ClusteringSlice
	NumOutputFileGroups int
	Metrics             map[string]float64
}

// ClusteringSlice is a HoodieSliceInfo: one input file group's base file.
type ClusteringSlice struct {
	// DataFilePath is the base file's path relative to the table root.
	DataFilePath  string
	FileID        string
	PartitionPath string
}

// FileGroups returns the plan's input file groups by partition.
func (p *ClusteringPlan) FileGroups() map[string][]string {
	out := map[string][]string{}
	for _, g := range p.Groups {
		for _, s := range g.Slices {
			out[s.PartitionPath] = append(out[s.PartitionPath], s.FileID)
		}
	}
	for part := range out {
		slices.Sort(out[part])
	}
	return out
}

// requestedReplaceSchema is HoodieRequestedReplaceMetadata with its
// clustering plan (hudi-common/src/main/avro, Hudi 0.14): the names and
// namespaces are Hudi's, so that its readers resolve this writer schema
// against theirs.
const requestedReplaceSchema = `{
  "namespace": "org.apache.hudi.avro.model", "type": "record", "name": "HoodieRequestedReplaceMetadata",
  "fields": [
    {"name": "operationType", "type": ["null", "string"], "default": null},
    {"name": "clusteringPlan", "default": null, "type": ["null", {
      "type": "record", "name": "HoodieClusteringPlan",
      "fields": [
        {"name": "inputGroups", "default": null, "type": ["null", {"type": "array", "items": {
          "type": "record", "name": "HoodieClusteringGroup",
          "fields": [
            {"name": "slices", "default": null, "type": ["null", {"type": "array", "items": {
              "type": "record", "name": "HoodieSliceInfo",
              "fields": [
                {"name": "dataFilePath", "type": ["null", "string"], "default": null},
                {"name": "deltaFilePaths", "type": ["null", {"type": "array", "items": "string"}], "default": null},
                {"name": "fileId", "type": ["null", "string"]},
                {"name": "partitionPath", "type": ["null", "string"], "default": null},
                {"name": "bootstrapFilePath", "type": ["null", "string"], "default": null},
                {"name": "version", "type": ["int", "null"], "default": 1}
              ]}}]},
            {"name": "metrics", "type": ["null", {"type": "map", "values": "double"}], "default": null},
            {"name": "numOutputFileGroups", "type": ["int", "null"], "default": 1},
            {"name": "extraMetadata", "type": ["null", {"type": "map", "values": "string"}], "default": null},
            {"name": "version", "type": ["int", "null"], "default": 1}
          ]}}]},
        {"name": "strategy", "default": null, "type": ["null", {
          "type": "record", "name": "HoodieClusteringStrategy",
          "fields": [
            {"name": "strategyClassName", "type": ["null", "string"], "default": null},
            {"name": "strategyParams", "type": ["null", {"type": "map", "values": "string"}], "default": null},
            {"name": "version", "type": ["int", "null"], "default": 1}
          ]}]},
        {"name": "extraMetadata", "type": ["null", {"type": "map", "values": "string"}], "default": null},
        {"name": "version", "type": ["int", "null"], "default": 1},
        {"name": "preserveHoodieMetadata", "type": ["null", "boolean"], "default": null}
      ]}]},
    {"name": "extraMetadata", "type": ["null", {"type": "map", "values": "string"}], "default": null},
    {"name": "version", "type": ["int", "null"], "default": 1}
  ]
}`

var requestedReplace = avro.MustParse(requestedReplaceSchema)

// ClusteringStrategyClass is the strategy the plans name: Hudi's
// size-based clustering of small files into target-size groups, which is
// what the compactor's planner does.
const ClusteringStrategyClass = "org.apache.hudi.client.clustering.run.strategy.SparkSortAndSizeExecutionStrategy"

type avroSlice struct {
	DataFilePath      *string   `avro:"dataFilePath"`
	DeltaFilePaths    *[]string `avro:"deltaFilePaths"`
	FileID            *string   `avro:"fileId"`
	PartitionPath     *string   `avro:"partitionPath"`
	BootstrapFilePath *string   `avro:"bootstrapFilePath"`
	Version           *int32    `avro:"version"`
}

type avroGroup struct {
	Slices              *[]avroSlice        `avro:"slices"`
	Metrics             *map[string]float64 `avro:"metrics"`
	NumOutputFileGroups *int32              `avro:"numOutputFileGroups"`
	ExtraMetadata       *map[string]string  `avro:"extraMetadata"`
	Version             *int32              `avro:"version"`
}

type avroStrategy struct {
	StrategyClassName *string            `avro:"strategyClassName"`
	StrategyParams    *map[string]string `avro:"strategyParams"`
	Version           *int32             `avro:"version"`
}

type avroPlan struct {
	InputGroups            *[]avroGroup       `avro:"inputGroups"`
	Strategy               *avroStrategy      `avro:"strategy"`
	ExtraMetadata          *map[string]string `avro:"extraMetadata"`
	Version                *int32             `avro:"version"`
	PreserveHoodieMetadata *bool              `avro:"preserveHoodieMetadata"`
}

type avroRequestedReplace struct {
	OperationType  *string            `avro:"operationType"`
	ClusteringPlan *avroPlan          `avro:"clusteringPlan"`
	ExtraMetadata  *map[string]string `avro:"extraMetadata"`
	Version        *int32             `avro:"version"`
}

func ptr[T any](v T) *T { return &v }

// EncodeClusteringPlan renders p as the body of a clustering's
// .replacecommit.requested (BeginOptions.Requested): an Avro object
// container holding one HoodieRequestedReplaceMetadata of operation type
// CLUSTER, as Hudi writes it.
func EncodeClusteringPlan(p *ClusteringPlan) ([]byte, error) {
	groups := make([]avroGroup, 0, len(p.Groups))
	for _, g := range p.Groups {
		if len(g.Slices) == 0 {
			return nil, errors.New("clustering plan: a group without slices")
		}
		ss := make([]avroSlice, 0, len(g.Slices))
		for _, s := range g.Slices {
			if s.FileID == "" {
				return nil, fmt.Errorf("clustering plan: slice %q has no file ID", s.DataFilePath)
			}
			ss = append(ss, avroSlice{DataFilePath: ptr(s.DataFilePath), DeltaFilePaths: ptr([]string{}), FileID: ptr(s.FileID),
				PartitionPath: ptr(s.PartitionPath), Version: ptr(int32(1))})
		}
		n := g.NumOutputFileGroups
		if n == 0 {
			n = 1
		}
		metrics := g.Metrics
		if metrics == nil {
			metrics = map[string]float64{}
		}
		groups = append(groups, avroGroup{Slices: &ss, Metrics: &metrics, NumOutputFileGroups: ptr(int32(n)),
			ExtraMetadata: ptr(map[string]string{}), Version: ptr(int32(1))})
	}
	extra := p.Extra
	if extra == nil {
		extra = map[string]string{}
	}
	rec := avroRequestedReplace{
		OperationType: ptr(OperationCluster),
		ClusteringPlan: &avroPlan{
			InputGroups: &groups,
			Strategy: &avroStrategy{StrategyClassName: ptr(ClusteringStrategyClass),
				StrategyParams: ptr(map[string]string{}), Version: ptr(int32(1))},
			ExtraMetadata:          &extra,
			Version:                ptr(int32(1)),
			PreserveHoodieMetadata: ptr(true),
		},
		ExtraMetadata: ptr(map[string]string{}),
		Version:       ptr(int32(1)),
	}
	var buf bytes.Buffer
	w, err := ocf.NewWriter(&buf, requestedReplace)
	if err != nil {
		return nil, fmt.Errorf("clustering plan: %w", err)
	}
	if err := w.Encode(&rec); err != nil {
		return nil, fmt.Errorf("clustering plan: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("clustering plan: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeClusteringPlan parses the body of a .replacecommit.requested. It
// returns nil and no error for an empty body or a requested replace that is
// not a clustering (Hudi's insert overwrite); name is used in errors.
func DecodeClusteringPlan(name string, data []byte) (*ClusteringPlan, error) {
	if len(data) == 0 {
		return nil, nil
	}
	r, err := ocf.NewReader(bytes.NewReader(data), ocf.WithReaderSchema(requestedReplace))
	if err != nil {
		return nil, &FileError{Path: name, Problem: "malformed clustering plan", Err: err}
	}
	defer r.Close()
	var rec avroRequestedReplace
	if err := r.Decode(&rec); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, &FileError{Path: name, Problem: "malformed clustering plan", Err: err}
	}
	if rec.ClusteringPlan == nil || rec.OperationType == nil || *rec.OperationType != OperationCluster {
		return nil, nil
	}
	p := &ClusteringPlan{Extra: map[string]string{}}
	if rec.ClusteringPlan.ExtraMetadata != nil {
		p.Extra = *rec.ClusteringPlan.ExtraMetadata
	}
	if rec.ClusteringPlan.InputGroups != nil {
		for _, g := range *rec.ClusteringPlan.InputGroups {
			cg := ClusteringGroup{NumOutputFileGroups: 1}
			if g.NumOutputFileGroups != nil {
				cg.NumOutputFileGroups = int(*g.NumOutputFileGroups)
			}
			if g.Metrics != nil {
				cg.Metrics = *g.Metrics
			}
			if g.Slices != nil {
				for _, s := range *g.Slices {
					cs := ClusteringSlice{}
					if s.FileID == nil || *s.FileID == "" {
						return nil, &FileError{Path: name, Problem: "clustering plan: a slice without a file ID"}
					}
					cs.FileID = *s.FileID
					if s.DataFilePath != nil {
						cs.DataFilePath = *s.DataFilePath
					}
					if s.PartitionPath != nil {
						cs.PartitionPath = *s.PartitionPath
					}
					cg.Slices = append(cg.Slices, cs)
				}
			}
			p.Groups = append(p.Groups, cg)
		}
	}
	return p, nil
}

// ReplaceIntent is a replacecommit of the timeline and the file groups it
// replaces or, pending, plans to replace.
type ReplaceIntent struct {
	Instant string
	State   State
	// FileGroups are by partition. For a pending replacecommit, those of
	// its clustering plan.
	FileGroups map[string][]string
	// Unknown is true for a pending replacecommit without a clustering
	// plan (Hudi's insert overwrite, a hand-made replacecommit): the file
	// groups it will replace are not known.
	Unknown bool
}

// Replacements returns every replacecommit of the active timeline, pending
// or completed, with the file groups it replaces, except rolled-back ones
// (a zombie's timeline files are ignored) and those skip (if not nil)
// returns true for, of which nothing is read. The compactor's planner
// leaves their file groups alone, and two compactors use it to find that
// their plans overlap (ClusteringConflicts).
func (t *Table) Replacements(ctx context.Context, skip func(TimelineEntry) bool) ([]ReplaceIntent, error) {
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	dead, err := t.rolledBack(ctx)
	if err != nil {
		return nil, err
	}
	var out []ReplaceIntent
	for _, e := range tl.Entries {
		if e.Action != ActionReplaceCommit || dead[e.Time] || (skip != nil && skip(e)) {
			continue
		}
		ri := ReplaceIntent{Instant: e.Time, State: e.State}
		if e.State == StateCompleted {
			// Archived since the listing: the archive has it, and its
			// file groups must still count (ClusteringConflicts).
			m, err := t.ReadCompletedMetadata(ctx, e)
			if err != nil {
				return nil, err
			}
			ri.FileGroups = m.PartitionToReplaceFileIDs
			out = append(out, ri)
			continue
		}
		plan, err := t.ReadClusteringPlan(ctx, e.Time)
		if err != nil {
			return nil, err
		}
		if plan == nil {
			ri.Unknown = true
		} else {
			ri.FileGroups = plan.FileGroups()
		}
		out = append(out, ri)
	}
	return out, nil
}

// ReadClusteringPlan reads the clustering plan of replacecommit ts: nil
// when its requested file is empty or gone (the instant completed and
// was archived, or was rolled back) or holds no clustering.
func (t *Table) ReadClusteringPlan(ctx context.Context, ts string) (*ClusteringPlan, error) {
	name := MetaDir + "/" + Instant{Time: ts, Action: ActionReplaceCommit, State: StateRequested}.FileName()
	data, err := objstore.ReadAll(ctx, t.bucket, name)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return DecodeClusteringPlan(name, data)
}

// ClusteringConflicts returns the other replacecommits (pending or
// completed, not rolled back) that replace or plan to replace one of the
// file groups of plan, the plan of the caller's own replacecommit ts. A
// pending replacecommit whose file groups are unknown conflicts with
// every plan. Those skip (if not nil) returns true for are not read: the
// completed replacecommits the caller knows hold none of its file groups
// (completed before the snapshot its plan came from), so that a check
// reads only what completed since.
//
// Two compactors whose plans overlap never both commit: each calls this
// after its requested file (with its plan) is on the timeline and before
// its commit. The store is strongly consistent, so of two such calls at
// least one sees the other's plan. The compactor gives up on a completed
// conflict, on a pending one of an earlier instant time, and on one it
// cannot fence; a pending one of a later instant time it fences
// (FenceClustering), which only one of a fence and a commit decision can
// win. So the earliest of overlapping plans commits, unless a later one had
// already decided its commit.
func (t *Table) ClusteringConflicts(ctx context.Context, ts string, plan *ClusteringPlan, skip func(TimelineEntry) bool) ([]ReplaceIntent, error) {
	intents, err := t.Replacements(ctx, func(e TimelineEntry) bool { return e.Time == ts || (skip != nil && skip(e)) })
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for part, ids := range plan.FileGroups() {
		for _, id := range ids {
			mine[part+"\x00"+id] = true
		}
	}
	var out []ReplaceIntent
	for _, ri := range intents {
		if ri.Unknown {
			out = append(out, ri)
			continue
		}
	scan:
		for part, ids := range ri.FileGroups {
			for _, id := range ids {
				if mine[part+"\x00"+id] {
					out = append(out, ri)
					break scan
				}
			}
		}
	}
	return out, nil
}

// ClusteringPlanWriter is the plan's extraMetadata key naming the
// lakestream writer that wrote it: FenceClustering fences only plans that
// carry it.
const ClusteringPlanWriter = "lakestream.writer"

// FenceClustering rolls back the pending replacecommit ts of another
// lakestream compactor, live or not (ClusteringConflicts says when), by
// deciding its rollback: its commit then fails with ErrFenced and removes
// its files. It returns true if ts is rolled back (now or before), false
// if it cannot be: its commit was decided first (and is finished here), or
// its plan was not written by a lakestream writer (ClusteringPlanWriter;
// Hudi's own clustering knows nothing of decisions). by names the caller.
func (t *Table) FenceClustering(ctx context.Context, ts, by string) (bool, error) {
	plan, err := t.ReadClusteringPlan(ctx, ts)
	if err != nil {
		return false, fmt.Errorf("fence %s: %w", ts, err)
	}
	if plan == nil {
		// Settled meanwhile (or never a clustering): its decision says.
		d, found, err := t.readDecision(ctx, ts)
		if err != nil {
			return false, fmt.Errorf("fence %s: %w", ts, err)
		}
		return found && d.Decision == decisionRollback, nil
	}
	if plan.Extra[ClusteringPlanWriter] == "" {
		return false, nil
	}
	res, err := t.rollbackInstantFiles(ctx, ts, ActionReplaceCommit, by, nil)
	if err != nil {
		return false, fmt.Errorf("fence %s: %w", ts, err)
	}
	return res.Outcome == OutcomeRolledBack, nil
}
