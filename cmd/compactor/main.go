package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/lakestream/lakestream/internal/slowlog"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lakestream/lakestream/compaction"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/redact"
	"github.com/lakestream/lakestream/internal/tracing"
	"github.com/lakestream/lakestream/table/hudi"
	"go.opentelemetry.io/otel/attribute"
)

const usage = `usage:
  compactor run [--config table.yaml] [--table URL] [flags]
      merge the table's small files into large ones, once (or --loop)

Flags of run (compactor run -h lists them all):
  --config FILE      ingestd's table.yaml: table.url is the table (other settings are ignored)
  --table URL        the table, overriding the file ($LAKESTREAM_TABLE_URL):
                     file:///path, s3://bucket/prefix[?endpoint=URL&path_style=true&region=R], or a path
  --shard i/N        compact only the partitions of shard i of N (indexed Jobs)
  --dry-run          print the plan and stop: nothing is written
  --loop             run every --interval until SIGTERM
  --otlp-traces-endpoint URL
                     export a span per run, plan, group and step over OTLP/HTTP
                     ($LAKESTREAM_OTLP_TRACES_ENDPOINT; default: not exported)
  --slow-threshold D log a group's step slower than D as "slow compaction step"
                     (default 5s; 0: never)
  --iceberg=false    do not publish Iceberg snapshots (also off with table.iceberg: false
                     in --config); by default each replacecommit is published, and Iceberg
                     snapshots are expired before replaced files are deleted

Exit status: 0 compacted, or nothing to compact; 1 an error (the table is as
before the group that failed: the next run settles it); 2 usage or
configuration; 3 a group was given up to another compactor (a conflict; the
other groups were compacted).
`

// Exit statuses.
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitConflict = 3
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

// config is what compactor reads of ingestd's table.yaml.
type config struct {
	Table struct {
		URL     string `yaml:"url"`
		Name    string `yaml:"name"`
		Iceberg *bool  `yaml:"iceberg"`
	} `yaml:"table"`
}

type runFlags struct {
	config, table, shard, writerID, tempDir          string
	dryRun, loop, iceberg                            bool
	interval, quiet, retention, progress             time.Duration
	targetSize, smallSize, rowGroupSize, minFilesStr string
	logLevel                                         string
	otlpTraces                                       string
	slowThreshold                                    time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "run" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	fs := flag.NewFlagSet("compactor run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.config, "config", "", "ingestd's table.yaml (table.url)")
	fs.StringVar(&f.table, "table", os.Getenv("LAKESTREAM_TABLE_URL"), "table URL, overriding the file ($LAKESTREAM_TABLE_URL)")
	fs.StringVar(&f.shard, "shard", "0/1", "i/N: compact the partitions of shard i of N (FNV-1a of the partition path modulo N)")
	fs.StringVar(&f.writerID, "writer-id", "", "writer ID of the compactor's instants; unique among live compactors (default compactor, or compactor-<i>-of-<N> with --shard)")
	fs.StringVar(&f.tempDir, "temp-dir", os.TempDir(), "directory of the merge's inputs and output")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and stop")
	fs.BoolVar(&f.loop, "loop", false, "run every --interval until SIGTERM")
	fs.DurationVar(&f.interval, "interval", time.Hour, "period of --loop")
	fs.DurationVar(&f.quiet, "quiet-period", 0, "leave alone partitions that received a file less than this ago")
	fs.DurationVar(&f.retention, "retention", hudi.DefaultReplacedRetention, "keep replaced files this long after their replacecommit")
	fs.DurationVar(&f.progress, "progress-every", compaction.DefaultProgressEvery, "period of the progress log lines")
	fs.StringVar(&f.targetSize, "target-file-size", "128MiB", "size of the merged files")
	fs.StringVar(&f.smallSize, "small-file-size", "96MiB", "files of at least this size are left alone")
	fs.StringVar(&f.rowGroupSize, "row-group-size", "32MiB", "target size of the merged row groups")
	fs.StringVar(&f.minFilesStr, "min-files", "2", "fewest files merged into one")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&f.slowThreshold, "slow-threshold", slowlog.DefaultThreshold, `log a group's step (merge, upload, commit, ...) slower than this as "slow compaction step"; 0: never`)
	fs.StringVar(&f.otlpTraces, "otlp-traces-endpoint", os.Getenv("LAKESTREAM_OTLP_TRACES_ENDPOINT"),
		"OTLP/HTTP endpoint to export the runs' traces to, e.g. http://localhost:4318; credentials in $OTEL_EXPORTER_OTLP_HEADERS (default none: not exported; $LAKESTREAM_OTLP_TRACES_ENDPOINT)")
	fs.BoolVar(&f.iceberg, "iceberg", true, "publish each replacecommit as an Iceberg snapshot and expire Iceberg snapshots before deleting replaced files (off if false here or table.iceberg: false in --config)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "compactor run: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	opts, location, shard, logger, errs := f.options(stderr)
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(stderr, "compactor: %s\n", redact.URL(err.Error()))
		}
		return exitUsage
	}
	bucket, err := objstore.Open(ctx, location)
	if err != nil {
		fmt.Fprintf(stderr, "compactor: %s\n", redact.URL(err.Error()))
		return exitUsage
	}
	defer bucket.Close()
	seed, _ := strconv.ParseUint(os.Getenv("LAKESTREAM_FAILPOINT_SEED"), 10, 64)
	fps, err := failpoint.Parse(os.Getenv("LAKESTREAM_FAILPOINTS"), seed)
	if err != nil {
		fmt.Fprintf(stderr, "compactor: $LAKESTREAM_FAILPOINTS: %v\n", err)
		return exitUsage
	}
	if fps != nil {
		logger.Warn("failpoints armed", "spec", os.Getenv("LAKESTREAM_FAILPOINTS"))
	}
	tbl, err := hudi.Open(ctx, bucket, hudi.WithLogger(logger), hudi.WithFailpoints(fps))
	if err != nil {
		logger.Error("open table", "table", objstore.Describe(bucket), "err", err)
		fmt.Fprintf(stderr, "compactor: open table %s: %s\n", objstore.Describe(bucket), redact.URL(err.Error()))
		return exitFailed
	}
	tp, err := tracing.NewProvider(ctx, tracing.WithOTLPEndpoint(f.otlpTraces), tracing.WithLogger(logger),
		tracing.WithResourceAttributes(attribute.String("service.name", "compactor"), attribute.String("lakestream.table", tbl.Config().Name),
			attribute.String("lakestream.shard", shard)))
	if err != nil {
		fmt.Fprintf(stderr, "compactor: %s\n", redact.URL(err.Error()))
		return exitUsage
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			logger.Warn("tracing shutdown", "err", err)
		}
	}()
	opts = append(opts, compaction.Failpoints(fps), compaction.TracerProvider(tp))
	if f.slowThreshold > 0 {
		slow, err := slowlog.New(slowlog.WithThreshold(f.slowThreshold), slowlog.WithLogger(logger))
		if err != nil {
			fmt.Fprintf(stderr, "compactor: %v\n", err)
			return exitUsage
		}
		opts = append(opts, compaction.SlowLog(slow))
	}
	if f.iceberg && !f.dryRun {
		loc, err := iceberg.TableLocation(location)
		if err == nil {
			var p *iceberg.Publisher
			if p, err = iceberg.New(tbl, loc, iceberg.WithLogger(logger)); err == nil {
				opts = append(opts, compaction.Iceberg(p))
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "compactor: %s\n", redact.URL(err.Error()))
			return exitUsage
		}
	}
	c, err := compaction.New(tbl, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "compactor: %v\n", err)
		return exitUsage
	}
	pusher := newPusher(os.Getenv("LAKESTREAM_PUSHGATEWAY_URL"), tbl.Config().Name, shard, logger)
	for {
		code := runOnce(ctx, c, f.dryRun, pusher, stdout, logger)
		if !f.loop || f.dryRun {
			return code
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-time.After(f.interval):
		}
	}
}

// runOnce runs the compactor once, prints the plan (dry run) or the
// summary, pushes the metrics and returns the exit status.
func runOnce(ctx context.Context, c *compaction.Compactor, dryRun bool, pusher *pusher, stdout io.Writer, logger *slog.Logger) int {
	res, err := c.Run(ctx)
	if dryRun {
		if err != nil {
			logger.Error("plan", "err", err)
			return exitFailed
		}
		fmt.Fprint(stdout, res.Plan)
		return exitOK
	}
	tot := res.Totals()
	summary := fmt.Sprintf("compactor: %d groups, files %d -> %d, bytes %d -> %d, %d rows, %d row groups, %d fallbacks, %d conflicts, %d replaced files cleaned, %s",
		len(res.Groups), tot.InputFiles, res.OutputFiles(), tot.InputBytes, tot.OutputBytes, tot.Rows, tot.RowGroups,
		len(tot.Fallbacks), len(res.Conflicts), res.Cleaned, res.Duration.Round(time.Millisecond))
	fmt.Fprintln(stdout, summary)
	attrs := []any{"groups", len(res.Groups), "files_in", tot.InputFiles, "files_out", res.OutputFiles(),
		"bytes_in", tot.InputBytes, "bytes_out", tot.OutputBytes, "rows", tot.Rows, "row_groups", tot.RowGroups,
		"fallbacks", len(tot.Fallbacks), "conflicts", len(res.Conflicts), "cleaned", res.Cleaned,
		"duration", res.Duration.Round(time.Millisecond).String()}
	code := exitOK
	switch {
	case errors.Is(err, compaction.ErrConflict):
		logger.Warn("run done with conflicts", append(attrs, "err", err)...)
		code = exitConflict
	case err != nil:
		logger.Error("run failed", append(attrs, "err", err)...)
		code = exitFailed
	default:
		logger.Info("run done", attrs...)
	}
	pusher.push(res, tot, code == exitOK)
	return code
}

// options turns the flags into the compactor's options, the table location
// and the shard label, reporting every problem. On a terminal, a progress
// bar is drawn on stderr besides the log lines.
func (f *runFlags) options(stderr io.Writer) (opts []compaction.Option, location, shard string, logger *slog.Logger, errs []error) {
	location = f.table
	if f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			errs = append(errs, fmt.Errorf("--config: %w", err))
		} else {
			var cfg config
			if err := yaml.Unmarshal(data, &cfg); err != nil {
				errs = append(errs, fmt.Errorf("--config %s: %w", f.config, err))
			} else {
				if location == "" {
					location = cfg.Table.URL
				}
				if cfg.Table.Iceberg != nil && !*cfg.Table.Iceberg {
					f.iceberg = false
				}
			}
		}
	}
	if location == "" {
		errs = append(errs, errors.New("no table: give --config with table.url, --table or $LAKESTREAM_TABLE_URL"))
	} else if _, err := objstore.ParseLocation(location); err != nil {
		errs = append(errs, fmt.Errorf("table %s: %w", redact.URL(location), err))
	} else if f.iceberg {
		if _, err := iceberg.TableLocation(location); err != nil {
			errs = append(errs, fmt.Errorf("table %s: its iceberg location: %w (or --iceberg=false)", redact.URL(location), err))
		}
	}
	i, n, err := parseShard(f.shard)
	if err != nil {
		errs = append(errs, err)
	}
	shard = fmt.Sprintf("%d/%d", i, n)
	writerID := f.writerID
	if writerID == "" {
		writerID = compaction.DefaultWriterID
		if n > 1 {
			writerID = fmt.Sprintf("%s-%d-of-%d", compaction.DefaultWriterID, i, n)
		}
	}
	size := func(name, s string) int64 {
		v, err := parseSize(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
		}
		return v
	}
	minFiles, err := strconv.Atoi(f.minFilesStr)
	if err != nil {
		errs = append(errs, fmt.Errorf("--min-files %q: not a number", f.minFilesStr))
	}
	var level slog.Level
	if f.slowThreshold < 0 {
		errs = append(errs, fmt.Errorf("--slow-threshold %v: must not be negative (0: never)", f.slowThreshold))
	}
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel))
	}
	if f.loop && f.interval <= 0 {
		errs = append(errs, fmt.Errorf("--interval %s: must be positive", f.interval))
	}
	logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})).With("shard", shard)
	opts = []compaction.Option{
		compaction.Shard(i, max(n, 1)),
		compaction.WriterID(writerID),
		compaction.TempDir(f.tempDir),
		compaction.DryRun(f.dryRun),
		compaction.QuietPeriod(f.quiet),
		compaction.Retention(f.retention),
		compaction.ProgressEvery(f.progress),
		compaction.TargetFileBytes(size("target-file-size", f.targetSize)),
		compaction.SmallFileBytes(size("small-file-size", f.smallSize)),
		compaction.RowGroupBytes(size("row-group-size", f.rowGroupSize)),
		compaction.MinFiles(minFiles),
		compaction.Logger(logger),
	}
	if isTerminal(stderr) && !f.dryRun {
		opts = append(opts, compaction.ProgressFunc(progressBar(stderr)))
	}
	if err := compaction.Validate(opts...); err != nil {
		errs = append(errs, err)
	}
	if err := tracing.Validate(tracing.WithOTLPEndpoint(f.otlpTraces)); err != nil {
		errs = append(errs, fmt.Errorf("--otlp-traces-endpoint: %w", err))
	}
	return opts, location, shard, logger, errs
}

// parseShard parses i/N with 0 <= i < N.
func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 1, fmt.Errorf("--shard %q: want i/N with 0 <= i < N", s)
	}
	return i, n, nil
}

// parseSize parses a byte count with an optional KiB, MiB or GiB suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q: want a positive size such as 128MiB", s)
	}
	return v * mult, nil
}
