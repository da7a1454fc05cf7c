package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/lakestream/lakestream/internal/redact"
)

const usage = `usage:
  ingestd run --config table.yaml [flags]   ingest a topic into a table (ingestd run -h lists flags)
  ingestd config check --config table.yaml [flags]
                                           validate the configuration as run does (the
                                           file, the environment and the flags), touching
                                           nothing: exit 0 if run would accept it, 2 if not
  ingestd healthcheck [--addr host:port]    exit 0 if the local ingestd's /readyz answers 200
                                           (the image's HEALTHCHECK; LAKESTREAM_ADMIN_ADDR)
  ingestd table inspect [--json] <table>   print the timeline, snapshot and checkpoints
  ingestd table check [--json] <table>     verify every committed file: present, its size, its footer's rows

<table> is file:///path, s3://bucket/prefix[?endpoint=URL&path_style=true&region=R],
or a local path.

Exit status: 0 ok; 1 the table could not be read (or ingestd stopped on an
error); 2 usage or invalid configuration; 3 (table inspect, table check)
committed files are missing or damaged.
`

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // could not read the table; ingestd stopped on an error
	exitUsage   = 2 // bad command line, location or configuration
	exitDamaged = 3 // table inspect / check: committed files missing or damaged
)

func main() {
	// The first SIGTERM or SIGINT stops with a final checkpoint; a second
	// one aborts without committing.
	ctx, cancel := context.WithCancel(context.Background())
	abort := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		close(abort)
	}()
	os.Exit(runAbortable(ctx, abort, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runAbortable(ctx, nil, args, stdout, stderr)
}

func runAbortable(ctx context.Context, abort <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	if len(args) >= 1 && args[0] == "run" {
		return runIngest(ctx, abort, args[1:], stdout, stderr)
	}
	if len(args) >= 1 && args[0] == "healthcheck" {
		return runHealthcheck(ctx, args[1:], stdout, stderr)
	}
	if len(args) >= 2 && args[0] == "config" && args[1] == "check" {
		return checkConfig(args[2:], stdout, stderr)
	}
	if len(args) >= 2 && args[0] == "table" && (args[1] == "inspect" || args[1] == "check") {
		return runTable(ctx, args[1], args[2:], stdout, stderr)
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprint(stderr, usage)
	return exitUsage
}

// checkConfig runs `ingestd config check`: the configuration is read and
// validated exactly as `ingestd run` does, every problem reported at once
// (exit 2), and nothing is contacted or created.
func checkConfig(args []string, stdout, stderr io.Writer) int {
	cfg, logger, code := configureAs("ingestd config check", args, stderr)
	if logger == nil {
		return code
	}
	fmt.Fprintf(stdout, "configuration ok: topic %s, table %s\n", printable(cfg.Kafka.Topic), printable(redact.URL(cfg.Table.URL)))
	return exitOK
}

// runTable runs `ingestd table inspect` or `ingestd table check`.
func runTable(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	name := "ingestd table " + cmd
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "%s: want one table location, got %d\n%s", name, len(pos), usage)
		return exitUsage
	}
	location := pos[0]
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "%s: %s\n", name, printableLines(scrub(err.Error(), location)))
		return code
	}
	if err := validateLocation(location); err != nil {
		return fail(exitUsage, fmt.Errorf("table %s: %w", redact.URL(location), err))
	}
	var problems int
	if cmd == "check" {
		problems, err = check(ctx, location, *asJSON, stdout)
	} else {
		problems, err = inspect(ctx, location, *asJSON, stdout)
	}
	if err != nil {
		return fail(exitFailed, err)
	}
	if problems > 0 {
		fmt.Fprintf(stderr, "%s: %s: %d committed files missing or damaged\n", name, printable(redact.URL(location)), problems)
		return exitDamaged
	}
	return exitOK
}

// parseInterspersed parses flags before and after positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newLogger is the JSON logger of `ingestd run`; every string and error it
// writes has the given URLs redacted (a package that quotes one as given
// does not leak what it holds).
func newLogger(w io.Writer, level slog.Level, urls ...string) *slog.Logger {
	return newScrubbingLogger(w, level, newScrubber(urls...))
}

// newScrubbingLogger is the JSON logger that passes every string and error
// through s.
func newScrubbingLogger(w io.Writer, level slog.Level, s *scrubber) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		switch a.Value.Kind() {
		case slog.KindString:
			if v := s.scrub(a.Value.String()); v != a.Value.String() {
				a.Value = slog.StringValue(v)
			}
		case slog.KindAny:
			switch v := a.Value.Any().(type) {
			case error:
				a.Value = slog.StringValue(s.scrub(v.Error()))
			case fmt.Stringer:
				a.Value = slog.StringValue(s.scrub(v.String()))
			}
		}
		return a
	}}))
}

// scrubber replaces the secret-bearing forms of some URLs in text.
type scrubber struct {
	pairs [][2]string // raw, redacted; longest raw first
}

func newScrubber(urls ...string) *scrubber {
	s := &scrubber{}
	seen := map[string]bool{}
	add := func(raw, safe string) {
		if raw != "" && raw != safe && !seen[raw] {
			seen[raw] = true
			s.pairs = append(s.pairs, [2]string{raw, safe})
		}
	}
	var addURL func(u string, depth int)
	addURL = func(u string, depth int) {
		safe := redact.URL(u)
		if u == "" || u == safe || depth > 3 {
			return
		}
		add(u, safe)
		pu, err := url.Parse(u)
		if err != nil {
			return
		}
		add(pu.String(), safe)
		add(pu.Redacted(), safe)
		if pw, ok := pu.User.Password(); ok && len(pw) >= 4 {
			add(pw, redact.Mask)
		}
		for name, vals := range pu.Query() {
			for _, v := range vals {
				switch {
				case strings.Contains(v, "://"):
					addURL(v, depth+1)
				case name != "path_style" && name != "region" && len(v) >= 4:
					add(v, redact.Mask)
				}
			}
		}
	}
	for _, u := range urls {
		addURL(u, 0)
	}
	slices.SortFunc(s.pairs, func(a, b [2]string) int { return len(b[0]) - len(a[0]) })
	return s
}

func (s *scrubber) scrub(text string) string {
	for _, p := range s.pairs {
		if strings.Contains(text, p[0]) {
			text = strings.ReplaceAll(text, p[0], p[1])
		}
	}
	return text
}

// scrub redacts urls (as given, parsed, or their secret parts) in text.
func scrub(text string, urls ...string) string { return newScrubber(urls...).scrub(text) }

// scrubError is err with urls redacted from its text.
func scrubError(err error, urls ...string) error {
	if err == nil {
		return nil
	}
	if s := scrub(err.Error(), urls...); s != err.Error() {
		return errors.New(s)
	}
	return err
}

// printable escapes what a terminal would act on (control characters,
// escape sequences, bidirectional overrides and other non-printable
// characters, invalid UTF-8) as Go escapes (\x1b, \u202e), so that text
// read from a table or a configuration cannot set the terminal's title or
// colours or hide what follows.
func printable(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strconv.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// printableLines is printable for each line of a multi-line message.
func printableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = printable(l)
	}
	return strings.Join(lines, "\n")
}

// escapeJSON escapes, as \uXXXX, every non-printable character encoding/json
// leaves raw in its strings (DEL, C1 controls, bidirectional overrides):
// the structure's newlines are the only non-printable characters outside
// strings, and encoding/json already escapes the other controls.
func escapeJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == '\n' || strconv.IsPrint(r) || (r == utf8.RuneError && n == 1) {
			out = append(out, b[i:i+n]...)
		} else if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += n
	}
	return out
}
