package hudi

import (
	"strings"
	"testing"
	"time"
)

var fixedTime = time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)

func TestPropertiesEscaping(t *testing.T) {
	p := Properties{"hoodie.table.create.schema": `{"type":"record","fields":[{"name":"a=b"}]}`, "k": " leading space", "u": "é\u2028"}
	text := string(p.Marshal(fixedTime))
	if !strings.Contains(text, `hoodie.table.create.schema={"type"\:"record","fields"\:[{"name"\:"a\=b"}]}`) {
		t.Errorf("schema not escaped as Java does:\n%s", text)
	}
	q, err := ParseProperties([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p {
		if q[k] != v {
			t.Errorf("%s: got %q, want %q", k, q[k], v)
		}
	}
}

func TestInstantTimes(t *testing.T) {
	ts := FormatInstantTime(time.Date(2024, 4, 18, 17, 35, 50, 988_000_000, time.FixedZone("CDT", -5*3600)))
	if ts != "20240418223550988" {
		t.Fatalf("FormatInstantTime = %s, want UTC 20240418223550988", ts)
	}
	back, err := ParseInstantTime(ts)
	if err != nil || !back.Equal(time.Date(2024, 4, 18, 22, 35, 50, 988_000_000, time.UTC)) {
		t.Fatalf("ParseInstantTime(%s) = %v, %v", ts, back, err)
	}
	for _, tc := range []struct {
		name string
		want Instant
	}{
		{"20240418173550988.commit.requested", Instant{"20240418173550988", ActionCommit, StateRequested}},
		{"20240418173550988.inflight", Instant{"20240418173550988", ActionCommit, StateInflight}},
		{"20240418173550988.commit", Instant{"20240418173550988", ActionCommit, StateCompleted}},
		{"20240707001303088.replacecommit.inflight", Instant{"20240707001303088", ActionReplaceCommit, StateInflight}},
		{"20240707001303088.replacecommit", Instant{"20240707001303088", ActionReplaceCommit, StateCompleted}},
		{"20240707001303088.clean.requested", Instant{"20240707001303088", ActionClean, StateRequested}},
	} {
		got, ok, err := ParseTimelineFileName(tc.name)
		if err != nil || !ok || got != tc.want {
			t.Errorf("ParseTimelineFileName(%s) = %v, %v, %v; want %v", tc.name, got, ok, err, tc.want)
		}
		if got.FileName() != tc.name {
			t.Errorf("%v.FileName() = %s, want %s", got, got.FileName(), tc.name)
		}
	}
	if _, ok, err := ParseTimelineFileName("hoodie.properties"); ok || err != nil {
		t.Errorf("hoodie.properties: ok=%v err=%v, want not an instant", ok, err)
	}
}

func TestBaseFileNames(t *testing.T) {
	id := NewFileID()
	name := BaseFileName(id, WriteToken(3, 17, 0), "20260101000000000")
	fid, tok, ts, ok := ParseBaseFileName(name)
	if !ok || fid != id || tok != "3-17-0" || ts != "20260101000000000" {
		t.Fatalf("ParseBaseFileName(%s) = %s %s %s %v", name, fid, tok, ts, ok)
	}
	// Hudi's FSUtils takes the file ID up to the first '_'.
	if strings.Contains(id, "_") || !strings.HasSuffix(id, "-0") || len(id) != 38 {
		t.Fatalf("file ID %q is not <uuid>-0", id)
	}
	for _, bad := range []string{"x.parquet", "a_b.parquet", "a_b_c.parquet", "a_b_1.orc", "../a_b_1.parquet"} {
		if _, _, _, ok := ParseBaseFileName(bad); ok {
			t.Errorf("%q accepted as a base file name", bad)
		}
	}
}

func TestChecksum(t *testing.T) {
	// From the fixtures' hoodie.properties.
	for _, tc := range []struct {
		db, name string
		want     uint32
	}{
		{"default", "v6_simplekeygen_nonhivestyle_overwritetable", 3443920226},
		{"default", "v6_empty", 1980710965},
		{"default", "v6_nonpartitioned", 1363530505},
	} {
		if got := TableChecksum(tc.db, tc.name); got != tc.want {
			t.Errorf("TableChecksum(%s, %s) = %d, want %d", tc.db, tc.name, got, tc.want)
		}
	}
}

func TestConfigValidateReportsEverything(t *testing.T) {
	err := Config{Name: "bad name!", Database: "x-y", PartitionFields: []string{"a/b"}}.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"table name", "database name", "record key", `"a/b"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
}
