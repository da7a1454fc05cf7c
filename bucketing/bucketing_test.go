package bucketing

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func micros(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func TestDefaultTemplate(t *testing.T) {
	tmpl, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tmpl.PartitionFields(), ","); got != "dt,hr" {
		t.Fatalf("partition fields %s", got)
	}
	p := NewPartitioner(tmpl)
	for _, tc := range []struct{ at, want string }{
		{"2026-11-21T07:15:42.123+00:00", "dt=2026-11-21/hr=07"},
		{"2026-11-21T07:59:59.999999Z", "dt=2026-11-21/hr=07"},
		{"2026-11-21T08:00:00Z", "dt=2026-11-21/hr=08"},
		{"2026-11-21T01:30:00+05:00", "dt=2026-11-20/hr=20"}, // UTC, not the offset's zone
		{"1969-12-31T23:30:00Z", "dt=1969-12-31/hr=23"},      // before the epoch
		{"2026-11-21T07:00:00Z", "dt=2026-11-21/hr=07"},
	} {
		got, err := p.Path(micros(tc.at), true, nil)
		if err != nil || got != tc.want {
			t.Errorf("Path(%s) = %q, %v; want %q", tc.at, got, err, tc.want)
		}
	}
	if _, err := p.Path(0, false, nil); !errors.Is(err, ErrNoEventTime) {
		t.Errorf("no event time: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { p.Path(micros("2026-11-21T07:15:42Z"), true, nil) }); n != 0 {
		t.Errorf("Path allocates %v times per record in the same hour", n)
	}
}

func TestTemplateFields(t *testing.T) {
	tmpl, err := ParseTemplate("country={country}/dt={eventTime:2006-01-02}/src=k{shard}x")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tmpl.Fields(), ","); got != "country,shard" {
		t.Fatalf("fields %s", got)
	}
	p := NewPartitioner(tmpl)
	for _, tc := range []struct {
		vals []Value
		want string
	}{
		{[]Value{{Bytes: []byte("FR")}, {Int: 7, IsInt: true}}, "country=FR/dt=2026-11-21/src=k7x"},
		{[]Value{{Bytes: []byte("../../etc")}, {Int: -1, IsInt: true}}, "country=%2E.%2F..%2Fetc/dt=2026-11-21/src=k-1x"},
		{[]Value{{Bytes: []byte("a/b=c d")}, {IsNull: true}}, "country=a%2Fb%3Dc%20d/dt=2026-11-21/src=kx"},
		{[]Value{{IsNull: true}, {Int: 1, IsInt: true}}, "country=__HIVE_DEFAULT_PARTITION__/dt=2026-11-21/src=k1x"},
		{[]Value{{Bytes: []byte(".hoodie")}, {Int: 1, IsInt: true}}, "country=%2Ehoodie/dt=2026-11-21/src=k1x"},
	} {
		got, err := p.Path(micros("2026-11-21T07:00:00Z"), true, tc.vals)
		if err != nil || got != tc.want {
			t.Errorf("Path(%v) = %q, %v; want %q", tc.vals, got, err, tc.want)
		}
	}
	if _, err := p.Path(0, true, []Value{{Bytes: []byte(strings.Repeat("x", 200))}, {}}); !errors.Is(err, ErrValueTooLong) {
		t.Errorf("long value: %v", err)
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", "empty"},
		{"dt", "want name=value"},
		{"dt={eventTime}", "needs a layout"},
		{"dt={eventTime:2006/01}", "unclosed"},
		{"dt={eventTime:}", "must not be empty or produce '/'"},
		{"dt={country:x}", "only eventTime takes a layout"},
		{"dt={unclosed", "unclosed"},
		{"d-t=x", "partition name"},
		{"a=}/b", "segment 1"},
	} {
		_, err := ParseTemplate(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTemplate(%q) = %v; want an error mentioning %q", tc.text, err, tc.want)
		}
	}
	// Every problem at once.
	_, err := ParseTemplate("x/y={eventTime}")
	if err == nil || !strings.Contains(err.Error(), "segment 1") || !strings.Contains(err.Error(), "segment 2") {
		t.Errorf("want both segments reported, got %v", err)
	}
}

func FuzzPartitionPath(f *testing.F) {
	f.Add("dt={eventTime:2006-01-02}/c={country}", []byte("../x"), int64(0))
	f.Add(DefaultTemplate, []byte{}, int64(-1))
	f.Add("a=b{country}c", []byte("\x00/\\."), int64(1<<60))
	f.Fuzz(func(t *testing.T, text string, value []byte, at int64) {
		tmpl, err := ParseTemplate(text)
		if err != nil {
			return
		}
		vals := make([]Value, len(tmpl.Fields()))
		for i := range vals {
			vals[i] = Value{Bytes: value}
		}
		path, err := NewPartitioner(tmpl).Path(at, true, vals)
		if err != nil {
			return
		}
		segs := strings.Split(path, "/")
		if len(segs) != len(tmpl.segments) {
			t.Fatalf("template %q value %q: path %q has %d segments, want %d", text, value, path, len(segs), len(tmpl.segments))
		}
		for _, s := range segs {
			name, v, ok := strings.Cut(s, "=")
			if !ok || name == "" || v == "" || v == "." || v == ".." || strings.HasPrefix(v, ".") || strings.ContainsAny(v, "\\\x00") {
				t.Fatalf("template %q value %q: unsafe segment %q in %q", text, value, s, path)
			}
		}
	})
}

func TestRouterRefusesUnevenKeyGroups(t *testing.T) {
	if _, err := NewRouter(3, 128); err == nil || !strings.Contains(err.Error(), "not a multiple") || !strings.Contains(err.Error(), "126 or 129") {
		t.Errorf("NewRouter(3, 128) = %v", err)
	}
	if _, err := NewRouter(4, 2); err == nil || !strings.Contains(err.Error(), "below parallelism") {
		t.Errorf("NewRouter(4, 2) = %v", err)
	}
	r, err := NewRouter(3, 0)
	if err != nil || r.MaxParallelism() != 129 {
		t.Errorf("NewRouter(3, 0) = %v, %v; want max parallelism 129", r, err)
	}
}

// TestRouterBalance: with the default max parallelism, uniformly random
// buckets spread evenly (the busiest worker within 10% of the idlest at
// 100k buckets), for parallelism 1..32.
func TestRouterBalance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buckets := make([]string, 100_000)
	for i := range buckets {
		buckets[i] = time.UnixMicro(rng.Int64N(1<<52)).UTC().Format("dt=2006-01-02/hr=15") + "/k=" + string(rune('a'+rng.IntN(26)))
	}
	for par := 1; par <= 32; par++ {
		r, err := NewRouter(par, 0)
		if err != nil {
			t.Fatal(err)
		}
		groups := make([]int, par)
		for g := range r.MaxParallelism() {
			groups[g*par/r.MaxParallelism()]++
		}
		for w := range groups {
			if groups[w] != groups[0] {
				t.Fatalf("parallelism %d: worker %d owns %d key groups, worker 0 owns %d", par, w, groups[w], groups[0])
			}
		}
		load := make([]int, par)
		for _, b := range buckets {
			load[r.Worker(b)]++
		}
		lo, hi := load[0], load[0]
		for _, n := range load {
			lo, hi = min(lo, n), max(hi, n)
		}
		if float64(hi)/float64(lo) > 1.1 {
			t.Errorf("parallelism %d: busiest/idlest = %d/%d = %.3f", par, hi, lo, float64(hi)/float64(lo))
		}
	}
}
