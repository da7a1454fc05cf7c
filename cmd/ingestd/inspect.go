package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/redact"
	"github.com/lakestream/lakestream/table/hudi"
)

// report is what `ingestd table inspect --json` prints.
type report struct {
	Table           tableReport              `json:"table"`
	Timeline        []instantReport          `json:"timeline"`
	SnapshotInstant string                   `json:"snapshotInstant"`
	Snapshot        []hudi.BaseFile          `json:"snapshot"`
	Checkpoints     []hudi.WriterCheckpoint  `json:"checkpoints"`
	Offsets         []hudi.PartitionPosition `json:"offsets"`
	// Status is "ok", or "damaged" when Problems lists committed files of
	// the active timeline that are missing, hidden or of another size.
	Status   string             `json:"status"`
	Problems []hudi.FileProblem `json:"problems"`
}

// Values of report.Status.
const (
	statusOK      = "ok"
	statusDamaged = "damaged"
)

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

// inspect prints the table's report and returns how many problems it
// found with the committed files of the active timeline (see
// hudi.Table.Check: presence and size, from the listing it makes
// anyway).
func inspect(ctx context.Context, location string, asJSON bool, w io.Writer) (int, error) {
	tbl, closeTable, err := openTable(ctx, location)
	if err != nil {
		return 0, err
	}
	defer closeTable()
	rep, err := buildReport(ctx, tbl, location)
	if err != nil {
		return 0, err
	}
	if asJSON {
		return len(rep.Problems), writeJSON(w, rep)
	}
	return len(rep.Problems), writeText(w, rep)
}

// openTable opens the table at location for reading; it never creates
// anything (a local location that does not exist is an error).
func openTable(ctx context.Context, location string) (*hudi.Table, func(), error) {
	if err := checkLocalTable(location); err != nil {
		return nil, nil, err
	}
	bucket, err := objstore.Open(ctx, location)
	if err != nil {
		return nil, nil, err
	}
	tbl, err := hudi.Open(ctx, bucket)
	if err != nil {
		bucket.Close()
		return nil, nil, err
	}
	return tbl, func() { bucket.Close() }, nil
}

// writeJSON writes v as indented JSON with every non-printable character
// escaped.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(escapeJSON(b), '\n'))
	return err
}

func buildReport(ctx context.Context, tbl *hudi.Table, location string) (*report, error) {
	props := tbl.Properties()
	cfg := tbl.Config()
	rep := &report{
		Table: tableReport{
			Location: redact.URL(location), Name: cfg.Name, Database: cfg.Database,
			Type: props[hudi.PropType], Version: props[hudi.PropVersion],
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
	chk, err := tbl.Check(ctx, hudi.CheckOptions{})
	if err != nil {
		return nil, err
	}
	rep.SnapshotInstant, rep.Snapshot = chk.Snapshot.Instant, chk.Snapshot.Files
	rep.Status, rep.Problems = statusOK, chk.Problems
	if len(chk.Problems) > 0 {
		rep.Status = statusDamaged
	}
	cps, err := tbl.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	rep.Checkpoints = []hudi.WriterCheckpoint{}
	for _, id := range sortedKeys(cps.Writers) {
		rep.Checkpoints = append(rep.Checkpoints, cps.Writers[id])
	}
	rep.Offsets = cps.SortedPartitions()
	if rep.Offsets == nil {
		rep.Offsets = []hudi.PartitionPosition{}
	}
	return rep, nil
}

func writeText(w io.Writer, rep *report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// Every string below comes from the table: e escapes what a terminal
	// would act on.
	e := printable
	t := rep.Table
	fmt.Fprintf(tw, "table %s.%s (%s, version %s) at %s\n", e(t.Database), e(t.Name), e(t.Type), e(t.Version), e(t.Location))
	fmt.Fprintf(tw, "record key: %s; partitioned by: %s\n\n", e(strings.Join(t.RecordKeyFields, ",")), e(orNone(strings.Join(t.PartitionFields, ","))))

	fmt.Fprintf(tw, "timeline (%d instants)\n", len(rep.Timeline))
	fmt.Fprintln(tw, "  INSTANT\tACTION\tSTATE")
	for _, i := range rep.Timeline {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", e(i.Instant), e(i.Action), e(i.State))
	}
	var total int64
	for _, f := range rep.Snapshot {
		total += f.SizeBytes
	}
	fmt.Fprintf(tw, "\nsnapshot at %s (%d files, %d bytes)\n", e(orNone(rep.SnapshotInstant)), len(rep.Snapshot), total)
	fmt.Fprintln(tw, "  PATH\tFILE ID\tINSTANT\tBYTES")
	for _, f := range rep.Snapshot {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\n", e(f.Path), e(f.FileID), e(f.Instant), f.SizeBytes)
	}
	fmt.Fprintf(tw, "\ncheckpoints (%d writers)\n", len(rep.Checkpoints))
	fmt.Fprintln(tw, "  WRITER\tCHECKPOINT\tINSTANT\tOFFSETS")
	for _, c := range rep.Checkpoints {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", e(c.WriterID), c.CheckpointID, e(c.Instant), e(c.Offsets))
	}
	fmt.Fprintf(tw, "\nnext offsets (%d partitions)\n", len(rep.Offsets))
	fmt.Fprintln(tw, "  TOPIC\tPARTITION\tNEXT\tINSTANT\tWRITER")
	for _, p := range rep.Offsets {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\n", e(p.Topic), p.Partition, p.Next, e(p.Instant), e(p.WriterID))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeProblems(w, rep.Problems)
}

// writeProblems lists the committed files that are missing or damaged.
func writeProblems(w io.Writer, problems []hudi.FileProblem) error {
	if len(problems) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nDAMAGED: %d problems with committed files\n", len(problems))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PROBLEM\tPATH\tINSTANT\tDETAIL")
	for _, p := range problems {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", printable(p.Kind), printable(p.Path), printable(p.Instant), printable(p.Detail))
	}
	return tw.Flush()
}

// checkReport is what `ingestd table check --json` prints.
type checkReport struct {
	Location        string `json:"location"`
	SnapshotInstant string `json:"snapshotInstant"`
	*hudi.CheckReport
	Status string `json:"status"`
}

// check verifies every committed file of the snapshot, archived instants
// included, and reads every footer (hudi.Table.Check); it returns the
// number of problems.
func check(ctx context.Context, location string, asJSON bool, w io.Writer) (int, error) {
	tbl, closeTable, err := openTable(ctx, location)
	if err != nil {
		return 0, err
	}
	defer closeTable()
	chk, err := tbl.Check(ctx, hudi.CheckOptions{Archived: true, Footers: true})
	if err != nil {
		return 0, err
	}
	rep := checkReport{Location: redact.URL(location), SnapshotInstant: chk.Snapshot.Instant, CheckReport: chk, Status: statusOK}
	if len(chk.Problems) > 0 {
		rep.Status = statusDamaged
	}
	if asJSON {
		return len(chk.Problems), writeJSON(w, rep)
	}
	fmt.Fprintf(w, "table %s at snapshot %s\n", printable(rep.Location), printable(orNone(rep.SnapshotInstant)))
	fmt.Fprintf(w, "checked %d committed files (%d rows, %d bytes recorded); read %d footers\n", chk.Files, chk.Rows, chk.Bytes, chk.FootersRead)
	if n := len(chk.Unverified); n > 0 {
		fmt.Fprintf(w, "%d files of the snapshot are recorded by no commit lakestream can read (instants archived by Hudi): present, not verified\n", n)
	}
	if err := writeProblems(w, chk.Problems); err != nil {
		return 0, err
	}
	if len(chk.Problems) == 0 {
		fmt.Fprintln(w, "OK")
	}
	return len(chk.Problems), nil
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
	loc, err := objstore.ParseLocation(location)
	if err != nil || loc.S3 != nil {
		return err
	}
	if _, err := os.Stat(loc.Path); err != nil {
		return fmt.Errorf("table %s: %w", redact.URL(location), err)
	}
	return nil
}
