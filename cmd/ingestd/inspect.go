package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/lakestream/lakestream/commitlog"
	"github.com/lakestream/lakestream/internal/objstore"
)

// report is what `ingestd table inspect --json` prints.
type report struct {
	Table           tableReport                   `json:"table"`
	Timeline        []instantReport               `json:"timeline"`
	SnapshotInstant string                        `json:"snapshotInstant"`
	Snapshot        []commitlog.BaseFile          `json:"snapshot"`
	Checkpoints     []commitlog.WriterCheckpoint  `json:"checkpoints"`
	Offsets         []commitlog.PartitionPosition `json:"offsets"`
}

type tableReport struct {
	Location        string   `json:"location"`
	Name            string   `json:"name"`
	Database        string   `json:"database"`
	Type            string   `json:"type"`
	Version         string   `json:"version"`
	RecordKeyFields []string `json:"recordKeyFields"`
	PartitionFields []string `json:"partitionFields"`
}

type instantReport struct {
	Instant string   `json:"instant"`
	Action  string   `json:"action"`
	State   string   `json:"state"`
	Files   []string `json:"files"`
}

func inspect(ctx context.Context, location string, asJSON bool, w io.Writer) error {
	if err := checkLocalTable(location); err != nil {
		return err
	}
	bucket, err := objstore.Open(ctx, location)
	if err != nil {
		return err
	}
	defer bucket.Close()
	tbl, err := commitlog.Open(ctx, bucket)
	if err != nil {
		return err
	}
	rep, err := buildReport(ctx, tbl, location)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeText(w, rep)
}

func buildReport(ctx context.Context, tbl *commitlog.Table, location string) (*report, error) {
	props := tbl.Properties()
	cfg := tbl.Config()
	rep := &report{
		Table: tableReport{
			Location: location, Name: cfg.Name, Database: cfg.Database,
			Type: props[commitlog.PropType], Version: props[commitlog.PropVersion],
			RecordKeyFields: nonNil(cfg.RecordKeyFields), PartitionFields: nonNil(cfg.PartitionFields),
		},
		Timeline: []instantReport{},
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range tl.Entries {
		rep.Timeline = append(rep.Timeline, instantReport{Instant: e.Time, Action: e.Action, State: e.State.String(), Files: e.Files})
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	rep.SnapshotInstant, rep.Snapshot = snap.Instant, snap.Files
	cps, err := tbl.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	rep.Checkpoints = []commitlog.WriterCheckpoint{}
	for _, id := range sortedKeys(cps.Writers) {
		rep.Checkpoints = append(rep.Checkpoints, cps.Writers[id])
	}
	rep.Offsets = cps.SortedPartitions()
	if rep.Offsets == nil {
		rep.Offsets = []commitlog.PartitionPosition{}
	}
	return rep, nil
}

func writeText(w io.Writer, rep *report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	t := rep.Table
	fmt.Fprintf(tw, "table %s.%s (%s, version %s) at %s\n", t.Database, t.Name, t.Type, t.Version, t.Location)
	fmt.Fprintf(tw, "record key: %s; partitioned by: %s\n\n", strings.Join(t.RecordKeyFields, ","), orNone(strings.Join(t.PartitionFields, ",")))

	fmt.Fprintf(tw, "timeline (%d instants)\n", len(rep.Timeline))
	fmt.Fprintln(tw, "  INSTANT\tACTION\tSTATE")
	for _, e := range rep.Timeline {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", e.Instant, e.Action, e.State)
	}
	var total int64
	for _, f := range rep.Snapshot {
		total += f.SizeBytes
	}
	fmt.Fprintf(tw, "\nsnapshot at %s (%d files, %d bytes)\n", orNone(rep.SnapshotInstant), len(rep.Snapshot), total)
	fmt.Fprintln(tw, "  PATH\tFILE ID\tINSTANT\tBYTES")
	for _, f := range rep.Snapshot {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\n", f.Path, f.FileID, f.Instant, f.SizeBytes)
	}
	fmt.Fprintf(tw, "\ncheckpoints (%d writers)\n", len(rep.Checkpoints))
	fmt.Fprintln(tw, "  WRITER\tCHECKPOINT\tINSTANT\tOFFSETS")
	for _, c := range rep.Checkpoints {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", c.WriterID, c.CheckpointID, c.Instant, c.Offsets)
	}
	fmt.Fprintf(tw, "\nnext offsets (%d partitions)\n", len(rep.Offsets))
	fmt.Fprintln(tw, "  TOPIC\tPARTITION\tNEXT\tINSTANT\tWRITER")
	for _, p := range rep.Offsets {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\n", p.Topic, p.Partition, p.Next, p.Instant, p.WriterID)
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkLocalTable refuses a local location that does not exist, so that a
// read-only command never creates the directory it was asked to read.
func checkLocalTable(location string) error {
	p := location
	if strings.HasPrefix(location, "file://") {
		u, err := url.Parse(location)
		if err != nil {
			return fmt.Errorf("location %q: %w", location, err)
		}
		p = u.Path
	} else if strings.Contains(location, "://") {
		return nil
	}
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("table %s: %w", location, err)
	}
	return nil
}
