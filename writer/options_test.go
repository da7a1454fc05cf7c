package writer

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// TestValidateOptions: ValidateOptions reports every problem at once, as
// NewSet does, each an *OptionError naming its option and what is wrong.
func TestValidateOptions(t *testing.T) {
	if err := ValidateOptions(WithSpoolDir(t.TempDir()), WithTargetFileSize(1<<10), WithMinFileSize(0)); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
	missing := t.TempDir() + "/missing"
	err := ValidateOptions(WithTargetFileSize(0), WithMaxFileAge(-1), WithMaxOpenFiles(0), WithUploadConcurrency(MaxUploadConcurrency+1),
		WithStageMemory(0), WithCompression("lzo"), WithSpoolDir(missing))
	if err == nil {
		t.Fatal("invalid options accepted")
	}
	want := map[string]string{
		"WithTargetFileSize":    "must be positive",
		"WithMaxFileAge":        "must be positive",
		"WithMaxOpenFiles":      "must be at least 1",
		"WithUploadConcurrency": "must be between 1 and 256",
		"WithStageMemory":       "must be positive",
		"WithCompression":       "want zstd, zstd-fast, snappy, gzip or none",
		"WithSpoolDir":          missing,
	}
	got := map[string]*OptionError{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var oe *OptionError
		if !errors.As(e, &oe) {
			t.Fatalf("not an *OptionError: %v", e)
		}
		got[oe.Option] = oe
	}
	for option, problem := range want {
		oe := got[option]
		if oe == nil {
			t.Errorf("%s: no problem reported:\n%v", option, err)
		} else if !strings.Contains(oe.Problem, problem) {
			t.Errorf("%s: problem %q, want it to say %q", option, oe.Problem, problem)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(got), len(want), err)
	}
	if !strings.Contains(err.Error(), "target file size 0: must be positive") || !strings.Contains(err.Error(), `compression "lzo": want zstd`) {
		t.Errorf("messages do not name the setting and its value:\n%v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the spool directory's Stat error is not kept: %v", err)
	}
}
