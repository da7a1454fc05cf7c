package checkpoint

import (
	"strings"
	"testing"
	"time"
)

// Options that cannot work are refused, all at once.
func TestLateDataOptionsValidate(t *testing.T) {
	o := defaultOptions()
	WithLateData(-time.Second, time.Second, LatePolicy(7), 10)(&o)
	err := o.validate()
	for _, want := range []string{"must not be negative", "late policy 7", "late buffer 10 bytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v; want it to say %q", err, want)
		}
	}
}
