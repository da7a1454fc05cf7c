package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// BuildCompactor builds cmd/compactor with CGO_ENABLED=0 into dir and
// returns the binary's path.
func BuildCompactor(dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, "compactor")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/compactor")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build compactor: %v\n%s", err, out)
	}
	return bin, nil
}

// StartCompactor runs `compactor run args...` in its own process group
// (it dies with the test process on Linux), its output appended to
// logPath after a marker line naming the run, and env added to the
// test's environment.
func StartCompactor(bin, logPath, marker string, args []string, env ...string) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "=== harness: %s\n", marker)
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return startProcess(cmd, log)
}
