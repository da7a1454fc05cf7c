package harness

import "syscall"

// sysProcAttr puts an ingestd child in its own process group, so that a
// terminal's ^C reaches only the tests, and has the kernel kill it if the
// test process dies without cleaning up (as when go test's -timeout fires).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
