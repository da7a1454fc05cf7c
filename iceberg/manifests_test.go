package iceberg

import (
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// TestManifestsMerged checks that the current snapshot's manifest list
// stays short over many commits: every commit's fast append adds a
// manifest, and without merging a reader's query planning opens one
// manifest per commit the table ever had.
func TestManifestsMerged(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	p := f.publisher()
	const commits = 150
	for range commits {
		ts := f.commit(f.events(5, base, 2))
		if _, err := p.Publish(f.ctx, ts); err != nil {
			t.Fatal(err)
		}
	}
	mfs, _ := currentManifests(t, f, p)
	t.Logf("%d commits: %d manifests in the current snapshot", commits, len(mfs))
	if len(mfs) >= 100 {
		t.Errorf("%d manifests after %d commits, want fewer than 100 (merged)", len(mfs), commits)
	}
	f.checkSame(p, testColumns)
}

// TestPropertiesBroughtUpToDate checks that the publisher restores the
// table properties it owns on a table whose properties differ (an older
// lakestream's table, or one an engine changed) before it publishes.
func TestPropertiesBroughtUpToDate(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	f.commit(f.events(20, base, 2))
	p := f.publisher()
	catchUp(t, f, p)
	s := p.newSession(f.ctx)
	st, err := s.state()
	if err != nil {
		t.Fatal(err)
	}
	changes := []table.Update{
		table.NewRemovePropertiesUpdate([]string{"commit.manifest-merge.enabled"}),
		table.NewSetPropertiesUpdate(iceberg.Properties{"gc.enabled": "true", "owner": "someone"}),
	}
	if _, _, err := s.commitAt(st.version, nil, changes); err != nil {
		t.Fatal(err)
	}
	f.commit(f.events(20, base, 2))
	catchUp(t, f, p)
	tbl, err := p.Table(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	props := tbl.Properties()
	for k, want := range map[string]string{"commit.manifest-merge.enabled": "true", "gc.enabled": "false", "owner": "someone"} {
		if props[k] != want {
			t.Errorf("property %s = %q, want %q", k, props[k], want)
		}
	}
	f.checkSame(p, testColumns)
}

// TestManifestMergeCount checks WithManifestMergeCount: a catch-up of
// three instants in one metadata version, merging at two manifests,
// leaves the current snapshot one manifest (what compat's engines read).
func TestManifestMergeCount(t *testing.T) {
	f := newFixture(t, "filesystem")
	base := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for range 3 {
		f.commit(f.events(20, base, 2))
	}
	p := f.publisher(WithManifestMergeCount(2))
	catchUp(t, f, p)
	mfs, tbl := currentManifests(t, f, p)
	if len(mfs) != 1 || tbl.Properties()["commit.manifest.min-count-to-merge"] != "2" {
		t.Fatalf("%d manifests, min-count-to-merge %q; want 1 and 2", len(mfs), tbl.Properties()["commit.manifest.min-count-to-merge"])
	}
	f.checkSame(p, testColumns)
}
