package hudi

import (
	"archive/zip"
	"encoding/json"
	"io"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/hudifixtures"
)

// fixtureFiles returns the contents of the fixtures' .hoodie files whose
// names satisfy keep, as fuzz seeds.
func fixtureFiles(f *testing.F, keep func(name string) bool) map[string][]byte {
	out := map[string][]byte{}
	for _, name := range hudifixtures.Names {
		zr, err := zip.OpenReader(filepath.Join(hudifixtures.Dir(), name+".zip"))
		if err != nil {
			f.Fatalf("fixture %s: %v", name, err)
		}
		for _, zf := range zr.File {
			if strings.HasPrefix(zf.Name, "__MACOSX/") || !keep(zf.Name) {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				f.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				f.Fatal(err)
			}
			out[zf.Name] = data
		}
		zr.Close()
	}
	return out
}

func FuzzParseTimelineFileName(f *testing.F) {
	for name := range fixtureFiles(f, func(n string) bool { return strings.Contains(n, "/.hoodie/") }) {
		f.Add(filepath.Base(name))
	}
	for _, s := range []string{"20240101000000000.replacecommit.requested", "1.commit", "20240101000000000.", "20240101000000000.compaction.inflight", "00000000000000.deltacommit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		inst, ok, err := ParseTimelineFileName(name)
		if err != nil || !ok {
			return
		}
		// A parsed name renders back to itself (compactions complete as
		// commits and so do not round-trip).
		if inst.Action != ActionCompaction && inst.Action != ActionLogCompaction && inst.FileName() != name {
			t.Fatalf("%q parsed as %v renders as %q", name, inst, inst.FileName())
		}
	})
}

func FuzzParseCommitMetadata(f *testing.F) {
	for name, data := range fixtureFiles(f, func(n string) bool {
		return strings.HasSuffix(n, ".commit") || strings.HasSuffix(n, ".inflight") || strings.HasSuffix(n, ".replacecommit")
	}) {
		f.Add(data, !strings.HasSuffix(name, ".inflight"))
	}
	f.Fuzz(func(t *testing.T, data []byte, completed bool) {
		m, err := ParseCommitMetadata("x", data, completed)
		checkAgainstUnmarshal(t, data, m, err)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("marshal parsed metadata: %v", err)
		}
		m2, err := ParseCommitMetadata("x", out, completed)
		if err != nil {
			t.Fatalf("re-parse of marshalled metadata: %v\n%s", err, out)
		}
		if completed && !reflect.DeepEqual(statPaths(m), statPaths(m2)) {
			t.Fatalf("paths changed in round trip")
		}
	})
}

// checkAgainstUnmarshal compares the streaming decoder's outcome with
// json.Unmarshal's on the same document: what the decoder accepts,
// Unmarshal accepts with the same content, unless the document's keys
// differ from Hudi's only in case (which Unmarshal folds and the decoder
// does not).
func checkAgainstUnmarshal(t *testing.T, data []byte, m *CommitMetadata, err error) {
	if err != nil {
		return // stricter than Unmarshal is fine (exact keys, trailing data)
	}
	// json.Unmarshal matches keys case-insensitively ("CompACted" is
	// compacted to it); the decoder only Hudi's exact keys, others are
	// skipped: such documents are not compared.
	var keys map[string]json.RawMessage
	if json.Unmarshal(data, &keys) == nil {
		names := []string{"partitionToWriteStats", "compacted", "extraMetadata", "operationType", "partitionToReplaceFileIds"}
		for k := range keys {
			for _, n := range names {
				if k != n && strings.EqualFold(k, n) {
					return
				}
			}
		}
	}
	var ref CommitMetadata
	if refErr := json.Unmarshal(data, &ref); refErr != nil {
		t.Fatalf("decoder accepted what json.Unmarshal refuses (%v):\n%s", refErr, data)
	}
	a, err1 := m.digest()
	b, err2 := ref.digest()
	if err1 != nil || err2 != nil || a != b {
		t.Fatalf("decoder and json.Unmarshal differ on:\n%s", data)
	}
}

func statPaths(m *CommitMetadata) []string {
	var out []string
	for _, st := range m.PartitionToWriteStats {
		for _, s := range st {
			if s.Path != nil {
				out = append(out, *s.Path)
			}
		}
	}
	sort.Strings(out)
	return out
}

func FuzzParseProperties(f *testing.F) {
	for _, data := range fixtureFiles(f, func(n string) bool {
		return strings.HasSuffix(n, "hoodie.properties") || strings.HasSuffix(n, ".hoodie_partition_metadata")
	}) {
		f.Add(data)
	}
	f.Add([]byte("a\\\n  b=c\\u0041\\\\\n! comment\nkey\\ with\\ space : v"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProperties(data)
		if err != nil {
			return
		}
		// What we write, we read back identically.
		q, err := ParseProperties(p.Marshal(fixedTime))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(map[string]string(p), map[string]string(q)) {
			t.Fatalf("round trip changed properties:\n%q\n%q", p, q)
		}
	})
}

func FuzzParseCheckpointKey(f *testing.F) {
	for _, s := range []string{"pageviews,0:10,1:20", "t", "a.b_c-d,2147483647:9223372036854775807", "t,0:1,0:2", "t,-1:0", ",0:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseCheckpointKey(s)
		if err != nil {
			return
		}
		o2, err := ParseCheckpointKey(o.String())
		if err != nil || !reflect.DeepEqual(o, o2) {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, o, o.String(), o2, err)
		}
	})
}
