package compaction

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

func TestBinPack(t *testing.T) {
	for _, tc := range []struct {
		sizes  []int64
		target int64
		want   string
	}{
		{nil, 10, ""},
		{[]int64{3, 3, 3, 3}, 10, "3+3+3 3"},
		{[]int64{5, 5, 5}, 10, "5+5 5"},
		{[]int64{12, 1, 1}, 10, "12 1+1"},
		{[]int64{1, 12, 1}, 10, "1 12 1"},
		{[]int64{10, 10}, 10, "10 10"},
	} {
		var files []hudi.BaseFile
		for i, s := range tc.sizes {
			files = append(files, hudi.BaseFile{Path: fmt.Sprint(i), SizeBytes: s})
		}
		var got []string
		for _, g := range binPack(files, tc.target) {
			var ss []string
			for _, f := range g {
				ss = append(ss, fmt.Sprint(f.SizeBytes))
			}
			got = append(got, strings.Join(ss, "+"))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("binPack(%v, %d) = %q, want %q", tc.sizes, tc.target, strings.Join(got, " "), tc.want)
		}
	}
}

// TestShards: the shards of a table are disjoint and cover it, and a
// partition's shard does not change.
func TestShards(t *testing.T) {
	const n = 4
	seen := make([]int, n)
	for h := range 200 {
		p := partitionOf(h)
		s := ShardOf(p, n)
		if s != ShardOf(p, n) || s < 0 || s >= n {
			t.Fatalf("shard of %s: %d", p, s)
		}
		seen[s]++
	}
	for i, c := range seen {
		if c < 20 {
			t.Errorf("shard %d has %d of 200 partitions", i, c)
		}
	}
	if got := ShardOf("dt=2026-12-01/hr=10", 4); got != 1 { // pinned: FNV-1a
		t.Errorf("ShardOf = %d, want 1: a change moves partitions between shards", got)
	}
}

// TestPlan: what a plan takes and leaves, on a table the writer wrote.
func TestPlan(t *testing.T) {
	f := newFixture(t, "filesystem")
	for range 3 {
		f.commit(100, 0, 1, 2)
	}
	f.commit(2000, 3) // one large file in hour 3
	f.commit(100, 3)
	// Another layout in hour 2: snappy instead of zstd.
	f.commitWith([]writer.Option{writer.WithCompression("snappy")}, 100, 2)
	f.commitWith([]writer.Option{writer.WithCompression("snappy")}, 100, 2)
	snap := f.snapshot()
	large := snap[partitionOf(3)][0].SizeBytes
	for _, bf := range snap[partitionOf(3)] {
		large = max(large, bf.SizeBytes)
	}
	now := time.Now()
	describe := func(p *PlanResult) string {
		var out []string
		for _, g := range p.Groups {
			out = append(out, fmt.Sprintf("%s:%d", strings.TrimPrefix(g.Partition, "dt=2026-12-01/"), len(g.Files)))
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name string
		opts []Option
		want string
		skip map[string]int
	}{
		{"default", nil, "hr=10:3 hr=11:3 hr=12:2 hr=12:3", map[string]int{SkipAlone: 1}},
		{"small includes the large file", []Option{SmallFileBytes(large + 1), TargetFileBytes(large + 1<<20)}, "hr=10:3 hr=11:3 hr=12:2 hr=12:3 hr=13:2", nil},
		{"min files", []Option{MinFiles(3)}, "hr=10:3 hr=11:3 hr=12:3", map[string]int{SkipAlone: 3}},
		{"quiet period", []Option{QuietPeriod(time.Hour), Clock(func() time.Time { return now })}, "", map[string]int{SkipQuiet: 12}},
		{"quiet past", []Option{QuietPeriod(time.Minute), Clock(func() time.Time { return now.Add(time.Hour) })}, "hr=10:3 hr=11:3 hr=12:2 hr=12:3", map[string]int{SkipAlone: 1}},
		{"target", []Option{SmallFileBytes(2 * snap[partitionOf(0)][0].SizeBytes), TargetFileBytes(2 * snap[partitionOf(0)][0].SizeBytes)}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Plan(f.ctx, f.table, append([]Option{SmallFileBytes(large), TargetFileBytes(8 << 20)}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "target" {
				// Files of one partition are about equal: groups of 2 at most.
				for _, g := range p.Groups {
					if len(g.Files) != 2 || g.Bytes > 2*snap[partitionOf(0)][0].SizeBytes {
						t.Fatalf("group of %d files, %d bytes", len(g.Files), g.Bytes)
					}
				}
				return
			}
			if got := describe(p); got != tc.want {
				t.Fatalf("groups %q, want %q\n%s", got, tc.want, p)
			}
			for r, n := range tc.skip {
				if p.Skipped[r] != n {
					t.Fatalf("skipped %v, want %s: %d\n%s", p.Skipped, r, n, p)
				}
			}
			for _, g := range p.Groups {
				if !slices.IsSortedFunc(g.Files, func(a, b hudi.BaseFile) int { return strings.Compare(a.Instant, b.Instant) }) {
					t.Fatalf("group of %s not oldest first", g.Partition)
				}
			}
		})
	}
	// Shards: disjoint, covering.
	var all []string
	for i := range 3 {
		p, err := Plan(f.ctx, f.table, SmallFileBytes(large), Shard(i, 3))
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range p.Groups {
			if ShardOf(g.Partition, 3) != i {
				t.Fatalf("shard %d plans %s", i, g.Partition)
			}
			all = append(all, fmt.Sprintf("%s:%d", strings.TrimPrefix(g.Partition, "dt=2026-12-01/"), len(g.Files)))
		}
	}
	slices.Sort(all)
	if got := strings.Join(all, " "); got != "hr=10:3 hr=11:3 hr=12:2 hr=12:3" {
		t.Fatalf("shards together plan %q", got)
	}
}

func TestValidate(t *testing.T) {
	err := Validate(TargetFileBytes(0), SmallFileBytes(-1), MinFiles(1), Shard(3, 3), WriterID(""), QuietPeriod(-time.Second), Logger(nil))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"target file bytes 0", "small file bytes -1", "min files 1", "shard 3/3", "writer ID", "quiet period", "logger"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not name %q", err, want)
		}
	}
	if err := Validate(); err != nil {
		t.Fatal(err)
	}
	if err := Validate(SmallFileBytes(256 << 20)); err == nil || !strings.Contains(err.Error(), "must not exceed the target") {
		t.Fatalf("small above target: %v", err)
	}
}
