package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// healthcheckTimeout bounds `ingestd healthcheck`'s request.
const healthcheckTimeout = 3 * time.Second

// runHealthcheck runs `ingestd healthcheck`, the container image's
// HEALTHCHECK (the scratch image has no shell or curl): GET /readyz on the
// admin address of the ingestd running beside it (--addr, else
// LAKESTREAM_ADMIN_ADDR, else 127.0.0.1:9464; an unspecified host such as
// 0.0.0.0 means the loopback address), exit 0 if it answers 200, 1
// otherwise, within 3 s.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingestd healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("LAKESTREAM_ADMIN_ADDR")
	if def == "" {
		def = defaultConfig().Admin.Addr
	}
	addr := fs.String("addr", def, "the admin address of the ingestd to check (env LAKESTREAM_ADMIN_ADDR)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ingestd healthcheck: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil || port == "" {
		fmt.Fprintf(stderr, "ingestd healthcheck: admin address %q: want host:port\n", printable(*addr))
		return exitUsage
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ingestd healthcheck: %v\n", err)
		return exitFailed
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "ingestd healthcheck: %v\n", err)
		return exitFailed
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "ingestd healthcheck: %s: %s: %s\n", url, resp.Status, printable(string(body)))
		return exitFailed
	}
	fmt.Fprintf(stdout, "ready: %s\n", printable(string(body)))
	return exitOK
}
