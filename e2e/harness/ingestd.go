package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// BuildIngestd builds cmd/ingestd with CGO_ENABLED=0 into dir and returns
// the binary's path.
func BuildIngestd(dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, "ingestd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ingestd")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build ingestd: %v\n%s", err, out)
	}
	return bin, nil
}

// Process is a running ingestd.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *os.File
}

// StartIngestd runs `ingestd run --config config` with its output
// appended to logPath.
func StartIngestd(bin, config, logPath string, env ...string) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Env = append(os.Environ(), env...)
	return startProcess(cmd, log)
}

// startProcess starts cmd in its own process group with its output
// appended to log, which it closes when the process exits.
func startProcess(cmd *exec.Cmd, log *os.File) (*Process, error) {
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), log: log}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// Stop sends SIGTERM (a final checkpoint) and waits for the exit.
func (p *Process) Stop(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return p.Wait(timeout)
}

// Kill sends SIGKILL and waits.
func (p *Process) Kill() error {
	p.cmd.Process.Kill()
	<-p.done
	return nil
}

// KillGroup sends SIGKILL to the process's group (every process it
// started) and waits for the process.
func (p *Process) KillGroup() {
	if !p.Exited() { // once reaped, the group's ID may be reused
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	p.cmd.Process.Kill()
	<-p.done
}

// Wait waits for the process to exit and returns its error (nil for exit 0).
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("ingestd did not exit within %v", timeout)
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitFor polls cond every interval until it returns true or an error, or
// ctx ends.
func WaitFor(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// Signal sends sig to the process (SIGSTOP, SIGCONT, SIGTERM...). A process
// that has exited is not an error.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the exit status once the process has exited: -1 while it
// runs or when a signal ended it.
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// ExitStatus describes how the process ended ("exit status 86", "signal:
// killed"), or "running".
func (p *Process) ExitStatus() string {
	if !p.Exited() {
		return "running"
	}
	return p.cmd.ProcessState.String()
}
