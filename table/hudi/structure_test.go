package hudi

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"testing"

	"github.com/lakestream/lakestream/internal/hudifixtures"
	"github.com/lakestream/lakestream/internal/objstore"
)

// javaBaseFileRE is the pattern Hudi's Java FSUtils accepts for base files.
var javaBaseFileRE = regexp.MustCompile(`^[a-zA-Z0-9-]+_[a-zA-Z0-9-]+_[0-9]+\.[a-zA-Z0-9]+$`)

// TestStructureMatchesFixtures writes a table with table/hudi and compares
// its structure with a table Spark wrote: property keys and checksum rule,
// base file names, partition metadata and commit JSON fields.
func TestStructureMatchesFixtures(t *testing.T) {
	ctx := context.Background()
	fixture := hudifixtures.Unpack(t, "v6_simplekeygen_nonhivestyle")
	root := t.TempDir()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	const schema = `{"type":"record","name":"events_record","namespace":"hoodie.events","fields":[{"name":"id","type":["null","string"],"default":null}]}`
	tbl, err := Create(ctx, b, Config{Name: "events", RecordKeyFields: []string{"id"}, PartitionFields: []string{"dt", "hr"}, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	x, err := tbl.Begin(ctx, BeginOptions{WriterID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	file := BaseFilePath("dt=2026-01-01/hr=00", BaseFileName(NewFileID(), WriteToken(0, 1, 0), x.Instant()))
	if err := b.Put(ctx, file, bytes.NewReader([]byte("PAR1"))); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Commit(ctx, CommitRequest{Files: []FileStat{{Path: file, NumRecords: 1}},
		Checkpoint: &Checkpoint{ID: 1, Offsets: Offsets{Topic: "t", Next: map[int32]int64{0: 1}}}}); err != nil {
		t.Fatal(err)
	}

	// Properties: every key Spark writes (with a partitioned table and a
	// precombine field only if one is configured), and a valid checksum.
	ours := readProps(t, filepath.Join(root, ".hoodie", "hoodie.properties"))
	theirs := readProps(t, filepath.Join(fixture, ".hoodie", "hoodie.properties"))
	for k := range theirs {
		if k == PropPrecombineField {
			continue
		}
		if _, ok := ours[k]; !ok {
			t.Errorf("hoodie.properties lacks %s, which Spark writes", k)
		}
	}
	if err := checkProperties("ours", ours); err != nil {
		t.Errorf("our properties do not pass our own check: %v", err)
	}
	for k, want := range map[string]string{PropVersion: "6", PropType: TableTypeCOW, PropLayoutVersion: "1", PropTimezone: "UTC", PropChecksum: "4274620294"} {
		if ours[k] != want {
			t.Errorf("%s = %q, want %q", k, ours[k], want)
		}
	}
	if _, ok := ours[PropMetadataParts]; ok {
		t.Errorf("%s set: readers would look for a metadata table", PropMetadataParts)
	}

	// Base file name and partition metadata.
	if !javaBaseFileRE.MatchString(filepath.Base(file)) {
		t.Errorf("base file name %s does not match Hudi's pattern", file)
	}
	pm := readProps(t, filepath.Join(root, "dt=2026-01-01", "hr=00", PartitionMetadataFile))
	fpm := readProps(t, filepath.Join(fixture, "10", PartitionMetadataFile))
	if got, want := sortedKeys(pm), sortedKeys(fpm); !equalStrings(got, want) {
		t.Errorf("partition metadata keys %v, Spark writes %v", got, want)
	}
	if pm["partitionDepth"] != "2" || pm["commitTime"] != x.Instant() {
		t.Errorf("partition metadata %v: want depth 2, commitTime %s", pm, x.Instant())
	}

	// Commit JSON: the same fields as Spark's, at the top and in each stat.
	ourCommit := readJSON(t, filepath.Join(root, ".hoodie", x.Instant()+".commit"))
	sparkCommit := readJSON(t, filepath.Join(fixture, ".hoodie", "20240418172804498.commit"))
	if got, want := sortedKeys(ourCommit), sortedKeys(sparkCommit); !equalStrings(got, want) {
		t.Errorf("commit fields %v, Spark writes %v", got, want)
	}
	ourStat := firstStat(t, ourCommit)
	sparkStat := firstStat(t, sparkCommit)
	if got, want := sortedKeys(ourStat), sortedKeys(sparkStat); !equalStrings(got, want) {
		t.Errorf("write stat fields %v, Spark writes %v", got, want)
	}
	extra := ourCommit["extraMetadata"].(map[string]any)
	for k, want := range map[string]string{MetaSchema: schema, MetaWriterID: "w", MetaCheckpointID: "1", MetaCheckpointKey: "t,0:1"} {
		if extra[k] != want {
			t.Errorf("extraMetadata[%s] = %v, want %q", k, extra[k], want)
		}
	}
	// Timeline files: requested (empty), inflight, completed.
	for _, name := range []string{x.Instant() + ".commit.requested", x.Instant() + ".inflight", x.Instant() + ".commit"} {
		if _, err := os.Stat(filepath.Join(root, ".hoodie", name)); err != nil {
			t.Errorf("timeline file %s: %v", name, err)
		}
	}
}

// TestConcurrentWritersGetUniqueInstants opens one table from many writers
// (separate Table objects on one bucket, one clock) and begins at once.
func TestConcurrentWritersGetUniqueInstants(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	clock := &fakeClock{now: fixedTime}
	if _, err := Create(ctx, b, Config{Name: "t", RecordKeyFields: []string{"k"}}); err != nil {
		t.Fatal(err)
	}
	const writers = 16
	instants := make([]string, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tbl, err := Open(ctx, b, WithClock(clock.Now))
			if err != nil {
				errs[i] = err
				return
			}
			x, err := tbl.Begin(ctx, BeginOptions{WriterID: "w"})
			if err != nil {
				errs[i] = err
				return
			}
			instants[i] = x.Instant()
			x.Close()
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, ts := range instants {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		if seen[ts] {
			t.Fatalf("instant %s issued twice", ts)
		}
		seen[ts] = true
	}
}

func readProps(t *testing.T, p string) Properties {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	props, err := ParseProperties(data)
	if err != nil {
		t.Fatal(err)
	}
	return props
}

func readJSON(t *testing.T, p string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func firstStat(t *testing.T, commit map[string]any) map[string]any {
	t.Helper()
	for _, stats := range commit["partitionToWriteStats"].(map[string]any) {
		return stats.([]any)[0].(map[string]any)
	}
	t.Fatal("commit has no write stats")
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
