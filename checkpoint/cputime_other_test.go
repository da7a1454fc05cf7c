//go:build !unix

package checkpoint_test

import "time"

// processCPU is not known here (see cputime_unix_test.go).
func processCPU() (time.Duration, bool) { return 0, false }
