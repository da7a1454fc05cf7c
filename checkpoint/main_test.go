package checkpoint

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/duckdb/duckdb-go/v2.(*Connector).Close"))
}
