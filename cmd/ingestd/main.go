package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  ingestd run --config table.yaml [flags]   ingest a topic into a table (ingestd run -h lists flags)
  ingestd table inspect [--json] <table>   print the timeline, snapshot and checkpoints

<table> is file:///path, s3://bucket/prefix[?endpoint=URL&path_style=true&region=R],
or a local path.
`

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
	if len(args) >= 2 && args[0] == "table" && args[1] == "inspect" {
		return runInspect(ctx, args[2:], stdout, stderr)
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprint(stderr, usage)
	return 2
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingestd table inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "ingestd table inspect: want one table location, got %d\n%s", len(pos), usage)
		return 2
	}
	if err := inspect(ctx, pos[0], *asJSON, stdout); err != nil {
		fmt.Fprintf(stderr, "ingestd table inspect: %v\n", err)
		return 1
	}
	return 0
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
