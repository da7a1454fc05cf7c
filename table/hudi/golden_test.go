package hudi

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/lakestream/lakestream/internal/hudifixtures"
	"github.com/lakestream/lakestream/internal/objstore"
)

// TestFixtures opens every Spark-written fixture table and compares its
// timeline, snapshot and checkpoints with testdata/fixtures.
func TestFixtures(t *testing.T) {
	datadriven.RunTest(t, "testdata/fixtures", func(t *testing.T, d *datadriven.TestData) string {
		var name string
		d.ScanArgs(t, "fixture", &name)
		root := hudifixtures.Unpack(t, name)
		b, err := objstore.NewFilesystem(root)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		tbl, err := Open(ctx, b)
		if err != nil {
			return "error: " + err.Error()
		}
		switch d.Cmd {
		case "timeline":
			tl, err := tbl.Timeline(ctx)
			if err != nil {
				return "error: " + err.Error()
			}
			return formatTimeline(tl)
		case "snapshot":
			snap, err := tbl.Snapshot(ctx)
			if err != nil {
				return "error: " + err.Error()
			}
			return formatSnapshot(snap)
		case "config":
			c := tbl.Config()
			return fmt.Sprintf("name=%s database=%s key=%s partitions=%s keygen=%s hive=%v\n",
				c.Name, c.Database, strings.Join(c.RecordKeyFields, ","), strings.Join(c.PartitionFields, ","),
				c.KeyGenerator, *c.HiveStylePartitioning)
		case "checkpoints":
			cp, err := tbl.Checkpoints(ctx)
			if err != nil {
				return "error: " + err.Error()
			}
			return formatCheckpoints(cp)
		}
		t.Fatalf("unknown command %q", d.Cmd)
		return ""
	})
}

func formatTimeline(tl *Timeline) string {
	var b strings.Builder
	for _, e := range tl.Entries {
		fmt.Fprintf(&b, "%s %s %s\n", e.Time, e.Action, e.State)
	}
	if b.Len() == 0 {
		return "(empty)\n"
	}
	return b.String()
}

func formatSnapshot(s *Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "instant: %s\n", s.Instant)
	for _, f := range s.Files {
		fmt.Fprintf(&b, "%s fileId=%s partition=%q instant=%s\n", f.Path, f.FileID, f.Partition, f.Instant)
	}
	return b.String()
}

func formatCheckpoints(c *Checkpoints) string {
	var b strings.Builder
	ws := make([]string, 0, len(c.Writers))
	for w := range c.Writers {
		ws = append(ws, w)
	}
	sort.Strings(ws)
	for _, w := range ws {
		cp := c.Writers[w]
		fmt.Fprintf(&b, "writer %s checkpoint=%d instant=%s offsets=%s\n", w, cp.CheckpointID, cp.Instant, cp.Offsets)
	}
	for _, p := range c.SortedPartitions() {
		fmt.Fprintf(&b, "partition %s/%d next=%d instant=%s writer=%s checkpoint=%d\n", p.Topic, p.Partition, p.Next, p.Instant, p.WriterID, p.CheckpointID)
	}
	if b.Len() == 0 {
		return "(none)\n"
	}
	return b.String()
}
