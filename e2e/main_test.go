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
	// LAKESTREAM_E2E_INGESTD runs the tests against a given binary (e.g.
	// one built from an older commit) instead of building ./cmd/ingestd.
	if bin := os.Getenv("LAKESTREAM_E2E_INGESTD"); bin != "" {
		ingestdBin = bin
	} else {
		ingestdBin, err = harness.BuildIngestd(dir)
	}
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
