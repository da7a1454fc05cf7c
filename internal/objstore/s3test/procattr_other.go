//go:build unix && !linux

package s3test

import "syscall"

// sysProcAttr puts the server in its own process group, so that a terminal's
// ^C reaches only the tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
