package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// TestMeasureRestart measures, by hand, what a pod restart costs: the only
// replica is SIGKILLed and started again at once with the same writer ID,
// and the time from the SIGKILL to the next completed commit is measured,
// with the group's default session timeout (45 s) and a 5 s checkpoint
// interval, with static membership (the default) and without it (ingestd
// before it, which rejoined as a new member). Not a test of make test: it
// only reports (docs/benchmarks.md).
//
//	LAKESTREAM_MEASURE_RESTART=1 LAKESTREAM_KAFKA=kafka LAKESTREAM_KAFKA_HOME=... \
//	  go test -count=1 -v -run '^TestMeasureRestart$' -timeout 30m ./e2e/
//
// LAKESTREAM_MEASURE_ROUNDS sets the restarts per setting (default 3);
// LAKESTREAM_MEASURE_MEMBERSHIP lists the settings, comma-separated:
// static, dynamic (kafka.static_membership true or false; the default is
// both) and before (the setting left out: for a binary older than it,
// LAKESTREAM_E2E_INGESTD). LAKESTREAM_MEASURE_PROTOCOL=consumer sets
// kafka.group_protocol.
func TestMeasureRestart(t *testing.T) {
	if os.Getenv("LAKESTREAM_MEASURE_RESTART") != "1" {
		t.Skip("a measurement run by hand: LAKESTREAM_MEASURE_RESTART=1")
	}
	rounds := envInt(t, "LAKESTREAM_MEASURE_ROUNDS", 3)
	const interval = 5 * time.Second
	memberships := []string{"dynamic", "static"}
	if m := os.Getenv("LAKESTREAM_MEASURE_MEMBERSHIP"); m != "" {
		memberships = strings.Split(m, ",")
	}
	for _, kind := range kafkaKinds(t) {
		for _, membership := range memberships {
			t.Run(kind+"/"+membership, func(t *testing.T) {
				measureRestart(t, kind, membership, interval, rounds)
			})
		}
	}
}

func measureRestart(t *testing.T, kind, membership string, interval time.Duration, rounds int) {
	setting := ""
	switch membership {
	case "static", "dynamic":
		setting = fmt.Sprintf("  static_membership: %t\n", membership == "static")
	case "before":
	default:
		t.Fatalf("membership %q: want static, dynamic or before", membership)
	}
	if p := os.Getenv("LAKESTREAM_MEASURE_PROTOCOL"); p != "" {
		setting += "  group_protocol: " + p + "\n"
	}
	dir := t.TempDir()
	k := startKafka(t, kind, harness.KafkaOptions{Brokers: 1, Partitions: torturePartitions, Topics: []string{tortureTopic, tortureTopic + ".dlq"}, LogDir: dir})
	root := filepath.Join(dir, "warehouse", tortureTopic)
	table, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "measure.yaml")
	writeFile(t, config, fmt.Sprintf(`kafka:
  brokers: [%s]
  topic: %s
%stable:
  url: %q
format:
  type: json
%scheckpoint:
  interval: %s
admin:
  addr: ""
`, strings.Join(k.Brokers, ", "), tortureTopic, setting, "file://"+root, harness.PageviewSchemaYAML, interval))
	fleet := harness.NewFleet(ingestdBin, config, dir, "measure", 1)
	t.Cleanup(fleet.KillAll)
	prod, err := k.ProduceUnique(tortureTopic, torturePartitions, 1, time.Now().UTC().Truncate(time.Millisecond), 200, 10_000_000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Stop() })
	ctx := context.Background()
	if err := fleet.Start(0, "", 1); err != nil {
		t.Fatal(err)
	}
	var took []time.Duration
	for round := 1; round <= rounds; round++ {
		// A commit, then the SIGKILL a random part of an interval later.
		last := waitNewCommit(t, ctx, table, "", 3*time.Minute)
		time.Sleep(time.Duration(round) * interval / time.Duration(rounds+1))
		last = latestCommit(t, ctx, table)
		r := fleet.Replica(0)
		kill := time.Now()
		r.Proc().Kill()
		r.Proc().Wait(10 * time.Second)
		if err := fleet.Start(0, "", uint64(round)); err != nil {
			t.Fatal(err)
		}
		waitNewCommit(t, ctx, table, last, 5*time.Minute)
		d := time.Since(kill)
		took = append(took, d)
		t.Logf("round %d: SIGKILL and restart to the next completed commit: %v", round, d.Round(10*time.Millisecond))
	}
	slices.Sort(took)
	t.Logf("%s membership, %s, interval %v, default session timeout: SIGKILL + restart to the next commit over %d rounds: min %v, median %v, max %v",
		membership, kind, interval, rounds,
		took[0].Round(10*time.Millisecond), took[len(took)/2].Round(10*time.Millisecond), took[len(took)-1].Round(10*time.Millisecond))
}

// latestCommit is the newest completed instant of the table ("" if none).
func latestCommit(t *testing.T, ctx context.Context, b objstore.Store) string {
	t.Helper()
	tbl, err := hudi.Open(ctx, b)
	if err != nil {
		return ""
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := tl.Completed()
	if len(c) == 0 {
		return ""
	}
	return c[len(c)-1].Time
}

// waitNewCommit waits for a completed instant newer than after and
// returns it.
func waitNewCommit(t *testing.T, ctx context.Context, b objstore.Store, after string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if c := latestCommit(t, ctx, b); c != "" && c > after {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no commit after %q within %v", after, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
