package compaction

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a run starts has ended when it returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
