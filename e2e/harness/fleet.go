package harness

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Fleet runs numbered ingestd replicas of one table as child processes:
// replica i has writer ID "<prefix>-<i>" (LAKESTREAM_WRITER_ID), its own
// TMPDIR (journal, spool) kept across restarts, and its own log, appended
// across restarts with a marker line before each start. A Fleet is used
// from one goroutine.
type Fleet struct {
	bin, config, dir, prefix string
	env                      []string
	replicas                 []*Replica
}

// Replica is one slot of a Fleet.
type Replica struct {
	Index    int
	WriterID string
	LogPath  string
	// Failpoints is the failpoint spec the current process was started
	// with ("" for a clean start).
	Failpoints string
	// Starts counts the processes started in this slot.
	Starts int

	proc     *Process
	logStart int64
}

// NewFleet prepares size replica slots; none runs yet. env is added to
// every replica's environment.
func NewFleet(bin, config, dir, prefix string, size int, env ...string) *Fleet {
	f := &Fleet{bin: bin, config: config, dir: dir, prefix: prefix, env: env}
	for i := range size {
		id := fmt.Sprintf("%s-%d", prefix, i)
		f.replicas = append(f.replicas, &Replica{Index: i, WriterID: id, LogPath: filepath.Join(dir, id+".log")})
	}
	return f
}

// Size is the number of slots.
func (f *Fleet) Size() int { return len(f.replicas) }

// Replica returns slot i.
func (f *Fleet) Replica(i int) *Replica { return f.replicas[i] }

// Start starts a process in slot i, which must not be running, with
// failpoints armed by spec (LAKESTREAM_FAILPOINTS, "" for none) and seed.
func (f *Fleet) Start(i int, spec string, seed uint64, extraEnv ...string) error {
	r := f.replicas[i]
	if r.Running() {
		return fmt.Errorf("replica %s is running", r.WriterID)
	}
	log, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "=== harness: start #%d of %s at %s, failpoints %q\n", r.Starts+1, r.WriterID, time.Now().Format(time.RFC3339Nano), spec)
	info, err := log.Stat()
	log.Close()
	if err != nil {
		return err
	}
	// Each replica has its own temporary directory, as on its own host:
	// ingestd keeps its checkpoint journal (default state_dir) and its
	// spool files there, and sweeps them at start.
	tmp := filepath.Join(f.dir, r.WriterID+".tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	env := append(append([]string{}, f.env...),
		"TMPDIR="+tmp,
		"LAKESTREAM_WRITER_ID="+r.WriterID,
		"LAKESTREAM_FAILPOINTS="+spec,
		fmt.Sprintf("LAKESTREAM_FAILPOINT_SEED=%d", seed))
	p, err := StartIngestd(f.bin, f.config, r.LogPath, append(env, extraEnv...)...)
	if err != nil {
		return err
	}
	r.proc, r.logStart, r.Failpoints = p, info.Size(), spec
	r.Starts++
	return nil
}

// Running lists the slots whose process runs (a stopped one included).
func (f *Fleet) Running() []int {
	var out []int
	for _, r := range f.replicas {
		if r.Running() {
			out = append(out, r.Index)
		}
	}
	return out
}

// KillAll SIGKILLs every process (and continues stopped ones) and waits.
func (f *Fleet) KillAll() {
	for _, r := range f.replicas {
		if r.proc != nil {
			r.proc.Kill()
		}
	}
}

// Tails returns the last n bytes of every replica's log.
func (f *Fleet) Tails(n int) string {
	var b strings.Builder
	for _, r := range f.replicas {
		data, err := os.ReadFile(r.LogPath)
		if err != nil {
			continue
		}
		s := string(data)
		if len(s) > n {
			s = "..." + s[len(s)-n:]
		}
		fmt.Fprintf(&b, "----- %s (%s) -----\n%s\n", r.WriterID, r.LogPath, s)
	}
	return b.String()
}

// Proc is the slot's current (or last) process, nil if none was started.
func (r *Replica) Proc() *Process { return r.proc }

// Running reports whether the slot has a process that has not exited.
func (r *Replica) Running() bool { return r.proc != nil && !r.proc.Exited() }

// LogSinceStart is what the current (or last) process logged.
func (r *Replica) LogSinceStart() string {
	f, err := os.Open(r.LogPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(r.logStart, io.SeekStart); err != nil {
		return ""
	}
	data, _ := io.ReadAll(f)
	return string(data)
}

// LastErrorLine is the last line of the current process's log that reports
// an error or a crash, for cycle logs.
func (r *Replica) LastErrorLine() string {
	lines := strings.Split(strings.TrimSpace(r.LogSinceStart()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if strings.Contains(l, `"level":"ERROR"`) || strings.HasPrefix(l, "failpoint ") || strings.HasPrefix(l, "panic") || strings.HasPrefix(l, "ingestd") {
			if len(l) > 400 {
				l = l[:400] + "..."
			}
			return l
		}
	}
	return ""
}
