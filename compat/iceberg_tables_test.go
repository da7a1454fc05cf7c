//go:build compat

package compat

// The Iceberg side of the compat tables: ingestd publishes each table it
// writes as Iceberg too (and the compactor its replacecommits); the
// publisher's catch-up then publishes what nobody published (the copied
// torture_pending table). This is the only file of the Iceberg checks that
// uses hudi.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// icebergSpec is what the Iceberg checkers are asked about one table.
type icebergSpec struct {
	Name            string            `json:"name"`
	Path            string            `json:"path"`     // the table root, a local path
	Location        string            `json:"location"` // the Iceberg location (file:///...)
	Metadata        string            `json:"metadata"` // the current metadata file, absolute
	Columns         []column          `json:"columns"`
	PartitionFields []string          `json:"partition_fields"`
	Partition       map[string]string `json:"partition"`       // partition field -> value, for the pruning query
	PartitionFiles  int               `json:"partition_files"` // data files of that partition: all a pruned scan reads
	Files           int               `json:"files"`           // data files of the snapshot
	AsOf            string            `json:"as_of"`           // Hudi instant for time travel
	AsOfSnapshot    int64             `json:"as_of_snapshot"`  // the Iceberg snapshot that publishes it
	Snapshots       []icebergSnapshot `json:"snapshots"`       // the snapshots of the metadata, oldest first
	Current         int64             `json:"current"`         // current-snapshot-id
	Notes           []string          `json:"notes,omitempty"`
}

// icebergSnapshot is one snapshot as its summary names it.
type icebergSnapshot struct {
	ID        int64  `json:"snapshot_id"`
	Instant   string `json:"instant"`   // lakestream.hudi.instant
	Action    string `json:"action"`    // lakestream.hudi.action
	Operation string `json:"operation"` // append, replace...
}

// icebergRef is DuckDB's (and table/hudi's) answer for one Iceberg table.
type icebergRef struct {
	Spec      icebergSpec `json:"spec"`
	Snapshot  result      `json:"snapshot"`
	Partition result      `json:"partition"`
	AsOf      result      `json:"as_of"`
	// Partitions are the rows and data files of each partition of the
	// snapshot (dt=.../hr=...).
	Partitions map[string]partitionStats `json:"partitions"`
	// Instants are the completed commits and replacecommits of the
	// active timeline, oldest first: each has one snapshot.
	Instants []string `json:"instants"`
}

// partitionStats is what an engine's partitions metadata table says of
// one partition.
type partitionStats struct {
	Records int64 `json:"records"`
	Files   int64 `json:"files"`
}

// icebergLocation is the Iceberg location of a local table.
func icebergLocation(t *testing.T, root string) string {
	t.Helper()
	loc, err := iceberg.TableLocation("file://" + root)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func openTable(ctx context.Context, t *testing.T, root string) (*hudi.Table, func()) {
	t.Helper()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := hudi.Open(ctx, b)
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	return tab, func() { b.Close() }
}

// publishIceberg publishes every completed instant of the table not yet
// published (the publisher's catch-up, as at an ingestd start) and
// returns them. Its appends merge manifests as soon as a snapshot lists
// two (ingestd's tables merge at 100, more commits than a compat table
// has), so that the engines read merged manifests: the torture_pending
// copy's 3 instants are published in one metadata version whose current
// snapshot lists one merged manifest.
func publishIceberg(ctx context.Context, t *testing.T, root string) []string {
	t.Helper()
	tab, done := openTable(ctx, t, root)
	defer done()
	p, err := iceberg.New(tab, icebergLocation(t, root), iceberg.WithManifestMergeCount(2))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.CatchUp(ctx)
	if err != nil {
		t.Fatalf("iceberg catch-up of %s: %v", root, err)
	}
	return res.Published
}

// copyTreeExcept copies src to dst (copyTree) but for the top-level
// directory skip of dst.
func copyTreeExcept(src, dst, skip string) error {
	if err := copyTree(src, dst); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(dst, skip))
}

// makeIcebergReference reads the table with table/hudi (timeline, snapshot)
// and DuckDB (the rows of the snapshot's files), and the Iceberg metadata
// for the snapshot IDs. c is the table's compaction, if any.
func makeIcebergReference(ctx context.Context, t *testing.T, db *sql.DB, tb table, c *compaction) icebergRef {
	t.Helper()
	tab, done := openTable(ctx, t, tb.Root)
	defer done()
	tl, err := tab.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tab.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var instants []string
	for _, e := range tl.Completed() {
		if e.Action == hudi.ActionCommit || e.Action == hudi.ActionReplaceCommit {
			instants = append(instants, e.Time)
		}
	}
	if len(instants) < 3 {
		t.Fatalf("%s: %d completed instants on the active timeline, want at least 3", tb.Name, len(instants))
	}
	// Time travel: the middle instant of the active timeline, or the
	// compaction's (a commit before it: the replaced files are visible
	// then, the merged ones not), as the Hudi reference.
	asOf := instants[len(instants)/2]
	if c != nil {
		asOf = c.AsOf
	}
	var all, old []string
	parts := map[string][]string{}
	for _, f := range snap.Files {
		local := tb.Root + "/" + f.Path
		all = append(all, local)
		parts[f.Partition] = append(parts[f.Partition], local)
		if f.Instant <= asOf {
			old = append(old, local)
		}
	}
	partPath := sortedKeys(parts)[0]
	if c != nil {
		partPath = c.Partition
		for _, f := range c.Replaced {
			if f.Instant <= asOf {
				old = append(old, tb.Root+"/"+f.Path)
			}
		}
	}
	partition := map[string]string{}
	for _, kv := range strings.Split(partPath, "/") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("%s: partition %q is not hive style", tb.Name, partPath)
		}
		partition[k] = v
	}
	fields := tab.Config().PartitionFields
	cols := columns(ctx, t, db, all)
	ref := icebergRef{
		Spec: icebergSpec{Name: tb.Name, Path: tb.Root, Location: icebergLocation(t, tb.Root), Columns: cols,
			PartitionFields: fields, Partition: partition, PartitionFiles: len(parts[partPath]), Files: len(all),
			AsOf: asOf, Notes: tb.Notes},
		Snapshot:  duckResult(ctx, t, db, all, cols, fields, false),
		Partition: duckResult(ctx, t, db, parts[partPath], cols, fields, true),
		AsOf:      duckResult(ctx, t, db, old, cols, fields, false),
		Instants:  instants,
	}
	ref.Partitions = map[string]partitionStats{}
	for p, files := range parts {
		ref.Partitions[p] = partitionStats{Records: ref.Snapshot.Partitions[p], Files: int64(len(files))}
	}
	if ref.Snapshot.Count != int64(tb.Good) {
		t.Fatalf("%s: DuckDB reads %d rows from the snapshot, %d good records were produced", tb.Name, ref.Snapshot.Count, tb.Good)
	}

	// The metadata: the snapshots and what their summaries name.
	md := readIcebergMetadata(t, tb.Root)
	ref.Spec.Metadata, ref.Spec.Snapshots, ref.Spec.Current = md.path, md.snapshots, md.current
	for _, s := range md.snapshots {
		if s.Instant == asOf {
			ref.Spec.AsOfSnapshot = s.ID
		}
	}
	return ref
}

type icebergMetadata struct {
	path      string
	current   int64
	snapshots []icebergSnapshot
}

// readIcebergMetadata reads the metadata file version-hint.text names.
func readIcebergMetadata(t *testing.T, root string) icebergMetadata {
	t.Helper()
	hint, err := os.ReadFile(filepath.Join(root, "metadata", "version-hint.text"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(hint)))
	if err != nil {
		t.Fatalf("%s: version-hint.text %q: %v", root, hint, err)
	}
	p := filepath.Join(root, "metadata", fmt.Sprintf("v%d.metadata.json", v))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Current   *int64 `json:"current-snapshot-id"`
		Snapshots []struct {
			ID       int64             `json:"snapshot-id"`
			Sequence int64             `json:"sequence-number"`
			Summary  map[string]string `json:"summary"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	sort.Slice(m.Snapshots, func(i, j int) bool { return m.Snapshots[i].Sequence < m.Snapshots[j].Sequence })
	out := icebergMetadata{path: p}
	if m.Current != nil {
		out.current = *m.Current
	}
	for _, s := range m.Snapshots {
		out.snapshots = append(out.snapshots, icebergSnapshot{ID: s.ID, Instant: s.Summary[iceberg.SummaryInstant],
			Action: s.Summary[iceberg.SummaryAction], Operation: s.Summary["operation"]})
	}
	return out
}
