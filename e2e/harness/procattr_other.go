//go:build unix && !linux

package harness

import "syscall"

// sysProcAttr puts an ingestd child in its own process group, so that a
// terminal's ^C reaches only the tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
