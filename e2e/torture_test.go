package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
	"github.com/lakestream/lakestream/table/hudi"
)

// The torture tests prove exactly-once delivery by force: ingestd replicas
// (child processes, one consumer group, one table) are SIGKILLed at random
// moments, crashed at every failpoint of the commit path, stopped
// gracefully, paused past their session (SIGSTOP zombies), added and
// removed, while the Kafka brokers fail requests, drop connections, elect
// leaders, move the group coordinator and restart, and a producer writes
// records with unique IDs; at the end the table must hold every produced
// record exactly once. In TestTorture the compactor runs beside the
// replicas all along, killed at random too (torture_compactor_test.go).
//
// Environment:
//
//	LAKESTREAM_KAFKA=kfake|kafka|both  the Kafka: in process (kfake, the
//	                                default), Apache Kafka brokers, or both
//	                                (make test, make torture)
//	LAKESTREAM_TORTURE_SEED=<n>     replay the action sequence of a run (the
//	                                timing, hence the interleaving, differs)
//	LAKESTREAM_TORTURE_CYCLES=<n>   cycles per storage (default 20; make torture: 250).
//	                                Unset, Apache Kafka gets one short run of
//	                                12 cycles on the filesystem only (make test)
//	LAKESTREAM_TORTURE_RESTART_CYCLES=<n>  cycles of TestTortureKafkaRestart (default 4)
//	LAKESTREAM_TORTURE_ZOMBIES=1    add zombies stalled right before their commit
//	                                to TestTorture (SIGSTOP zombies are always
//	                                in it) and run TestTortureZombie (minutes)
//	LAKESTREAM_TORTURE_LOG=1        print the cycle log of passing runs too (-v)
//	LAKESTREAM_TORTURE_STRICT=1|0   1: a SIGTERM must exit 0 even when the
//	                                replica was fenced or lost its partitions,
//	                                a stalled final catch-up fails at once, and
//	                                no replica may exit on its own across an
//	                                Apache Kafka node's restart. Default: 1 on
//	                                Apache Kafka, 0 on kfake
//	LAKESTREAM_E2E_INGESTD=<path>   test that binary instead of building one
//	LAKESTREAM_TORTURE_COMPACTOR=0  TestTorture without the compactor beside the
//	                                replicas (torture_compactor_test.go; default on)
//	LAKESTREAM_TORTURE_ICEBERG=0    Iceberg publishing off (table.iceberg: false) and
//	                                not checked at the end (default: on and checked)
const (
	tortureTopic      = "torture"
	torturePartitions = 6
	tortureSlots      = 3 // replicas torture-0..2; 1 to 3 run at a time
	// The group's session timeout (ingestd's kafka.session_timeout): how
	// long a SIGKILLed member holds its partitions, and how long a SIGSTOP
	// must last for the group to give its partitions away.
	tortureSession   = 3 * time.Second
	tortureRebalance = 10 * time.Second
	tortureInterval  = 500 * time.Millisecond // checkpoint interval
	// heartbeatExpiry is table/hudi's default (10s x 3 misses): an instant
	// another writer left pending is settled only after it.
	heartbeatExpiry = 30 * time.Second
	// failpointWait bounds the wait for an armed replica to reach its
	// failpoint (it must join the group, read, and checkpoint).
	failpointWait = 25 * time.Second
	stopWait      = 60 * time.Second
	// stallAfter is how long the final catch-up may go without a commit.
	stallAfter = 30 * time.Second
)

type tortureOptions struct {
	kafka   string // harness.KindKfake or KindKafka
	brokers int
	cycles  int
	weights map[string]int // action -> weight
	rate    int            // records per second
	total   int            // at most this many records
	// defaultSession leaves the group's session and rebalance timeouts
	// at ingestd's defaults (franz-go's 45 s and 60 s) instead of
	// tortureSession and tortureRebalance.
	defaultSession bool
	interval       time.Duration // checkpoint interval; 0: tortureInterval
	groupProtocol  string        // kafka.group_protocol; "": the default
	// staticMembership "false" turns kafka.static_membership off; "":
	// the default (on).
	staticMembership string
	// compactor runs the compactor binary beside the replicas, killed at
	// random (torture_compactor_test.go).
	compactor bool
	// checkIceberg checks the Iceberg snapshot at the end too (unless
	// LAKESTREAM_TORTURE_ICEBERG=0 turns Iceberg publishing off).
	checkIceberg bool
}

func TestTorture(t *testing.T) {
	seed := tortureSeed(t)
	cycles := envInt(t, "LAKESTREAM_TORTURE_CYCLES", 20)
	weights := map[string]int{"kill": 4, "failpoint": 3, "scale": 2, "sigterm": 1, "kafka": 2, "zombie": 1}
	if os.Getenv("LAKESTREAM_TORTURE_ZOMBIES") == "1" {
		weights["zombie-commit"] = 1
	}
	for _, kind := range kafkaKinds(t) {
		t.Run(kind, func(t *testing.T) {
			storages, n := []string{"filesystem", "s3"}, cycles
			if kind == harness.KindKafka && os.Getenv("LAKESTREAM_TORTURE_CYCLES") == "" {
				// make test's short run: three JVMs are slow to start
				// and share the machine's cores with everything else.
				storages, n = []string{"filesystem"}, 12
			}
			for i, storage := range storages {
				t.Run(storage, func(t *testing.T) {
					runTorture(t, storage, seed+subtestSeed(kind, i), tortureOptions{kafka: kind, brokers: 3, cycles: n, weights: weights, rate: 400, total: 1_000_000,
						compactor: compactorOn(t), checkIceberg: true})
				})
			}
		})
	}
}

// subtestSeed is what a subtest adds to the run's seed: storage index i
// (filesystem 0, S3 1) on kfake, 2+i on Apache Kafka.
func subtestSeed(kind string, i int) uint64 {
	if kind == harness.KindKafka {
		return uint64(2 + i)
	}
	return uint64(i)
}

// TestTortureKafkaRestart restarts the only broker of an Apache Kafka
// cluster mid-ingest, cleanly (SIGTERM) and by a crash (SIGKILL), Kafka
// wholly unavailable meanwhile, while ingestd replicas are killed, stopped
// and scaled; every record must end in the table exactly once. It needs
// the real broker (LAKESTREAM_KAFKA=kafka or both, as in make test).
func TestTortureKafkaRestart(t *testing.T) {
	if !slices.Contains(kafkaKinds(t), harness.KindKafka) {
		t.Skip("restarts an Apache Kafka broker: run with LAKESTREAM_KAFKA=kafka or both (make test does)")
	}
	seed := tortureSeed(t)
	cycles := envInt(t, "LAKESTREAM_TORTURE_RESTART_CYCLES", 4)
	runTorture(t, "filesystem", seed, tortureOptions{kafka: harness.KindKafka, brokers: 1, cycles: cycles,
		weights: map[string]int{"kafka": 2, "kill": 1, "sigterm": 1, "scale": 1}, rate: 400, total: 1_000_000})
}

// TestTortureZombie makes zombies: replicas paused (SIGSTOP) for longer
// than the group's session timeout, so that their partitions move to
// another replica, then resumed (SIGCONT), holding rows read before the
// pause and an open instant; some pauses also outlast the instant's
// heartbeat expiry while another replica restarts. And replicas stalled
// right before their commit (a sleep failpoint) while a rebalance gives
// their partitions away. The table must still hold every record exactly
// once: per-partition owner claims fence the zombies. Against a binary
// without fencing (LAKESTREAM_E2E_INGESTD) it finds duplicates.
func TestTortureZombie(t *testing.T) {
	if os.Getenv("LAKESTREAM_TORTURE_ZOMBIES") != "1" {
		t.Skip("set LAKESTREAM_TORTURE_ZOMBIES=1 to run the zombie torture (a few minutes)")
	}
	seed := tortureSeed(t)
	cycles := envInt(t, "LAKESTREAM_TORTURE_ZOMBIE_CYCLES", 5)
	for _, kind := range kafkaKinds(t) {
		t.Run(kind, func(t *testing.T) {
			// No Kafka faults here: one Apache Kafka broker will do.
			brokers := 3
			if kind == harness.KindKafka {
				brokers = 1
			}
			for i, storage := range []string{"filesystem", "s3"} {
				t.Run(storage, func(t *testing.T) {
					runTorture(t, storage, seed+subtestSeed(kind, i), tortureOptions{kafka: kind, brokers: brokers, cycles: cycles,
						weights: map[string]int{"zombie": 2, "zombie-commit": 2, "zombie-long": 1}, rate: 400, total: 1_000_000})
				})
			}
		})
	}
}

// strict makes a graceful stop that does not exit 0 a failure even when
// the replica had been fenced or had lost its partitions, a stalled final
// catch-up fail at once, and a replica that exits on its own across a
// Kafka node's restart fail the run. On by default on Apache Kafka, off on
// kfake; LAKESTREAM_TORTURE_STRICT=1 or 0 says so for both.
func (tt *torture) strict() bool {
	switch os.Getenv("LAKESTREAM_TORTURE_STRICT") {
	case "1":
		return true
	case "0":
		return false
	}
	return tt.opts.kafka == harness.KindKafka
}

func tortureSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LAKESTREAM_TORTURE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LAKESTREAM_TORTURE_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("torture seed %d (replay: LAKESTREAM_TORTURE_SEED=%d; subtests add 0 to 3 to it: kfake filesystem, S3, Apache Kafka filesystem, S3)", seed, seed)
	return seed
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return v
}

// torture is one run against one storage.
type torture struct {
	t       *testing.T
	storage string
	seed    uint64
	opts    tortureOptions
	rng     *rand.Rand
	started time.Time

	dir      string // the run's directory: config, logs, a filesystem table
	s3dir    string // versitygw's root directory
	k        *harness.Kafka
	table    objstore.Store
	tableURL string
	env      []string
	fleet    *harness.Fleet
	prod     *harness.UniqueProducer

	cycle     int
	final     bool       // the final phase: stops are not counted as cycles' stops
	logMu     sync.Mutex // log: the compactor's driver logs too
	log       []string
	counts    map[string]int // what really happened, by kind
	fired     map[string]int // failpoint name -> crashes it caused
	fpNext    int            // next failpoint to arm, index into tt.failpoints()
	kafkaNext int            // next Kafka fault, index into tt.kafkaFaults()
	faultSeq  atomic.Int64   // requests seen by a connection-dropping control
	wanted    [tortureSlots]bool
	lastCrash time.Time // last time a process died without cleaning up

	lastRestart time.Time // churn: when the last SIGKILLed replica was started again
	commitGaps  []time.Duration
	lastCommit  time.Time // churn: when the table's committed offsets last moved
	lastOffsets string

	cc *compactorChaos // the compactor beside the replicas (opts.compactor)
}

func runTorture(t *testing.T, storage string, seed uint64, o tortureOptions) {
	tt := &torture{t: t, storage: storage, seed: seed, opts: o, rng: rand.New(rand.NewPCG(seed, seed^0x70e7)),
		started: time.Now(), counts: map[string]int{}, fired: map[string]int{}}
	t.Logf("%s: seed %d, %d cycles", storage, seed, o.cycles)
	dir := t.TempDir()
	tt.dir = dir
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Stopped (Apache Kafka's JVMs killed) after everything else.
	k := startKafka(t, o.kafka, harness.KafkaOptions{Brokers: o.brokers, Partitions: torturePartitions,
		Topics: []string{tortureTopic, tortureTopic + ".dlq"}, MinSessionTimeout: time.Second, LogDir: dir})
	tt.k = k
	switch storage {
	case "filesystem":
		root := filepath.Join(dir, "warehouse", tortureTopic)
		fs, err := objstore.NewFilesystem(root)
		if err != nil {
			t.Fatal(err)
		}
		tt.table, tt.tableURL = fs, "file://"+root
	case "s3":
		srv := s3test.Start(t)
		tt.s3dir = srv.Dir
		tt.table = srv.NewBucket(t, "warehouse/"+tortureTopic)
		tt.tableURL = fmt.Sprintf("s3://%s/warehouse/%s?endpoint=%s&path_style=true", srv.Bucket, tortureTopic, srv.Endpoint)
		tt.env = []string{"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey, "AWS_REGION=" + s3test.Region}
	}
	config := filepath.Join(dir, "torture.yaml")
	interval := o.interval
	if interval == 0 {
		interval = tortureInterval
	}
	group := fmt.Sprintf("  session_timeout: %s\n  rebalance_timeout: %s\n", tortureSession, tortureRebalance)
	if o.defaultSession {
		group = ""
	}
	if o.groupProtocol != "" {
		group += "  group_protocol: " + o.groupProtocol + "\n"
	}
	if o.staticMembership != "" {
		group += "  static_membership: " + o.staticMembership + "\n"
	}
	writeFile(t, config, fmt.Sprintf(`kafka:
  brokers: [%s]
  topic: %s
%stable:
  url: %q
%sformat:
  type: json
%swriter:
  workers: 2
  # One open file per worker for 2-3 live hours: the other buckets' rows
  # are staged and written at the checkpoint, under the same kills.
  max_open_files: 1
checkpoint:
  interval: %s
admin:
  addr: ""
`, strings.Join(k.Brokers, ", "), tortureTopic, group, tt.tableURL, tt.icebergYAML(), harness.PageviewSchemaYAML, interval))
	tt.fleet = harness.NewFleet(ingestdBin, config, dir, "torture", tortureSlots, tt.env...)
	t.Cleanup(tt.fleet.KillAll) // runs before versitygw and Kafka stop
	t.Cleanup(func() {
		if t.Failed() {
			tt.report()
		}
	})

	base := time.Now().UTC().Truncate(time.Millisecond)
	var err error
	tt.prod, err = k.ProduceUnique(tortureTopic, torturePartitions, seed, base, o.rate, o.total)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tt.prod.Stop() })

	for i := range 2 {
		tt.start(i, "")
	}
	if o.compactor {
		tt.cc = newCompactorChaos(tt, config)
		t.Cleanup(tt.cc.Stop) // runs before the report and the replicas' kill
		tt.cc.Start(ctx)
	}
	for tt.cycle = 1; tt.cycle <= o.cycles; tt.cycle++ {
		tt.reap()
		action := tt.pickAction()
		switch action {
		case "kill":
			tt.kill()
		case "failpoint":
			tt.failpoint()
		case "scale":
			tt.scale()
		case "sigterm":
			tt.sigterm()
		case "zombie":
			tt.zombie(false)
		case "zombie-long":
			tt.zombie(true)
		case "zombie-commit":
			tt.zombieAtCommit()
		case "kafka":
			tt.kafkaFault()
		case "churn":
			tt.churn()
		}
		tt.counts["cycles"]++
	}
	tt.cycle, tt.final = 0, true
	if tt.cc != nil {
		tt.cc.Stop()
		tt.cc.checkFailures()
		tt.cc.forceMissing(20 * time.Second)
		tt.cc.checkFailures()
	}
	if o.weights["churn"] > 0 {
		tt.churnCatchUp(ctx)
	}
	tt.finish(ctx, base)
	if os.Getenv("LAKESTREAM_TORTURE_LOG") == "1" {
		t.Logf("cycle log:\n%s", tt.cycleLog())
	}
}

// logf adds a line to the cycle log, from the main goroutine.
func (tt *torture) logf(format string, args ...any) {
	line := fmt.Sprintf("[%7.2fs] ", time.Since(tt.started).Seconds())
	if tt.cycle > 0 {
		line += fmt.Sprintf("cycle %d: ", tt.cycle)
	}
	tt.addLog(line + fmt.Sprintf(format, args...))
}

// addLog adds a line to the cycle log; the main goroutine and the
// compactor's driver call it.
func (tt *torture) addLog(line string) {
	tt.logMu.Lock()
	defer tt.logMu.Unlock()
	tt.log = append(tt.log, line)
}

func (tt *torture) cycleLog() string {
	tt.logMu.Lock()
	defer tt.logMu.Unlock()
	return strings.Join(tt.log, "\n")
}

func (tt *torture) fatalf(format string, args ...any) {
	tt.t.Helper()
	tt.logf("FAIL: "+format, args...)
	tt.t.Fatalf(format, args...)
}

// report prints what a failed run needs to be understood and replayed.
func (tt *torture) report() {
	tt.t.Logf("%s: seed %d (replay: LAKESTREAM_TORTURE_SEED=<the test's seed> LAKESTREAM_KAFKA=%s go test -run '^%s$' ./e2e/)", tt.storage, tt.seed, tt.k.Kind, strings.ReplaceAll(tt.t.Name(), "/", "$/^"))
	tt.t.Logf("cycle log:\n%s", tt.cycleLog())
	tt.t.Logf("counts: %s; failpoints fired: %s", fmtCounts(tt.counts), fmtCounts(tt.fired))
	if tt.fleet != nil {
		tt.t.Logf("ingestd logs (tails):\n%s", tt.fleet.Tails(4000))
	}
	if tt.cc != nil {
		tt.t.Logf("compactor: %s", tt.cc.summary())
		tt.t.Logf("compactor logs (tails):\n%s", tt.cc.Tails(4000))
	}
	if tt.tableURL != "" {
		cmd := exec.Command(ingestdBin, "table", "inspect", tt.tableURL)
		cmd.Env = append(os.Environ(), tt.env...)
		out, err := cmd.CombinedOutput()
		tt.t.Logf("ingestd table inspect (%v):\n%s", err, tail(string(out), 6000))
	}
	if tt.k != nil {
		tt.t.Logf("%s", tt.k.DescribeGroup(context.Background(), "lakestream-"+tortureTopic))
		if tt.k.Apache != nil {
			tt.t.Logf("Apache Kafka logs (tails; whole logs kept with the run's below):\n%s", tt.k.Apache.LogTails(3000))
		}
	}
	kept, err := os.MkdirTemp("", "lakestream-torture-"+tt.storage+"-")
	if err == nil {
		err = harness.CopyTree(tt.dir, filepath.Join(kept, "run"))
		if err == nil && tt.s3dir != "" {
			err = harness.CopyTree(tt.s3dir, filepath.Join(kept, "s3"))
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(kept, "cycles.log"), []byte(tt.cycleLog()+"\n"), 0o644)
		}
	}
	tt.t.Logf("logs and table kept in %s (%v)", kept, err)
}

func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func (tt *torture) start(i int, spec string) {
	tt.t.Helper()
	if err := tt.fleet.Start(i, spec, tt.rng.Uint64()); err != nil {
		tt.fatalf("start %s: %v", tt.fleet.Replica(i).WriterID, err)
	}
	tt.wanted[i] = true
	r := tt.fleet.Replica(i)
	if spec == "" {
		tt.logf("start %s (pid %d)", r.WriterID, r.Proc().Pid())
	} else {
		tt.logf("start %s (pid %d) with %s", r.WriterID, r.Proc().Pid(), spec)
	}
}

// running lists the slots whose process runs.
func (tt *torture) running() []int { return tt.fleet.Running() }

// someRunning is running, after starting a replica if none runs.
func (tt *torture) someRunning() []int {
	tt.t.Helper()
	if run := tt.running(); len(run) > 0 {
		return run
	}
	tt.reap()
	if run := tt.running(); len(run) > 0 {
		return run
	}
	tt.start(0, "")
	return tt.running()
}

func (tt *torture) pick(slots []int) int { return slots[tt.rng.IntN(len(slots))] }

// sleepRandom sleeps a random time below max.
func (tt *torture) sleepRandom(max time.Duration) time.Duration {
	d := time.Duration(tt.rng.Int64N(int64(max)))
	time.Sleep(d)
	return d
}

// pickAction draws the cycle's action, forcing the actions some of whose
// kinds have not happened yet (a failpoint that has not fired, a Kafka
// fault not injected, no SIGSTOP zombie) when few cycles are left.
func (tt *torture) pickAction() string {
	left := tt.opts.cycles - tt.cycle + 1
	if tt.opts.weights["zombie-long"] > 0 && tt.counts["sigstop-long"] == 0 && left == 1 {
		return "zombie-long"
	}
	var missing []string // one entry per kind still missing
	if tt.opts.weights["failpoint"] > 0 {
		for _, n := range tt.failpoints() {
			if tt.fired[n] == 0 {
				missing = append(missing, "failpoint")
			}
		}
	}
	if tt.opts.weights["kafka"] > 0 {
		for _, k := range tt.kafkaFaults() {
			if tt.counts["kafka-"+k] == 0 {
				missing = append(missing, "kafka")
			}
		}
	}
	if tt.opts.weights["zombie"] > 0 && tt.counts["sigstop"] == 0 {
		missing = append(missing, "zombie")
	}
	if len(missing) > 0 && left <= len(missing)+1 {
		return missing[0]
	}
	names := make([]string, 0, len(tt.opts.weights))
	total := 0
	for name, w := range tt.opts.weights {
		names = append(names, name)
		total += w
	}
	sort.Strings(names)
	n := tt.rng.IntN(total)
	for _, name := range names {
		if n < tt.opts.weights[name] {
			return name
		}
		n -= tt.opts.weights[name]
	}
	panic("unreachable")
}

// reap restarts, as a supervisor would, every replica that exited on its
// own (e.g. it lost its partitions while paused), and fails the run on
// exits that are bugs: a crash exit without an armed failpoint, or a
// configuration error.
func (tt *torture) reap() {
	tt.t.Helper()
	for i := range tt.fleet.Size() {
		r := tt.fleet.Replica(i)
		if !tt.wanted[i] || r.Running() {
			continue
		}
		code := r.Proc().ExitCode()
		tt.logf("%s exited on its own (%s): %s", r.WriterID, r.Proc().ExitStatus(), r.LastErrorLine())
		tt.counts["self-exits"]++
		if code == failpoint.CrashExitCode || code == 2 || code == 0 {
			tt.fatalf("%s exited with %s without being asked to", r.WriterID, r.Proc().ExitStatus())
		}
		tt.lastCrash = time.Now()
		tt.start(i, "")
	}
}

// stop ends replica i: SIGKILL, or SIGTERM, which must exit 0 (final
// checkpoint).
func (tt *torture) stop(i int, how string) {
	tt.t.Helper()
	r := tt.fleet.Replica(i)
	tt.wanted[i] = false
	if !r.Running() {
		tt.counts["self-exits"]++
		tt.logf("%s had exited on its own (%s): %s", r.WriterID, r.Proc().ExitStatus(), r.LastErrorLine())
		return
	}
	switch how {
	case "sigkill":
		r.Proc().Kill()
		tt.lastCrash = time.Now()
		tt.counts["sigkill"]++
		tt.logf("SIGKILL %s", r.WriterID)
	case "sigterm":
		// ingestd handles SIGTERM once main has set up its signals: before
		// that (a few ms after exec) the signal's default action kills it.
		// Its first log line comes later.
		for deadline := time.Now().Add(10 * time.Second); r.Running() && !strings.Contains(r.LogSinceStart(), `{"time"`) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		begin := time.Now()
		err := r.Proc().Stop(stopWait)
		if !tt.final {
			tt.counts["sigterm"]++
		}
		if err != nil {
			cause := r.LastErrorLine()
			// A replica fenced by another's claim, or that lost its
			// partitions, stops with 1 whatever the signal: a liveness
			// problem, not an exactly-once one. Counted and reported.
			if !tt.strict() && r.Proc().ExitCode() == 1 && (strings.Contains(cause, "fenced") || strings.Contains(cause, "lost to another member")) {
				tt.counts["sigterm-exit-1-fenced-or-lost"]++
				tt.logf("SIGTERM %s: %s (tolerated; LAKESTREAM_TORTURE_STRICT=1 fails on it): %s", r.WriterID, r.Proc().ExitStatus(), cause)
				return
			}
			tt.fatalf("SIGTERM %s: %v (%s): %s", r.WriterID, err, r.Proc().ExitStatus(), cause)
		}
		tt.logf("SIGTERM %s: exit 0 after %v", r.WriterID, time.Since(begin).Round(time.Millisecond))
	}
}

// kill SIGKILLs a random replica at a random moment and restarts it.
func (tt *torture) kill() {
	i := tt.pick(tt.someRunning())
	d := tt.sleepRandom(1500 * time.Millisecond)
	tt.logf("after %v:", d.Round(time.Millisecond))
	tt.stop(i, "sigkill")
	tt.sleepRandom(300 * time.Millisecond)
	tt.start(i, "")
}

// sigterm stops a random replica gracefully and restarts it.
func (tt *torture) sigterm() {
	i := tt.pick(tt.someRunning())
	tt.sleepRandom(1000 * time.Millisecond)
	tt.stop(i, "sigterm")
	tt.start(i, "")
}

// scale adds a replica (fewer than 3 run) or removes one gracefully (more
// than 1 run), forcing rebalances.
func (tt *torture) scale() {
	run := tt.someRunning()
	var free []int
	for i := range tt.fleet.Size() {
		if !slices.Contains(run, i) {
			free = append(free, i)
		}
	}
	tt.sleepRandom(1000 * time.Millisecond)
	if len(free) > 0 && (len(run) == 1 || tt.rng.IntN(2) == 0) {
		tt.counts["scale-up"]++
		tt.start(tt.pick(free), "")
		return
	}
	tt.counts["scale-down"]++
	tt.stop(tt.pick(run), "sigterm")
}

// failpoint restarts a replica (after a SIGKILL or a SIGTERM) with the next
// failpoint armed at probability 1, waits for the crash (exit 86), and
// restarts it clean. rollback.during needs an instant of the replica's own
// to roll back at start: the replica is first crashed after opening one.
func (tt *torture) failpoint() {
	tt.t.Helper()
	names := tt.failpoints()
	name := names[tt.fpNext%len(names)]
	i := tt.pick(tt.someRunning())
	tt.sleepRandom(1000 * time.Millisecond)
	tt.stop(i, []string{"sigkill", "sigterm"}[tt.rng.IntN(2)])
	if name == failpoint.DuringRollback {
		if !tt.crashAt(i, failpoint.AfterInflight) {
			tt.start(i, "")
			return
		}
	}
	if tt.crashAt(i, name) {
		tt.fpNext++
	}
	tt.start(i, "")
}

// crashAt starts replica i with failpoint name armed and reports whether
// it crashed there. The replica is not running when crashAt returns.
func (tt *torture) crashAt(i int, name string) bool {
	tt.t.Helper()
	tt.start(i, name+"=crash")
	r := tt.fleet.Replica(i)
	begin := time.Now()
	select {
	case <-r.Proc().Done():
	case <-time.After(failpointWait):
		r.Proc().Kill()
		tt.lastCrash = time.Now()
		tt.wanted[i] = false
		tt.counts["failpoint-timeout-sigkill"]++
		tt.logf("%s did not reach %s within %v: SIGKILL", r.WriterID, name, failpointWait)
		return false
	}
	tt.wanted[i] = false
	tt.lastCrash = time.Now()
	code := r.Proc().ExitCode()
	if code != failpoint.CrashExitCode {
		// e.g. it lost its partitions before reaching the failpoint
		tt.counts["self-exits"]++
		tt.logf("%s armed with %s exited with %s: %s", r.WriterID, name, r.Proc().ExitStatus(), r.LastErrorLine())
		if code == 0 || code == 2 {
			tt.fatalf("%s armed with %s exited with %s", r.WriterID, name, r.Proc().ExitStatus())
		}
		return false
	}
	if !strings.Contains(r.LogSinceStart(), "failpoint "+name+": crash") {
		tt.fatalf("%s exited with %d but did not log the crash at %s: %s", r.WriterID, code, name, r.LastErrorLine())
	}
	tt.fired[name]++
	tt.counts["failpoint-crash"]++
	tt.logf("%s crashed at %s after %v", r.WriterID, name, time.Since(begin).Round(time.Millisecond))
	return true
}

// zombie pauses a replica past the session timeout (its partitions move)
// and resumes it. long pauses also outlast the heartbeat expiry while
// another replica restarts, whose recovery rolls back the zombie's instant.
func (tt *torture) zombie(long bool) {
	tt.t.Helper()
	run := tt.someRunning()
	i := tt.pick(run)
	r := tt.fleet.Replica(i)
	tt.sleepRandom(1500 * time.Millisecond)
	if err := r.Proc().Signal(syscall.SIGSTOP); err != nil {
		tt.fatalf("SIGSTOP %s: %v", r.WriterID, err)
	}
	pause := tortureSession + time.Second + tt.sleepDuration(2*time.Second)
	if long {
		pause = heartbeatExpiry + 3*time.Second
	}
	tt.logf("SIGSTOP %s for %v", r.WriterID, pause.Round(time.Millisecond))
	if long {
		time.Sleep(heartbeatExpiry + time.Second)
		others := slices.DeleteFunc(slices.Clone(run), func(j int) bool { return j == i })
		if len(others) == 0 {
			var free []int
			for j := range tt.fleet.Size() {
				if j != i && !slices.Contains(run, j) {
					free = append(free, j)
				}
			}
			tt.start(tt.pick(free), "") // its recovery settles the zombie's instant
		} else {
			j := tt.pick(others)
			tt.stop(j, "sigterm")
			tt.start(j, "")
		}
		time.Sleep(pause - heartbeatExpiry - time.Second)
	} else {
		time.Sleep(pause)
	}
	if err := r.Proc().Signal(syscall.SIGCONT); err != nil {
		tt.fatalf("SIGCONT %s: %v", r.WriterID, err)
	}
	tt.lastCrash = time.Now()
	tt.counts["sigstop"]++
	if long {
		tt.counts["sigstop-long"]++
	}
	tt.logf("SIGCONT %s", r.WriterID)
	// The zombie should find it lost its partitions and stop; reap
	// restarts it.
	select {
	case <-r.Proc().Done():
	case <-time.After(2 * tortureSession):
	}
	tt.reap()
}

// zombieAtCommit makes a zombie at the worst moment: a replica restarted
// with checkpoint.after-file-write=sleep(...) uploads its files and stalls
// before committing; a rebalance meanwhile (a replica added or restarted)
// times it out of the group, so its partitions move and their new owner
// reads them again from the table's offsets. When it wakes it commits,
// unless fencing stops it.
func (tt *torture) zombieAtCommit() {
	tt.t.Helper()
	run := tt.someRunning()
	i := tt.pick(run)
	r := tt.fleet.Replica(i)
	tt.stop(i, "sigterm")
	// Long enough for the group to give up on it (rebalance timeout) and
	// for the new owners to claim, read and commit its partitions.
	pause := 2*tortureRebalance + tortureSession + 2*time.Second
	tt.start(i, fmt.Sprintf("%s=sleep(%s)", failpoint.AfterFileWrite, pause))
	deadline := time.Now().Add(failpointWait)
	for !strings.Contains(r.LogSinceStart(), `"from_table"`) {
		if !r.Running() || time.Now().After(deadline) {
			tt.logf("%s got no partitions (%s): no zombie this cycle", r.WriterID, r.Proc().ExitStatus())
			r.Proc().Kill()
			tt.wanted[i] = false
			tt.start(i, "")
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(tortureInterval + 500*time.Millisecond) // now asleep before its commit
	asleep := time.Now()
	var others, free []int
	for j := range tt.fleet.Size() {
		switch {
		case j == i:
		case tt.fleet.Replica(j).Running():
			others = append(others, j)
		default:
			free = append(free, j)
		}
	}
	if len(free) > 0 {
		tt.start(tt.pick(free), "")
	} else {
		j := tt.pick(others)
		tt.stop(j, "sigterm")
		tt.start(j, "")
	}
	tt.logf("%s stalls before its commit; rebalance forced", r.WriterID)
	select {
	case <-r.Proc().Done():
	case <-time.After(pause + 10*time.Second - time.Since(asleep)):
	}
	tt.counts["zombie-at-commit"]++
	tt.lastCrash = time.Now()
	if r.Running() {
		tt.logf("%s woke and still runs: SIGKILL", r.WriterID)
		r.Proc().Kill()
	} else {
		tt.logf("%s woke and exited (%s): %s", r.WriterID, r.Proc().ExitStatus(), r.LastErrorLine())
		if strings.Contains(r.LastErrorLine(), "fenced") {
			tt.counts["zombie-fenced"]++
		}
	}
	tt.wanted[i] = false
	tt.start(i, "")
}

func (tt *torture) sleepDuration(max time.Duration) time.Duration {
	return time.Duration(tt.rng.Int64N(int64(max)))
}

// finish stops producing, lets a clean replica catch up with the topic,
// stops everything, settles what is pending with one more clean start and
// stop of every writer, and checks the table: every produced record exactly
// once with its content, through DuckDB over the snapshot.
func (tt *torture) finish(ctx context.Context, base time.Time) {
	t := tt.t
	t.Helper()
	if err := tt.prod.Stop(); err != nil {
		tt.fatalf("producer: %v", err)
	}
	acked, wantSum := tt.prod.Acked()
	produced := len(acked)
	tt.logf("producer stopped after %d records", produced)
	ends, err := tt.k.EndOffsets(ctx, tortureTopic)
	if err != nil {
		t.Fatal(err)
	}
	var inTopic int64
	for _, e := range ends {
		inTopic += e
	}
	if inTopic != int64(produced) {
		tt.fatalf("the topic holds %d records, the producer had %d acknowledged", inTopic, produced)
	}

	// Catch up with at least one clean replica running.
	tt.reap()
	if len(tt.running()) == 0 {
		tt.start(0, "")
	}
	begin := time.Now()
	deadline := begin.Add(4 * time.Minute)
	progress, last := begin, ""
	for {
		ok, err := harness.Committed(ctx, tt.table, tortureTopic, ends)
		if err != nil {
			tt.fatalf("committed offsets: %v", err)
		}
		if ok {
			break
		}
		if now := tt.committedString(ctx); now != last {
			progress, last = time.Now(), now
		}
		if time.Since(progress) > stallAfter {
			// No commit for a while although records wait: a liveness
			// problem (e.g. partitions left unassigned after a rebalance).
			// Restarting the replicas, as an operator would, lets the run
			// go on to the exactly-once check; it is counted and reported.
			tt.logf("STALL: no progress for %v at committed offsets %s, end offsets %v; %s", stallAfter, last, ends, tt.k.DescribeGroup(ctx, "lakestream-"+tortureTopic))
			tt.counts["final-stall-restarts"]++
			if tt.strict() || tt.counts["final-stall-restarts"] > 3 {
				tt.fatalf("the table stalled before reaching the end offsets %v", ends)
			}
			for _, i := range tt.running() {
				tt.stop(i, "sigterm")
				tt.start(i, "")
			}
			progress = time.Now()
		}
		if time.Now().After(deadline) {
			tt.fatalf("the table did not reach the end offsets %v within %v", ends, deadline.Sub(begin))
		}
		time.Sleep(500 * time.Millisecond)
		tt.reap()
	}
	tt.logf("table caught up with the topic in %v", time.Since(begin).Round(time.Millisecond))
	if tt.cc != nil {
		// The failpoints still missing (ingestion may have stalled), then
		// a last clean run of each compactor slot, the replicas still
		// running: each settles what its killed runs left.
		tt.cc.forceMissing(30 * time.Second)
		tt.cc.final()
		tt.cc.checkFailures()
		if c := tt.cc.lastCrash; c.After(tt.lastCrash) {
			tt.lastCrash = c
		}
	}
	for _, i := range tt.running() {
		tt.stop(i, "sigterm")
	}

	// One more clean start and stop of every writer: its recovery settles
	// whatever the torture left pending. An instant left by a writer
	// killed between its requested and inflight files (or in the last
	// steps of a rollback) does not name its writer: only the heartbeat
	// expiry settles it.
	tt.cleanRestartAll()
	pending := tt.pending(ctx)
	if len(pending) > 0 {
		wait := time.Until(tt.lastCrash.Add(heartbeatExpiry + 2*time.Second))
		tt.logf("pending after a clean restart: %v; waiting %v for the heartbeat expiry, then again", pending, wait.Round(time.Millisecond))
		tt.counts["pending-after-restart"] += len(pending)
		time.Sleep(wait)
		tt.cleanRestartAll()
		if pending := tt.pending(ctx); len(pending) > 0 {
			tt.fatalf("instants still pending after clean restarts past the heartbeat expiry: %v", pending)
		}
	}

	db, files, err := harness.DuckDB(ctx, tt.table, filepath.Join(t.TempDir(), "download"), "torture")
	if err != nil {
		tt.fatalf("duckdb over the snapshot: %v", err)
	}
	defer db.Close()
	for _, f := range files {
		if _, err := tt.table.Stat(ctx, f.Path); err != nil {
			tt.fatalf("snapshot file %s: %v", f.Path, err)
		}
	}
	v := tt.verify(ctx, db, acked, base)
	if v.count != int64(produced) || v.distinct != int64(produced) || v.dups != 0 || v.lost != 0 || len(v.problems) > 0 || v.sum != wantSum {
		tt.fatalf("%s: exactly-once violated: produced %d, count(*) %d, count(DISTINCT id) %d, duplicates %d, lost %d, checksum %016x want %016x; %d files in the snapshot; problems:\n%s\n%s",
			tt.storage, produced, v.count, v.distinct, v.dups, v.lost, v.sum, wantSum, len(files), strings.Join(v.problems, "\n"), tt.diagnose(ctx, db, v))
	}
	for _, n := range tt.failpoints() {
		if tt.opts.weights["failpoint"] > 0 && tt.fired[n] == 0 {
			t.Errorf("%s: failpoint %s never fired", tt.storage, n)
		}
	}
	extra := ""
	if tt.opts.checkIceberg {
		extra = "; Iceberg publishing off (LAKESTREAM_TORTURE_ICEBERG=0)"
		if tt.iceberg() {
			rows, problem := tt.checkIceberg(ctx, acked)
			if problem != "" {
				// After the Hudi verification, and not fatal: the run's
				// counts are still logged below.
				t.Errorf("%s", problem)
				extra = "; Iceberg snapshot WRONG"
			} else {
				extra = fmt.Sprintf("; Iceberg snapshot: rows %d ok", rows)
			}
		}
	}
	if tt.cc != nil {
		// The compactor must have merged files for real, or the run
		// proves nothing about it.
		tbl, err := hudi.Open(ctx, tt.table)
		if err != nil {
			tt.fatalf("open table: %v", err)
		}
		n, err := replacecommits(ctx, tbl)
		if err != nil {
			tt.fatalf("count replacecommits: %v", err)
		}
		if n == 0 {
			tt.fatalf("%s: no replacecommit completed: the compactor merged nothing (%s)", tt.storage, tt.cc.summary())
		}
		for _, name := range compactorPoints {
			if tt.cc.fired[name] == 0 {
				t.Errorf("%s: compactor failpoint %s never fired", tt.storage, name)
			}
		}
		extra += fmt.Sprintf("; replacecommits completed %d; compactor: %s", n, tt.cc.summary())
	}
	t.Logf("torture %s on %s (%d brokers): seed %d, %d cycles; kills/stops: %s; failpoints fired: %s; records produced %d, rows verified %d (%d files, %d rows committed through the stage), duplicates %d, lost %d, checksum %016x ok%s; elapsed %v",
		tt.storage, tt.k.Kind, len(tt.k.Brokers), tt.seed, tt.counts["cycles"], fmtCounts(without(tt.counts, "cycles")), fmtCounts(tt.fired), produced, v.rows, len(files), tt.stagedRows(), v.dups, v.lost, v.sum,
		extra, time.Since(tt.started).Round(100*time.Millisecond))
}

// stagedRows sums the staged_rows of the replicas' "checkpoint committed"
// log lines: the committed rows that waited in a stage for a file (one
// open file per worker), so the report shows the stage was exercised.
func (tt *torture) stagedRows() int64 {
	var n int64
	for i := range tortureSlots {
		data, err := os.ReadFile(tt.fleet.Replica(i).LogPath)
		if err != nil {
			continue // never started
		}
		for line := range strings.Lines(string(data)) {
			var e struct {
				Msg    string `json:"msg"`
				Staged int64  `json:"staged_rows"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "checkpoint committed" {
				n += e.Staged
			}
		}
	}
	return n
}

func without(m map[string]int, key string) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// cleanRestartAll starts every writer clean, waits until each has
// recovered and runs, and stops them all gracefully.
func (tt *torture) cleanRestartAll() {
	tt.t.Helper()
	for i := range tt.fleet.Size() {
		tt.start(i, "")
	}
	deadline := time.Now().Add(time.Minute)
	for i := range tt.fleet.Size() {
		r := tt.fleet.Replica(i)
		for !strings.Contains(r.LogSinceStart(), `"msg":"ingestd running"`) {
			if !r.Running() {
				tt.fatalf("%s exited during the final clean start (%s): %s", r.WriterID, r.Proc().ExitStatus(), r.LastErrorLine())
			}
			if time.Now().After(deadline) {
				tt.fatalf("%s did not start within a minute", r.WriterID)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := range tt.fleet.Size() {
		tt.stop(i, "sigterm")
	}
}

// committedString renders the table's committed offsets of the topic.
func (tt *torture) committedString(ctx context.Context) string {
	tbl, err := hudi.Open(ctx, tt.table)
	if err != nil {
		return err.Error()
	}
	cps, err := tbl.Checkpoints(ctx)
	if err != nil {
		return err.Error()
	}
	var parts []string
	for p := range int32(torturePartitions) {
		if pos, ok := cps.Next(tortureTopic, p); ok {
			parts = append(parts, fmt.Sprintf("%d:%d", p, pos.Next))
		}
	}
	return strings.Join(parts, ",")
}

// pending lists the table's pending instants.
func (tt *torture) pending(ctx context.Context) []string {
	tt.t.Helper()
	tbl, err := hudi.Open(ctx, tt.table)
	if err != nil {
		tt.fatalf("open table: %v", err)
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		tt.fatalf("timeline: %v", err)
	}
	var out []string
	for _, e := range tl.Pending() {
		out = append(out, fmt.Sprintf("%s(%s)", e.Time, strings.Join(e.Files, ",")))
	}
	return out
}

// diagnose explains lost and duplicated records: for each partition
// concerned, the offsets, the commits that moved the partition's offset,
// and which instants' files hold which offsets.
func (tt *torture) diagnose(ctx context.Context, db *sql.DB, v verdict) string {
	var b strings.Builder
	parts := map[int32]bool{}
	for p := range v.lostAt {
		parts[p] = true
	}
	for p := range v.dupAt {
		parts[p] = true
	}
	for p := range parts {
		slices.Sort(v.lostAt[p])
		slices.Sort(v.dupAt[p])
		fmt.Fprintf(&b, "partition %d: lost offsets [%s], duplicated offsets [%s]\n", p, harness.Ranges(v.lostAt[p]), harness.Ranges(v.dupAt[p]))
		steps, err := harness.OffsetHistory(ctx, tt.table, tortureTopic, p)
		if err != nil {
			fmt.Fprintf(&b, "  offset history: %v\n", err)
		}
		fmt.Fprintf(&b, "  commits that moved its offset:\n")
		for _, s := range steps {
			fmt.Fprintf(&b, "    %s\n", s)
		}
		rows, err := db.QueryContext(ctx, `SELECT _hoodie_commit_time, min(_kafka_offset), max(_kafka_offset), count(*)
			FROM torture WHERE _kafka_partition = ? GROUP BY 1 ORDER BY 2, 1`, p)
		if err != nil {
			fmt.Fprintf(&b, "  coverage: %v\n", err)
			continue
		}
		fmt.Fprintf(&b, "  offsets in the snapshot, by instant:\n")
		for rows.Next() {
			var instant string
			var lo, hi, n int64
			if err := rows.Scan(&instant, &lo, &hi, &n); err != nil {
				break
			}
			fmt.Fprintf(&b, "    %s: %d-%d (%d rows)\n", instant, lo, hi, n)
		}
		rows.Close()
	}
	return b.String()
}

type verdict struct {
	count, distinct int64
	rows            int
	dups, lost      int
	sum             uint64
	problems        []string
	// offsets of lost and duplicated records, by partition
	lostAt, dupAt map[int32][]int64
}

// verify reads every row of the snapshot and compares it with what was
// produced: each acknowledged ID once, with the content and the Kafka
// position the producer got for it.
func (tt *torture) verify(ctx context.Context, db *sql.DB, acked map[int64]harness.RecordPos, base time.Time) verdict {
	tt.t.Helper()
	v := verdict{lostAt: map[int32][]int64{}, dupAt: map[int32][]int64{}}
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT userId) FROM torture`).Scan(&v.count, &v.distinct); err != nil {
		tt.fatalf("count: %v", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT userId, sessionNumber, pageNumber, url, referrer, epoch_us(eventTime),
		_kafka_partition, _kafka_offset, _hoodie_commit_time, _hoodie_file_name FROM torture`)
	if err != nil {
		tt.fatalf("scan: %v", err)
	}
	defer rows.Close()
	type seenAt struct{ instant, file string }
	seen := make(map[int64][]seenAt, len(acked))
	problem := func(format string, args ...any) {
		if len(v.problems) < 20 {
			v.problems = append(v.problems, fmt.Sprintf(format, args...))
		}
	}
	for rows.Next() {
		var e harness.Pageview
		var ref sql.NullString
		var micros int64
		var pos harness.RecordPos
		var instant, file string
		if err := rows.Scan(&e.UserID, &e.SessionNumber, &e.PageNumber, &e.URL, &ref, &micros, &pos.Partition, &pos.Offset, &instant, &file); err != nil {
			tt.fatalf("scan: %v", err)
		}
		if ref.Valid {
			e.Referrer = &ref.String
		}
		e.EventTime = time.UnixMicro(micros).UTC()
		v.rows++
		v.sum += harness.RowChecksum(e)
		seen[e.UserID] = append(seen[e.UserID], seenAt{instant, file})
		want, ok := acked[e.UserID]
		switch {
		case !ok:
			problem("id %d at %v was never acknowledged by Kafka", e.UserID, pos)
		case want != pos:
			problem("id %d read at %v, produced at %v", e.UserID, pos, want)
		}
		if got, w := string(e.JSON()), string(harness.UniquePageview(tt.seed, base, e.UserID).JSON()); got != w {
			problem("id %d content:\n got %s\nwant %s", e.UserID, got, w)
		}
	}
	if err := rows.Err(); err != nil {
		tt.fatalf("scan: %v", err)
	}
	var dupIDs []int64
	for id, at := range seen {
		if len(at) > 1 {
			v.dups += len(at) - 1
			dupIDs = append(dupIDs, id)
			pos := acked[id]
			v.dupAt[pos.Partition] = append(v.dupAt[pos.Partition], pos.Offset)
		}
	}
	slices.Sort(dupIDs)
	for _, id := range dupIDs[:min(len(dupIDs), 10)] {
		problem("id %d (%v) appears %d times: %v", id, acked[id], len(seen[id]), seen[id])
	}
	var lostIDs []int64
	for id := range acked {
		if len(seen[id]) == 0 {
			v.lost++
			lostIDs = append(lostIDs, id)
			pos := acked[id]
			v.lostAt[pos.Partition] = append(v.lostAt[pos.Partition], pos.Offset)
		}
	}
	slices.Sort(lostIDs)
	for _, id := range lostIDs[:min(len(lostIDs), 10)] {
		problem("id %d (%v) is missing", id, acked[id])
	}
	return v
}
