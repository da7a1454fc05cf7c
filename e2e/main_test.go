package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/lakestream/lakestream/e2e/harness"
	"go.uber.org/goleak"
)

// ingestdBin is the ingestd binary built (CGO_ENABLED=0) for these tests.
var ingestdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lakestream-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ingestdBin, err = harness.BuildIngestd(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
