package iceberg

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
)

// TestCatchUpBatches checks a catch-up that publishes several instants
// per metadata version: every instant still gets a snapshot of its own,
// each the child of the one before, with its instant's summary; a batch
// ends where the schema changes (the change is a version of its own); the
// table reads as Hudi's snapshot, as when every instant is committed
// alone.
func TestCatchUpBatches(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 5 {
		f.commit(f.events(60, base, 2))
	}
	f.replace(partitionPath(base, false)) // a replacecommit inside a batch: reads the staged files
	// userId becomes optional: another schema, the same field IDs.
	f.schema = testSchema(t, true)
	for range 3 {
		f.commit(f.events(60, base, 2))
	}
	instants := f.completed()

	check := func(t *testing.T, perCommit, wantVersion int) digest {
		defer func(parent testing.TB) { f.t = parent }(f.t)
		f.t = t
		removeIcebergMetadata(t, f)
		p := f.publisher(WithInstantsPerCommit(perCommit))
		res := catchUp(t, f, p)
		if !slices.Equal(res.Published, instants) {
			t.Fatalf("published %v, want %v", res.Published, instants)
		}
		tbl, err := p.Table(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := MetadataKey(wantVersion); !strings.HasSuffix(tbl.MetadataLocation(), want) {
			t.Errorf("newest metadata %s, want %s", tbl.MetadataLocation(), want)
		}
		md := tbl.Metadata()
		snaps := md.Snapshots()
		if len(snaps) != len(instants) {
			t.Fatalf("%d snapshots, want %d", len(snaps), len(instants))
		}
		cur := md.CurrentSchema().ID
		for i, sn := range snaps {
			if got := sn.Summary.Properties[SummaryInstant]; got != instants[i] {
				t.Errorf("snapshot %d is of instant %s, want %s", i, got, instants[i])
			}
			if i > 0 && (sn.ParentSnapshotID == nil || *sn.ParentSnapshotID != snaps[i-1].SnapshotID) {
				t.Errorf("snapshot %d's parent is %v, want %d", i, sn.ParentSnapshotID, snaps[i-1].SnapshotID)
			}
			// Files of the wider schema (c7 on) are published under it.
			if sn.SchemaID == nil || (*sn.SchemaID == cur) != (i >= 6) {
				t.Errorf("snapshot %d: schema %s, the current one is %d", i, fmtID(sn.SchemaID), cur)
			}
			wantOp := table.OpAppend
			if i == 5 {
				wantOp = table.OpReplace
			}
			if sn.Summary.Operation != wantOp {
				t.Errorf("snapshot %d: operation %s, want %s", i, sn.Summary.Operation, wantOp)
			}
		}
		if len(md.Schemas()) != 2 {
			t.Errorf("%d schemas, want 2", len(md.Schemas()))
		}
		return f.checkSame(p, testColumns)
	}
	var batched, alone digest
	// 1 create, [c1 c2 c3 c4], [c5 r6], the schema change, [c7 c8 c9].
	t.Run("batched", func(t *testing.T) { batched = check(t, 4, 5) })
	// 1 create, one per instant, the schema change.
	t.Run("alone", func(t *testing.T) { alone = check(t, 1, 11) })
	if batched != alone {
		t.Fatalf("batched table reads %+v, alone %+v", batched, alone)
	}
}

func fmtID(id *int) string {
	if id == nil {
		return "none"
	}
	return strconv.Itoa(*id)
}
