package bucketing

import (
	"fmt"
	"slices"
	"testing"
)

// TestColumnValues: the partition fields that need columns of their own
// (all but "name={name}" segments), and their values read back from paths
// the partitioner made: unescaped, the Hive default partition a null.
func TestColumnValues(t *testing.T) {
	def, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if got := def.ColumnFields(); !slices.Equal(got, []string{"dt", "hr"}) {
		t.Fatalf("default template's column fields %v", got)
	}
	tmpl, err := ParseTemplate("country={country}/dt={eventTime:2006-01-02}/src=k{shard}x")
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpl.ColumnFields(); !slices.Equal(got, []string{"dt", "src"}) {
		t.Fatalf("column fields %v, want dt and src (country is the record's own field)", got)
	}
	p := NewPartitioner(tmpl)
	for _, tc := range []struct {
		vals []Value
		want []string // "<nil>" for a null
	}{
		{[]Value{{Bytes: []byte("FR")}, {Int: 7, IsInt: true}}, []string{"2026-11-21", "k7x"}},
		{[]Value{{Bytes: []byte("../../etc")}, {Bytes: []byte("a/b=c d%")}}, []string{"2026-11-21", "ka/b=c d%x"}},
	} {
		path, err := p.Path(micros("2026-11-21T07:00:00Z"), true, tc.vals)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tmpl.ColumnValues(path)
		if err != nil {
			t.Fatalf("ColumnValues(%q): %v", path, err)
		}
		var gotS []string
		for _, v := range got {
			gotS = append(gotS, fmt.Sprint(map[bool]string{true: "<nil>", false: string(v)}[v == nil]))
		}
		if !slices.Equal(gotS, tc.want) {
			t.Errorf("ColumnValues(%q) = %q, want %q", path, gotS, tc.want)
		}
	}
	nullTmpl, err := ParseTemplate("dt={eventTime:2006-01-02}/src={shard}")
	if err != nil {
		t.Fatal(err)
	}
	path, err := NewPartitioner(nullTmpl).Path(micros("2026-11-21T07:00:00Z"), true, []Value{{IsNull: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := nullTmpl.ColumnValues(path); err != nil || len(got) != 2 || got[1] != nil {
		t.Errorf("ColumnValues(%q) = %q, %v; want the default partition as a null", path, got, err)
	}
	for _, bad := range []string{"dt=2026-11-21", "dt=2026-11-21/hr=07/x=1", "day=2026-11-21/hr=07", "dt=%zz/hr=07"} {
		if _, err := def.ColumnValues(bad); err == nil {
			t.Errorf("ColumnValues(%q): no error", bad)
		}
	}
}
