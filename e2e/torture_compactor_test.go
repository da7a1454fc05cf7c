package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	icetable "github.com/apache/iceberg-go/table"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/table/hudi"
)

// The compactor in the torture (issue 15, item 6): beside the ingestd
// replicas, for the whole of the cycles, a driver goroutine runs the
// compactor binary again and again on the torture's table, with small-file
// thresholds that make it merge the files being written now (no quiet
// period) and a replaced-file retention of 1 s, 5 s or the default hour,
// drawn per run, so that replaced files are also cleaned (and the
// replicas' archival goes on) under the kills:
//
//   - run: a one-shot run, left to finish (exit 0, or 3 for a conflict);
//   - kill: a one-shot run SIGKILLed after a random delay;
//   - failpoint: a one-shot run crashed at the next of the compactor's
//     failpoints (rollback.during after a crash that leaves an instant of
//     its own to roll back at the next start);
//   - pair: both compactor slots at once, one of them sometimes stalled
//     (a sleep failpoint) before its commit or SIGKILLed, so that their
//     plans overlap and one gives up (exit 3) or is fenced;
//   - loop: --loop every 500 ms, ended by SIGTERM (exit 0) or SIGKILL.
//
// Each slot has its own writer ID (compactor-0, compactor-1); at most one
// live process per slot, as the compactor's contract asks. After the
// cycles, and again once the table caught up with the topic, every
// compactor failpoint that has not fired is forced; then one clean run per
// slot (then slot 0 again) must exit 0 before the replicas stop. The verification then also requires a completed
// replacecommit (the compactor merged files for real). TestTorture also
// checks, with Iceberg publishing on (table.iceberg's default), that the
// Iceberg snapshot publishes the newest Hudi instant and that its rows,
// scanned with iceberg-go, are every produced record once (checkIceberg).
//
// LAKESTREAM_TORTURE_COMPACTOR=0 leaves the compactor out (to replay an
// older run's seed without it). LAKESTREAM_TORTURE_ICEBERG=0 turns
// Iceberg publishing off (table.iceberg: false, for ingestd and the
// compactor), and its check with it.

// compactorPoints are the failpoints a compactor run meets: the table's
// in Begin, Commit and rollbacks, and the compactor's own after the
// merged file's upload and between a group's commit and its Iceberg
// publish (hit whether or not the table is published).
var compactorPoints = []string{failpoint.BeforeRequested, failpoint.AfterInflight, failpoint.AfterFileWrite,
	failpoint.BeforeComplete, failpoint.AfterComplete, failpoint.DuringRollback, failpoint.AfterCommitBeforePublish}

const (
	compactorSlots = 2
	// compactorRunWait bounds a one-shot run (and the exit after a
	// SIGTERM): longer is a stuck compactor, a failure.
	compactorRunWait = 2 * time.Minute
)

// compactorOn says whether the torture runs the compactor beside the
// replicas: TestTorture does, unless LAKESTREAM_TORTURE_COMPACTOR=0.
func compactorOn(t *testing.T) bool {
	switch v := os.Getenv("LAKESTREAM_TORTURE_COMPACTOR"); v {
	case "", "1":
		return true
	case "0":
		return false
	default:
		t.Fatalf("LAKESTREAM_TORTURE_COMPACTOR=%q: want 0 or 1", v)
		return false
	}
}

var (
	compactorBinOnce sync.Once
	compactorBinPath string
	compactorBinErr  error
)

// compactorBin builds cmd/compactor once per test binary.
func compactorBin(t *testing.T) string {
	t.Helper()
	compactorBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lakestream-e2e-compactor-")
		if err != nil {
			compactorBinErr = err
			return
		}
		compactorBinPath, compactorBinErr = harness.BuildCompactor(dir)
	})
	if compactorBinErr != nil {
		t.Fatal(compactorBinErr)
	}
	return compactorBinPath
}

// compactorChaos is the driver of the compactor processes. Its goroutine
// (Run) owns the processes and its rng; counts, fired, failures and
// lastCrash are shared under mu.
type compactorChaos struct {
	tt     *torture
	bin    string
	config string
	dir    string
	env    []string
	rng    *rand.Rand

	running bool
	stop    chan struct{} // closed by Stop; nil after it
	done    chan struct{}
	stopped sync.Once

	mu        sync.Mutex
	counts    map[string]int // what really happened, by kind
	fired     map[string]int // failpoint name -> crashes it caused
	errors    []string       // exit-1 errors of runs not killed nor crashed (tolerated, reported)
	failures  []string       // what fails the run: stuck runs, unexplained crashes, usage errors
	lastCrash time.Time
	fpNext    int
	seq       int
}

func newCompactorChaos(tt *torture, config string) *compactorChaos {
	c := &compactorChaos{tt: tt, bin: compactorBin(tt.t), config: config, dir: tt.dir, env: tt.env,
		rng:  rand.New(rand.NewPCG(tt.seed, tt.seed^0xc0ac7)),
		stop: make(chan struct{}), done: make(chan struct{}), counts: map[string]int{}, fired: map[string]int{}}
	for i := range compactorSlots {
		if err := os.MkdirAll(c.tempDir(i), 0o755); err != nil {
			tt.t.Fatal(err)
		}
	}
	return c
}

func (c *compactorChaos) tempDir(slot int) string {
	return filepath.Join(c.dir, fmt.Sprintf("compactor-%d.tmp", slot))
}

func (c *compactorChaos) logPath(slot int) string {
	return filepath.Join(c.dir, fmt.Sprintf("compactor-%d.log", slot))
}

// logf adds a line to the torture's cycle log (without the cycle number,
// which only the main goroutine reads).
func (c *compactorChaos) logf(format string, args ...any) {
	c.tt.addLog(fmt.Sprintf("[%7.2fs] ", time.Since(c.tt.started).Seconds()) + fmt.Sprintf(format, args...))
}

func (c *compactorChaos) count(kind string, n int) {
	c.mu.Lock()
	c.counts[kind] += n
	c.mu.Unlock()
}

func (c *compactorChaos) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.logf("compactor FAILURE: %s", msg)
	c.mu.Lock()
	c.failures = append(c.failures, msg)
	c.mu.Unlock()
}

func (c *compactorChaos) crashed() {
	c.mu.Lock()
	c.lastCrash = time.Now()
	c.mu.Unlock()
}

// Start starts the driver's goroutine; it starts compacting once the
// table exists.
func (c *compactorChaos) Start(ctx context.Context) {
	c.running = true
	go c.run(ctx)
}

// Stop ends the driver (a process it runs is SIGKILLed) and waits for it;
// the final phase's runs (forceMissing, final) then run from the caller's
// goroutine. Idempotent.
func (c *compactorChaos) Stop() {
	if !c.running {
		return
	}
	c.stopped.Do(func() { close(c.stop) })
	<-c.done
	c.stop = nil // the final phase's waits are not cut short
}

// checkFailures fails the run with what the driver found.
func (c *compactorChaos) checkFailures() {
	c.tt.t.Helper()
	c.mu.Lock()
	failures := slices.Clone(c.failures)
	c.mu.Unlock()
	if len(failures) > 0 {
		c.tt.fatalf("compactor: %d failures:\n%s", len(failures), strings.Join(failures, "\n"))
	}
}

func (c *compactorChaos) stopping() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// sleep waits d or until Stop; false if stopped.
func (c *compactorChaos) sleep(d time.Duration) bool {
	select {
	case <-c.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (c *compactorChaos) run(ctx context.Context) {
	defer close(c.done)
	for {
		if _, err := hudi.Open(ctx, c.tt.table); err == nil {
			break
		}
		if !c.sleep(200 * time.Millisecond) {
			return
		}
	}
	weights := []struct {
		name string
		w    int
	}{{"run", 3}, {"kill", 4}, {"failpoint", 3}, {"pair", 2}, {"loop", 1}}
	total := 0
	for _, w := range weights {
		total += w.w
	}
	for c.sleep(time.Duration(c.rng.Int64N(int64(time.Second)))) {
		n := c.rng.IntN(total)
		action := ""
		for _, w := range weights {
			if n < w.w {
				action = w.name
				break
			}
			n -= w.w
		}
		switch action {
		case "run":
			c.oneShot(c.rng.IntN(compactorSlots), "", 0)
		case "kill":
			c.oneShot(c.rng.IntN(compactorSlots), "", c.killDelay())
		case "failpoint":
			c.mu.Lock()
			name := compactorPoints[c.fpNext%len(compactorPoints)]
			c.mu.Unlock()
			if c.crashAt(c.rng.IntN(compactorSlots), name) {
				c.mu.Lock()
				c.fpNext++
				c.mu.Unlock()
			}
		case "pair":
			c.pair()
		case "loop":
			c.loop(c.rng.IntN(compactorSlots))
		}
	}
}

// killDelay draws when to SIGKILL a run: uniformly within its first
// second (a run over a few hundred small files takes 0.2 to 2 s here, its
// first 100-300 ms starting up, recovering and planning), so that most
// kills land inside a run, at any step.
func (c *compactorChaos) killDelay() time.Duration {
	return time.Duration(1 + c.rng.Int64N(int64(time.Second)))
}

// compactorProc is one compactor process.
type compactorProc struct {
	slot     int
	id       int
	spec     string // failpoints armed
	p        *harness.Process
	logStart int64
	started  time.Time
}

// start starts a compactor process in slot with failpoints spec and extra
// flags.
func (c *compactorChaos) start(slot int, spec string, extra ...string) *compactorProc {
	c.mu.Lock()
	c.seq++
	id := c.seq
	c.mu.Unlock()
	retention := []string{"1s", "5s", "1h"}[c.rng.IntN(3)]
	args := append([]string{"--config", c.config, "--writer-id", fmt.Sprintf("compactor-%d", slot), "--temp-dir", c.tempDir(slot),
		"--small-file-size", "256KiB", "--target-file-size", "1MiB", "--row-group-size", "128KiB",
		"--quiet-period", "0s", "--retention", retention, "--progress-every", "1s"}, extra...)
	env := append(slices.Clone(c.env), "LAKESTREAM_FAILPOINTS="+spec, fmt.Sprintf("LAKESTREAM_FAILPOINT_SEED=%d", c.rng.Uint64()),
		"LAKESTREAM_PUSHGATEWAY_URL=", "LAKESTREAM_OTLP_TRACES_ENDPOINT=")
	var logStart int64
	if info, err := os.Stat(c.logPath(slot)); err == nil {
		logStart = info.Size()
	}
	marker := fmt.Sprintf("compactor run #%d at %s, retention %s, failpoints %q, flags %q", id, time.Now().Format(time.RFC3339Nano), retention, spec, extra)
	p, err := harness.StartCompactor(c.bin, c.logPath(slot), marker, args, env...)
	if err != nil {
		c.fail("start compactor-%d: %v", slot, err)
		return nil
	}
	c.count("compactor-runs", 1)
	what := ""
	if spec != "" {
		what = " with " + spec
	}
	c.logf("compactor-%d #%d started (pid %d, retention %s)%s %s", slot, id, p.Pid(), retention, what, strings.Join(extra, " "))
	return &compactorProc{slot: slot, id: id, spec: spec, p: p, logStart: logStart, started: time.Now()}
}

// output is what the process logged.
func (c *compactorChaos) output(cp *compactorProc) string {
	data, err := os.ReadFile(c.logPath(cp.slot))
	if err != nil || int64(len(data)) < cp.logStart {
		return ""
	}
	return string(data[cp.logStart:])
}

// wait waits for cp's exit, SIGKILLing it after killAfter (0: never), at
// Stop, or after compactorRunWait (a stuck compactor: a failure).
func (c *compactorChaos) wait(cp *compactorProc, killAfter time.Duration) {
	var kill <-chan time.Time
	if killAfter > 0 {
		kill = time.After(killAfter)
	}
	select {
	case <-cp.p.Done():
	case <-kill:
		c.sigkill(cp, fmt.Sprintf("after %v", killAfter.Round(time.Millisecond)))
	case <-c.stop:
		c.sigkill(cp, "at the driver's stop")
	case <-time.After(compactorRunWait):
		c.fail("compactor-%d #%d stuck: still running after %v; last lines:\n%s", cp.slot, cp.id, compactorRunWait, tail(c.output(cp), 3000))
		cp.p.Kill()
	}
}

func (c *compactorChaos) sigkill(cp *compactorProc, when string) {
	if cp.p.Exited() {
		return
	}
	cp.p.Kill()
	if cp.p.ExitCode() == -1 {
		c.crashed()
		c.count("compactor-sigkill", 1)
		c.logf("SIGKILL compactor-%d #%d %s", cp.slot, cp.id, when)
	}
}

var summaryRE = regexp.MustCompile(`compactor: (\d+) groups, files (\d+) -> (\d+),.* (\d+) conflicts, (\d+) replaced files cleaned`)

// settle classifies a process's end; crashAt is the failpoint it was
// armed to crash at ("" none). It reports whether it crashed there.
func (c *compactorChaos) settle(cp *compactorProc, crashAt string) (crashed bool) {
	out := c.output(cp)
	code := cp.p.ExitCode()
	took := time.Since(cp.started).Round(time.Millisecond)
	for _, m := range summaryRE.FindAllStringSubmatch(out, -1) { // --loop: one per round
		groups, _ := strconv.Atoi(m[1])
		in, _ := strconv.Atoi(m[2])
		cleaned, _ := strconv.Atoi(m[5])
		c.count("compactor-groups-committed", groups)
		c.count("compactor-files-merged", in)
		c.count("compactor-replaced-files-cleaned", cleaned)
	}
	switch {
	case code == -1: // SIGKILLed (counted by sigkill)
	case code == 0:
		c.count("compactor-exit-0", 1)
		c.logf("compactor-%d #%d: exit 0 after %v: %s", cp.slot, cp.id, took, summaryLine(out))
	case code == 3:
		c.count("compactor-conflicts", 1)
		c.logf("compactor-%d #%d: exit 3 (conflict) after %v: %s", cp.slot, cp.id, took, summaryLine(out))
	case code == failpoint.CrashExitCode && crashAt != "" && strings.Contains(out, "failpoint "+crashAt+": crash"):
		c.crashed()
		c.mu.Lock()
		c.fired[crashAt]++
		c.counts["compactor-failpoint-crash"]++
		c.mu.Unlock()
		c.logf("compactor-%d #%d crashed at %s after %v", cp.slot, cp.id, crashAt, took)
		return true
	case code == 1:
		// An error: the contract says the table is as before the group
		// that failed and the next run settles it. Tolerated during the
		// torture, reported; the final clean runs must exit 0.
		line := errorLine(out)
		c.count("compactor-exit-1", 1)
		c.mu.Lock()
		if len(c.errors) < 20 {
			c.errors = append(c.errors, fmt.Sprintf("compactor-%d #%d: %s", cp.slot, cp.id, line))
		}
		c.mu.Unlock()
		c.logf("compactor-%d #%d: exit 1 after %v: %s", cp.slot, cp.id, took, line)
	default:
		c.fail("compactor-%d #%d (failpoints %q) exited with %s after %v: %s", cp.slot, cp.id, cp.spec, cp.p.ExitStatus(), took, tail(out, 3000))
	}
	return false
}

func summaryLine(out string) string {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "compactor: ") && strings.Contains(line, " groups, files ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "compactor: "))
		}
	}
	return "(no summary)"
}

func errorLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if strings.Contains(l, `"level":"ERROR"`) || strings.HasPrefix(l, "panic") || strings.HasPrefix(l, "compactor: ") && !strings.Contains(l, " groups, files ") {
			if len(l) > 600 {
				l = l[:600] + "..."
			}
			return l
		}
	}
	return tail(out, 600)
}

// oneShot runs a one-shot compactor in slot, SIGKILLed after killAfter
// (0: left to finish).
func (c *compactorChaos) oneShot(slot int, spec string, killAfter time.Duration) {
	cp := c.start(slot, spec)
	if cp == nil {
		return
	}
	c.wait(cp, killAfter)
	c.settle(cp, "")
}

// crashAt runs a compactor in slot armed to crash at name and reports
// whether it did. rollback.during needs an instant to roll back at the
// start: the slot's compactor is first crashed after opening one (its
// next start settles it at once: the same writer ID).
func (c *compactorChaos) crashAt(slot int, name string) bool {
	if name == failpoint.DuringRollback && !c.crashAt(slot, failpoint.AfterInflight) {
		return false
	}
	if c.stopping() {
		return false
	}
	cp := c.start(slot, name+"=crash")
	if cp == nil {
		return false
	}
	c.wait(cp, 0)
	if c.settle(cp, name) {
		return true
	}
	if cp.p.ExitCode() == 0 {
		c.count("compactor-failpoint-not-reached", 1)
	}
	return false
}

// pair runs both slots at once, their starts up to 300 ms apart; one of
// them may stall 1-3 s before its commit (its merged file uploaded), so
// that the other commits an overlapping plan first, or be SIGKILLed.
func (c *compactorChaos) pair() {
	c.count("compactor-pairs", 1)
	specs := [compactorSlots]string{}
	kills := [compactorSlots]time.Duration{}
	switch i := c.rng.IntN(compactorSlots); c.rng.IntN(3) {
	case 0:
		specs[i] = fmt.Sprintf("%s=sleep(%s)", []string{failpoint.AfterFileWrite, failpoint.BeforeComplete}[c.rng.IntN(2)],
			time.Duration(1000+c.rng.IntN(2000))*time.Millisecond)
	case 1:
		kills[i] = c.killDelay()
	}
	var procs [compactorSlots]*compactorProc
	for i := range compactorSlots {
		if i > 0 && !c.sleep(time.Duration(c.rng.Int64N(int64(300*time.Millisecond)))) {
			break
		}
		procs[i] = c.start(i, specs[i])
	}
	var wg sync.WaitGroup
	for i, cp := range procs {
		if cp == nil {
			continue
		}
		wg.Go(func() { c.wait(cp, kills[i]) })
	}
	wg.Wait()
	for _, cp := range procs {
		if cp != nil {
			c.settle(cp, "")
		}
	}
}

// loop runs --loop every 500 ms for 1-5 s, then SIGTERM (which must end
// it with exit 0) or SIGKILL.
func (c *compactorChaos) loop(slot int) {
	cp := c.start(slot, "", "--loop", "--interval", "500ms")
	if cp == nil {
		return
	}
	c.count("compactor-loops", 1)
	d := time.Second + time.Duration(c.rng.Int64N(int64(4*time.Second)))
	select {
	case <-cp.p.Done():
		c.fail("compactor-%d #%d --loop exited on its own (%s): %s", cp.slot, cp.id, cp.p.ExitStatus(), tail(c.output(cp), 3000))
		return
	case <-c.stop:
		c.sigkill(cp, "at the driver's stop")
		return
	case <-time.After(d):
	}
	if c.rng.IntN(2) == 0 {
		c.sigkill(cp, fmt.Sprintf("(--loop) after %v", d.Round(time.Millisecond)))
		c.settle(cp, "")
		return
	}
	begin := time.Now()
	if err := cp.p.Stop(compactorRunWait); err != nil {
		c.fail("compactor-%d #%d --loop: SIGTERM: %v (%s): %s", cp.slot, cp.id, err, cp.p.ExitStatus(), tail(c.output(cp), 3000))
		return
	}
	c.count("compactor-sigterm", 1)
	c.logf("SIGTERM compactor-%d #%d (--loop, after %v): exit 0 after %v", cp.slot, cp.id, d.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
	c.settle(cp, "")
}

// forceMissing crashes the compactor, in turn, at each failpoint that has
// not fired yet, for up to budget in all; it runs after the driver
// stopped, with the replicas running. Most failpoints need a group to
// compact, which a stalled ingestion does not give: a try that finds
// none is repeated half a second later. runTorture calls it after the
// cycles, and finish again once the table caught up with the topic (the
// catch-up's files to compact; the failpoints after which the group is
// committed come last, since they use a group up).
func (c *compactorChaos) forceMissing(budget time.Duration) {
	deadline := time.Now().Add(budget)
	for _, name := range []string{failpoint.BeforeRequested, failpoint.AfterInflight, failpoint.DuringRollback,
		failpoint.AfterFileWrite, failpoint.BeforeComplete, failpoint.AfterComplete, failpoint.AfterCommitBeforePublish} {
		for try := 1; c.fired[name] == 0 && time.Now().Before(deadline); try++ {
			if try > 1 {
				time.Sleep(500 * time.Millisecond)
			}
			c.logf("compactor: forcing failpoint %s (try %d)", name, try)
			c.crashAt(c.rng.IntN(compactorSlots), name)
		}
	}
}

// final runs each slot's compactor clean, then slot 0's again: each must
// exit 0 at last (its start settles the pending instants a killed run of
// its slot left). A conflict (3) or an error (1) is retried, as the
// CronJob's next run would, up to three runs per slot; the errors are
// reported with the others.
func (c *compactorChaos) final() {
	for _, slot := range []int{0, 1, 0} {
		for try := 1; ; try++ {
			cp := c.start(slot, "")
			if cp == nil {
				return
			}
			c.wait(cp, 0)
			c.settle(cp, "")
			code := cp.p.ExitCode()
			if code == 0 {
				break
			}
			if (code != 3 && code != 1) || try == 3 {
				c.fail("final clean run of compactor-%d: %s: %s", slot, cp.p.ExitStatus(), errorLine(c.output(cp)))
				return
			}
		}
	}
}

// summary is the counts for the run's summary line.
func (c *compactorChaos) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := fmtCounts(c.counts) + "; compactor failpoints fired: " + fmtCounts(c.fired)
	if len(c.errors) > 0 {
		s += "; compactor exit-1 errors (tolerated):\n  " + strings.Join(c.errors, "\n  ")
	}
	return s
}

// Tails is the end of each slot's log.
func (c *compactorChaos) Tails(n int) string {
	var b strings.Builder
	for i := range compactorSlots {
		data, err := os.ReadFile(c.logPath(i))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "----- compactor-%d (%s) -----\n%s\n", i, c.logPath(i), tail(string(data), n))
	}
	return b.String()
}

// replacecommits counts the table's completed replacecommits, on the
// active timeline and in lakestream's archive.
func replacecommits(ctx context.Context, tbl *hudi.Table) (int, error) {
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	oldest := ""
	for _, e := range tl.Entries {
		if oldest == "" || e.Time < oldest {
			oldest = e.Time
		}
		if e.Action == hudi.ActionReplaceCommit && e.State == hudi.StateCompleted {
			n++
		}
	}
	err = tbl.ArchivedInstants(ctx, "", func(ts, action string, m *hudi.CommitMetadata) error {
		if action == hudi.ActionReplaceCommit && (oldest == "" || ts < oldest) {
			n++
		}
		return nil
	})
	return n, err
}

// iceberg says whether the torture's table is published as Iceberg too:
// table.iceberg's default (on), unless LAKESTREAM_TORTURE_ICEBERG=0,
// which turns it off for ingestd and the compactor alike.
func (tt *torture) iceberg() bool { return os.Getenv("LAKESTREAM_TORTURE_ICEBERG") != "0" }

// failpoints are the ingestd failpoints the run arms in turn: all of them,
// but iceberg.before-publish only when ingestd publishes to Iceberg.
func (tt *torture) failpoints() []string {
	if tt.iceberg() {
		return failpoint.Names
	}
	return slices.DeleteFunc(slices.Clone(failpoint.Names), func(n string) bool { return n == failpoint.AfterCommitBeforePublish })
}

// icebergYAML is the torture.yaml line of table.iceberg.
func (tt *torture) icebergYAML() string {
	if tt.iceberg() {
		return ""
	}
	return "  iceberg: false\n"
}

// checkIceberg scans the table's Iceberg snapshot with iceberg-go and
// checks it holds every acknowledged record once, and that it publishes
// every completed Hudi instant. It returns the rows scanned, or what
// is wrong.
func (tt *torture) checkIceberg(ctx context.Context, acked map[int64]harness.RecordPos) (int, string) {
	tt.t.Helper()
	tbl, err := hudi.Open(ctx, tt.table)
	if err != nil {
		return 0, fmt.Sprintf("open table: %v", err)
	}
	loc, err := iceberg.TableLocation(tt.tableURL)
	if err != nil {
		return 0, fmt.Sprintf("iceberg location of %s: %v", tt.tableURL, err)
	}
	p, err := iceberg.New(tbl, loc)
	if err != nil {
		return 0, fmt.Sprintf("iceberg publisher: %v", err)
	}
	it, err := p.Table(ctx)
	if err != nil || it == nil {
		return 0, fmt.Sprintf("iceberg table: %v (none: %v)", err, it == nil)
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return 0, fmt.Sprintf("timeline: %v", err)
	}
	// Every completed instant is published (instants complete out of
	// order: the current snapshot need not be the newest instant's).
	var problems []string
	published := iceberg.Published(it.Metadata())
	for _, e := range tl.Completed() {
		if !published(e.Time) {
			problems = append(problems, fmt.Sprintf("completed Hudi instant %s (%s) has no Iceberg snapshot", e.Time, e.Action))
		}
	}
	_, batches, err := it.Scan(icetable.WithSelectedFields("userId")).ToArrowRecords(ctx)
	if err != nil {
		return 0, strings.Join(append(problems, fmt.Sprintf("iceberg scan: %v", err)), "; ")
	}
	seen := make(map[int64]int, len(acked))
	rows := 0
	for rec, err := range batches {
		if err != nil {
			return rows, strings.Join(append(problems, fmt.Sprintf("iceberg scan: %v", err)), "; ")
		}
		col, ok := rec.Column(0).(*array.Int64)
		if !ok {
			rec.Release()
			return rows, fmt.Sprintf("iceberg scan: userId is %s, want int64", rec.Column(0).DataType())
		}
		for i := range col.Len() {
			seen[col.Value(i)]++
		}
		rows += int(rec.NumRows())
		rec.Release()
	}
	var dups, lost, unknown int
	for id, n := range seen {
		if _, ok := acked[id]; !ok {
			unknown++
		}
		dups += n - 1
	}
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	if rows != len(acked) || dups != 0 || lost != 0 || unknown != 0 {
		problems = append(problems, fmt.Sprintf("the Iceberg scan has %d rows for %d records produced: %d duplicates, %d lost, %d never produced", rows, len(acked), dups, lost, unknown))
	}
	if len(problems) > 0 {
		return rows, fmt.Sprintf("%s: the Iceberg snapshot differs from the Hudi table (which holds every record once): %s", tt.storage, strings.Join(problems, "; "))
	}
	return rows, ""
}
