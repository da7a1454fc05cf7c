package ingest

import (
	"fmt"
	"testing"

	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/objstore"
)

// TestOpenPublishesIceberg: with Options.Iceberg, every commit is
// published as it completes (the engine's hook; nothing is caught up
// after the fact), the timeline is archived every checkpoint with the
// Iceberg snapshots expired first, and iceberg-go's scan of the Iceberg
// table returns exactly the rows of the Hudi snapshot. Without it, no
// metadata/ directory is written.
func TestOpenPublishesIceberg(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("iceberg=%v", on), func(t *testing.T) { testOpenPublishesIceberg(t, on) })
	}
}

func testOpenPublishesIceberg(t *testing.T, on bool) {
	const n = 600
	r := newRig(t, "filesystem")
	location := ""
	if on {
		location = r.location
	}
	// Four runs (a commit each, at least): the later ones open a table whose
	// Iceberg metadata exists, and archive.
	var eng *Engine
	for i := 1; i <= 4; i++ {
		r.produce(n / 4)
		eng = r.run(rigOptions(t, r.bucket, r.brokers, location))
		if (eng.Iceberg() != nil) != on {
			t.Fatalf("publisher %v with iceberg %v", eng.Iceberg(), on)
		}
	}

	var metadata bool
	if err := r.inner.List(r.ctx, iceberg.MetadataDir+"/", func(objstore.ObjectInfo) error { metadata = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if !on {
		if metadata {
			t.Fatal("iceberg switched off, but metadata/ was written")
		}
		return
	}
	checkIcebergMatchesHudi(t, r.ctx, eng.Table(), location, n)

	// The newest commit is the current snapshot, and the timeline was
	// archived (keep 2) with the snapshots expired first.
	p, err := iceberg.New(eng.Table(), location)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := p.Table(r.ctx)
	if err != nil || tbl == nil {
		t.Fatalf("iceberg table: %v, %v", tbl, err)
	}
	md := tbl.Metadata()
	tl, err := eng.Table().Timeline(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	completed := tl.Completed()
	if cur := md.CurrentSnapshot(); cur == nil || cur.Summary.Properties[iceberg.SummaryInstant] != completed[len(completed)-1].Time {
		t.Fatalf("current snapshot %+v, newest completed instant %s", cur, completed[len(completed)-1].Time)
	}
	if md.Properties()[iceberg.PropExpiredThrough] == "" || len(md.Snapshots()) > len(completed) {
		t.Fatalf("%d snapshots, expired through %q; %d completed instants on the active timeline",
			len(md.Snapshots()), md.Properties()[iceberg.PropExpiredThrough], len(completed))
	}
}
