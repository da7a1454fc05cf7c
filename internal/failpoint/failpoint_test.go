package failpoint

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseAndHit(t *testing.T) {
	s, err := Parse("commit.before-complete=error;rollback.during=crash@0;commit.after-inflight=sleep(1ms)", 1)
	if err != nil {
		t.Fatal(err)
	}
	exited := 0
	s.exit = func(int) { exited++ }
	if err := s.Hit(BeforeComplete); !errors.Is(err, ErrInjected) || !strings.Contains(err.Error(), BeforeComplete) {
		t.Fatalf("error failpoint: %v", err)
	}
	if err := s.Hit(DuringRollback); err != nil || exited != 0 {
		t.Fatalf("crash with probability 0 fired: %v, %d", err, exited)
	}
	if err := s.Hit(AfterInflight); err != nil {
		t.Fatal(err)
	}
	if err := s.Hit(AfterComplete); err != nil {
		t.Fatalf("unset failpoint: %v", err)
	}
	var none *Set
	if err := none.Hit(BeforeComplete); err != nil {
		t.Fatal(err)
	}
	c, _ := Parse(AfterFileWrite+"=crash", 1)
	c.exit = func(code int) { exited = code }
	c.Hit(AfterFileWrite)
	if exited != CrashExitCode {
		t.Fatalf("crash exit code %d", exited)
	}
}

func TestParseErrors(t *testing.T) {
	_, err := Parse("nope=crash;commit.before-complete=explode;rollback.during=crash@2", 1)
	if err == nil {
		t.Fatal("bad spec accepted")
	}
	for _, want := range []string{`"nope=crash"`, "explode", `probability "2"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not mention %s", err, want)
		}
	}
	if s, err := Parse("  ", 1); s != nil || err != nil {
		t.Fatalf("empty spec: %v %v", s, err)
	}
}

func TestArmed(t *testing.T) {
	s, err := Parse("rollback.during=crash@0.25;commit.before-complete=error;commit.after-inflight=sleep(1.5s)", 1)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Armed()
	want := []ArmedPoint{
		{Name: AfterInflight, Action: "sleep(1.5s)"},
		{Name: BeforeComplete, Action: "error"},
		{Name: DuringRollback, Action: "crash@0.25"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Armed() = %v, want %v", got, want)
	}
	var none *Set
	if got := none.Armed(); got != nil {
		t.Fatalf("nil Set: Armed() = %v", got)
	}
}
