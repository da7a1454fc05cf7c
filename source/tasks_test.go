package source

import (
	"fmt"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/tasks"
)

// partitionTasks is the registry's partition lines, e.g. "partition 0=caught up".
func partitionTasks(reg *tasks.Registry) []string {
	var out []string
	for _, s := range reg.Snapshot() {
		if s.Group == "partition" {
			out = append(out, s.Label()+"="+s.State)
		}
	}
	return out
}

// TestPartitionTasks checks that WithTasks lists every assigned partition
// with what it is doing: caught up once it has read every record, fetching
// again when records arrive (its since moves), caught up again; and that
// the partitions' tasks end with the reader.
func TestPartitionTasks(t *testing.T) {
	c := newCluster(t, 2, []string{"tasks"})
	prod := manualProducer(t, c)
	produce(t, prod, "tasks", []int32{0}, 0, 10)
	reg := tasks.New()
	cfg := testConfig(c, "tasks", "group-tasks")
	r, err := NewReader(cfg, Hooks{}, append(testOpts(), WithTasks(reg))...)
	if err != nil {
		t.Fatal(err)
	}
	loop := startPollLoop(r, nil)
	state := func(want ...string) func() bool {
		return func() bool { return fmt.Sprint(partitionTasks(reg)) == fmt.Sprint(want) }
	}
	waitFor(t, 15*time.Second, "both partitions caught up", state("partition 0=caught up", "partition 1=caught up"))
	if loop.count(0) != 10 {
		t.Errorf("read %d records of partition 0, want 10", loop.count(0))
	}
	snap := reg.Snapshot()
	caughtUpSince, p1Since := snap[0].Since, snap[1].Since
	produce(t, prod, "tasks", []int32{0}, 10, 5)
	waitFor(t, 10*time.Second, "partition 0 caught up again, since later", func() bool {
		s := reg.Snapshot()
		return len(s) == 2 && s[0].State == "caught up" && s[0].Since.After(caughtUpSince) && loop.count(0) == 15
	})
	if s := reg.Snapshot(); !s[1].Since.Equal(p1Since) {
		// partition 1 got nothing: its state did not change
		t.Errorf("partition 1 since %v moved from %v", s[1].Since, p1Since)
	}
	if err := loop.stop(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := reg.Snapshot(); len(got) != 0 {
		t.Errorf("tasks after Close: %+v", got)
	}
}
