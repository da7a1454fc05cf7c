package hudi

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/avro/ocf"

	"github.com/lakestream/lakestream/internal/hudifixtures"
	"github.com/lakestream/lakestream/internal/objstore"
)

// TestClusteringPlanRoundTrip: the plan is an Avro object container of a
// HoodieRequestedReplaceMetadata of operation type CLUSTER, with Hudi's
// record names, and reads back as it was written.
func TestClusteringPlanRoundTrip(t *testing.T) {
	p := &ClusteringPlan{
		Groups: []ClusteringGroup{{
			Slices: []ClusteringSlice{
				{DataFilePath: "dt=1/a_0-1-0_1.parquet", FileID: "a", PartitionPath: "dt=1"},
				{DataFilePath: "dt=1/b_0-1-0_1.parquet", FileID: "b", PartitionPath: "dt=1"},
			},
			NumOutputFileGroups: 1,
			Metrics:             map[string]float64{"TOTAL_IO_MB": 2},
		}},
		Extra: map[string]string{"lakestream.fingerprint": "f"},
	}
	data, err := EncodeClusteringPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("Obj\x01")) {
		t.Fatalf("not an Avro object container: %q", data[:8])
	}
	r, err := ocf.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Metadata()["avro.schema"]; !bytes.Contains(got, []byte(`"org.apache.hudi.avro.model"`)) || !bytes.Contains(got, []byte("HoodieClusteringPlan")) {
		t.Fatalf("writer schema %s", got)
	}
	r.Close()
	got, err := DecodeClusteringPlan("x", data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("decoded %+v, want %+v", got, p)
	}
	if fg := got.FileGroups(); !reflect.DeepEqual(fg, map[string][]string{"dt=1": {"a", "b"}}) {
		t.Fatalf("file groups %v", fg)
	}
	if got, err := DecodeClusteringPlan("x", nil); got != nil || err != nil {
		t.Fatalf("empty requested: %v, %v", got, err)
	}
	if _, err := DecodeClusteringPlan("x", []byte("garbage")); err == nil {
		t.Fatal("garbage decoded")
	}
}

// TestClusteringConflicts: overlapping plans conflict, pending or
// completed; disjoint ones do not; a rolled-back one is ignored; a pending
// replacecommit without a plan conflicts with everything.
func TestClusteringConflicts(t *testing.T) {
	c := newCheckTable(t)
	a := c.commit("dt=1", 10, 10)
	b := c.commit("dt=1", 10, 10)
	d := c.commit("dt=2", 10, 10)
	slice := func(path string) ClusteringSlice {
		part, name := splitTablePath(path)
		id, _, _, _ := ParseBaseFileName(name)
		return ClusteringSlice{DataFilePath: path, FileID: id, PartitionPath: part}
	}
	begin := func(p *ClusteringPlan) *Txn {
		var req []byte
		if p != nil {
			var err error
			if req, err = EncodeClusteringPlan(p); err != nil {
				t.Fatal(err)
			}
		}
		x, err := c.tbl.Begin(c.ctx, BeginOptions{WriterID: "compactor", Action: ActionReplaceCommit, Requested: req})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		return x
	}
	pa := &ClusteringPlan{Groups: []ClusteringGroup{{Slices: []ClusteringSlice{slice(a), slice(b)}}}}
	pb := &ClusteringPlan{Groups: []ClusteringGroup{{Slices: []ClusteringSlice{slice(b)}}}}
	pd := &ClusteringPlan{Groups: []ClusteringGroup{{Slices: []ClusteringSlice{slice(d)}}}}
	xa, xb, xd := begin(pa), begin(pb), begin(pd)
	conflicts := func(x *Txn, p *ClusteringPlan) []string {
		got, err := c.tbl.ClusteringConflicts(c.ctx, x.Instant(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ri := range got {
			out = append(out, ri.Instant)
		}
		return out
	}
	if got := conflicts(xa, pa); !slices.Equal(got, []string{xb.Instant()}) {
		t.Fatalf("a conflicts with %v, want b %s", got, xb.Instant())
	}
	if got := conflicts(xd, pd); len(got) != 0 {
		t.Fatalf("d conflicts with %v", got)
	}
	if err := xb.Abort(c.ctx); err != nil {
		t.Fatal(err)
	}
	if got := conflicts(xa, pa); len(got) != 0 {
		t.Fatalf("after b's rollback, a conflicts with %v", got)
	}
	// a completes; a later plan over a's file groups conflicts with it.
	merged := BaseFilePath("dt=1", BaseFileName(NewFileID(), WriteToken(0, 0, 0), xa.Instant()))
	if err := c.b.Put(c.ctx, merged, bytes.NewReader(parquetRows(t, 20, 100))); err != nil {
		t.Fatal(err)
	}
	if _, err := xa.Commit(c.ctx, CommitRequest{Files: []FileStat{{Path: merged, NumRecords: 20}}, Replaced: pa.FileGroups()}); err != nil {
		t.Fatal(err)
	}
	xc := begin(pb)
	if got := conflicts(xc, pb); !slices.Equal(got, []string{xa.Instant()}) {
		t.Fatalf("c conflicts with %v, want the completed a %s", got, xa.Instant())
	}
	// Skipped (known to hold none of c's file groups): not read.
	if got, err := c.tbl.ClusteringConflicts(c.ctx, xc.Instant(), pb, func(e TimelineEntry) bool { return e.Time == xa.Instant() }); err != nil || len(got) != 0 {
		t.Fatalf("skipping a: %v, %v", got, err)
	}
	// A replacecommit without a plan: its file groups are unknown.
	xu := begin(nil)
	if got := conflicts(xd, pd); !slices.Equal(got, []string{xu.Instant()}) {
		t.Fatalf("d conflicts with %v, want the planless %s", got, xu.Instant())
	}
}

// TestFenceClustering: a live pending replacecommit is fenced (its commit
// fails with ErrFenced, its file removed); a decided one is not.
func TestFenceClustering(t *testing.T) {
	c := newCheckTable(t)
	c.commit("dt=1", 10, 10)
	plan := func(writer string) []byte {
		p := &ClusteringPlan{Groups: []ClusteringGroup{{Slices: []ClusteringSlice{{FileID: "a", PartitionPath: "dt=1"}}}}, Extra: map[string]string{}}
		if writer != "" {
			p.Extra[ClusteringPlanWriter] = writer
		}
		data, err := EncodeClusteringPlan(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	x, err := c.tbl.Begin(c.ctx, BeginOptions{WriterID: "compactor-b", Action: ActionReplaceCommit, Requested: plan("compactor-b")})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	out := BaseFilePath("dt=1", BaseFileName(NewFileID(), WriteToken(0, 0, 0), x.Instant()))
	if err := c.b.Put(c.ctx, out, bytes.NewReader(parquetRows(t, 10, 100))); err != nil {
		t.Fatal(err)
	}
	fenced, err := c.tbl.FenceClustering(c.ctx, x.Instant(), "compactor-a")
	if err != nil || !fenced {
		t.Fatalf("fence a live replacecommit: %v, %v", fenced, err)
	}
	if _, err := x.Commit(c.ctx, CommitRequest{Files: []FileStat{{Path: out, NumRecords: 10}}}); !errors.Is(err, ErrFenced) {
		t.Fatalf("commit after the fence: %v, want ErrFenced", err)
	}
	if _, err := c.b.Stat(c.ctx, out); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("the fenced instant's file: %v", err)
	}
	if fenced, err := c.tbl.FenceClustering(c.ctx, x.Instant(), "compactor-a"); err != nil || !fenced {
		t.Fatalf("fence again: %v, %v", fenced, err)
	}
	// Nor one whose plan no lakestream writer wrote.
	z, err := c.tbl.Begin(c.ctx, BeginOptions{WriterID: "compactor-b", Action: ActionReplaceCommit, Requested: plan("")})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if fenced, err := c.tbl.FenceClustering(c.ctx, z.Instant(), "compactor-a"); err != nil || fenced {
		t.Fatalf("fence Hudi's clustering: %v, %v", fenced, err)
	}
	if err := z.Abort(c.ctx); err != nil {
		t.Fatal(err)
	}
	// A completed one cannot be fenced.
	y, err := c.tbl.Begin(c.ctx, BeginOptions{WriterID: "compactor-b", Action: ActionReplaceCommit, Requested: plan("compactor-b")})
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if _, err := y.Commit(c.ctx, CommitRequest{}); err != nil {
		t.Fatal(err)
	}
	if fenced, err := c.tbl.FenceClustering(c.ctx, y.Instant(), "compactor-a"); err != nil || fenced {
		t.Fatalf("fence a completed replacecommit: %v, %v", fenced, err)
	}
}

// TestClusteringPlanHudiSchema: the requested replace Spark with Hudi 0.14
// wrote (an insert overwrite) reads as "not a clustering"; and a plan
// written here decodes under Hudi's own writer schema, taken from that
// file, with the same slices: Hudi's readers resolve it.
func TestClusteringPlanHudiSchema(t *testing.T) {
	root := hudifixtures.Unpack(t, "v6_simplekeygen_nonhivestyle_overwritetable")
	data, err := os.ReadFile(filepath.Join(root, ".hoodie", "20240707001303088.replacecommit.requested"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := DecodeClusteringPlan("x", data); p != nil || err != nil {
		t.Fatalf("Hudi's insert overwrite: %+v, %v; want no clustering", p, err)
	}
	r, err := ocf.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	hudiSchema := r.Schema()
	r.Close()
	ours, err := EncodeClusteringPlan(&ClusteringPlan{Groups: []ClusteringGroup{{Slices: []ClusteringSlice{
		{DataFilePath: "dt=1/a_0-1-0_1.parquet", FileID: "a", PartitionPath: "dt=1"},
		{DataFilePath: "dt=1/b_0-1-0_1.parquet", FileID: "b", PartitionPath: "dt=1"},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err = ocf.NewReader(bytes.NewReader(ours), ocf.WithReaderSchema(hudiSchema))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rec avroRequestedReplace
	if err := r.Decode(&rec); err != nil {
		t.Fatalf("decode under Hudi's schema: %v", err)
	}
	if rec.OperationType == nil || *rec.OperationType != OperationCluster || rec.ClusteringPlan == nil || rec.ClusteringPlan.InputGroups == nil {
		t.Fatalf("decoded %+v", rec)
	}
	slices := *(*rec.ClusteringPlan.InputGroups)[0].Slices
	if len(slices) != 2 || *slices[1].FileID != "b" || *slices[1].PartitionPath != "dt=1" || *slices[0].DataFilePath != "dt=1/a_0-1-0_1.parquet" {
		t.Fatalf("slices %+v", slices)
	}
	if p := rec.ClusteringPlan.PreserveHoodieMetadata; p == nil || !*p {
		t.Fatal("preserveHoodieMetadata not true")
	}
}
