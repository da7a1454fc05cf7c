package hudi

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
)

// The archive file is valid JSON holding every archived instant's
// metadata as the completed file had it, the checkpoints first; an archive
// written in version 1 (checkpoints after the instants) reads the same.
func TestArchiveFileFormats(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMemory()
	if _, err := Create(ctx, mem, Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}}); err != nil {
		t.Fatal(err)
	}
	tbl, err := Open(ctx, mem)
	if err != nil {
		t.Fatal(err)
	}
	for c := 1; c <= 5; c++ {
		if err := commitOne(ctx, tbl, 0, c); err != nil {
			t.Fatal(err)
		}
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]*CommitMetadata{}
	for _, e := range tl.Completed() {
		m, err := tbl.ReadCommitMetadata(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		bodies[e.Time] = m
	}
	want, err := tbl.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tbl.Archive(ctx, ArchiveOptions{KeepCompleted: 1})
	if err != nil || len(res.Archived) != 4 {
		t.Fatalf("archive: %v, %+v", err, res)
	}
	data, err := objstore.ReadAll(ctx, mem, res.File)
	if err != nil {
		t.Fatal(err)
	}
	var v2 struct {
		Version     int          `json:"version"`
		Checkpoints *Checkpoints `json:"checkpoints"`
		Instants    []struct {
			Instant  string          `json:"instant"`
			Action   string          `json:"action"`
			Metadata json.RawMessage `json:"metadata"`
		} `json:"instants"`
	}
	if err := json.Unmarshal(data, &v2); err != nil {
		t.Fatalf("archive is not JSON: %v\n%s", err, data)
	}
	if v2.Version != 2 || len(v2.Instants) != 4 || bytes.Index(data, []byte(`"checkpoints"`)) > bytes.Index(data, []byte(`"instants"`)) {
		t.Fatalf("archive: version %d, %d instants, checkpoints after instants:\n%s", v2.Version, len(v2.Instants), data)
	}
	for _, ai := range v2.Instants {
		m, err := ParseCommitMetadata(ai.Instant, ai.Metadata, true)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := m.digest()
		b, _ := bodies[ai.Instant].digest()
		if a != b {
			t.Errorf("instant %s: archived metadata differs from the completed file", ai.Instant)
		}
	}
	got, err := tbl.Checkpoints(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after archiving: %+v (%v), want %+v", got, err, want)
	}
	// The same archive as version 1 wrote it.
	v1 := struct {
		Version     int             `json:"version"`
		Instants    json.RawMessage `json:"instants"`
		Checkpoints *Checkpoints    `json:"checkpoints"`
	}{1, nil, v2.Checkpoints}
	v1.Instants, _ = json.Marshal(v2.Instants)
	old, err := json.MarshalIndent(&v1, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Put(ctx, res.File, bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	got, err = tbl.Checkpoints(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("version 1 archive: %+v (%v), want %+v", got, err, want)
	}
	// A damaged archive is an error naming it.
	if err := mem.Put(ctx, res.File, strings.NewReader(`{"version":1,"instants":[{]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Checkpoints(ctx); err == nil || !strings.Contains(err.Error(), res.File) {
		t.Fatalf("damaged archive: %v", err)
	}
}
