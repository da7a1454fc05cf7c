package checkpoint

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// optionErrors lists the *OptionError problems of a joined error.
func optionErrors(err error) map[string]*OptionError {
	out := map[string]*OptionError{}
	var walk func(error)
	walk = func(err error) {
		var oe *OptionError
		if errors.As(err, &oe) && err == error(oe) {
			out[oe.Option] = oe
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// TestValidateOptionsForWorkers: the memory budget's share per worker is
// checked only when the workers are known, every problem is reported at
// once, and each problem of an option names it.
func TestValidateOptionsForWorkers(t *testing.T) {
	if err := ValidateOptions(WithMemoryBudget(4 << 20)); err != nil {
		t.Errorf("4MiB without workers: %v", err)
	}
	for _, ok := range []int64{0, 8 << 20} {
		if err := ValidateOptionsForWorkers(8, WithMemoryBudget(ok)); err != nil {
			t.Errorf("budget %d with 8 workers: %v", ok, err)
		}
	}
	err := ValidateOptionsForWorkers(8, WithMemoryBudget(4<<20), WithInterval(0), WithLateData(time.Hour, time.Minute, LateWrite, 1<<20))
	if err == nil || !strings.Contains(err.Error(), "memory budget 4MiB: at least 8MiB with 8 workers (1MiB per worker), or 0 to turn it off") {
		t.Fatalf("4MiB with 8 workers: %v", err)
	}
	got := optionErrors(err)
	for option, problem := range map[string]string{
		"WithMemoryBudget": "at least 8MiB with 8 workers (1MiB per worker), or 0 to turn it off",
		"WithInterval":     "must be positive",
		"WithLateData":     "below the allowed lateness 1h0m0s",
	} {
		if oe := got[option]; oe == nil || oe.Problem != problem {
			t.Errorf("%s: %+v, want problem %q (all: %v)", option, oe, problem, err)
		}
	}
	if !strings.Contains(err.Error(), "checkpoint interval 0s: must be positive") || !strings.Contains(err.Error(), "max lateness 1m0s is below the allowed lateness 1h0m0s") {
		t.Errorf("messages: %v", err)
	}
}
