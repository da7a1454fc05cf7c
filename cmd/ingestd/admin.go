package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/lakestream/lakestream/internal/tasks"
)

// serveAdmin serves the admin endpoint: /status is the JSON that status
// returns (see pipelineStatus), /metrics the Prometheus text of metrics
// (left out if nil), /readyz answers 200 while ready says so and 503 with
// its reason otherwise (JSON both ways), /healthz answers ok while the
// process serves (liveness), /debug/tasks lists what each goroutine group
// of taskReg does and since when (text, or JSON with ?format=json; "no
// tasks" if taskReg is nil) and /debug/pprof/ serves net/http/pprof's
// profiles (registered on this server's mux; the default mux, where the
// package registers them too, is never served). It warns when addr is not
// a loopback address: the endpoint has no authentication. It returns a
// function that stops the server.
func serveAdmin(addr string, status func() any, ready func() (bool, string), metrics http.Handler, taskReg *tasks.Registry, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, reason := ready()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(struct {
			Ready  bool   `json:"ready"`
			Reason string `json:"reason,omitempty"`
		}{ok, reason})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(status())
	})
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.Handle("GET /debug/tasks", taskReg.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin endpoint", "err", err)
		}
	}()
	logger.Info("admin endpoint listening", "addr", ln.Addr().String(), "metrics", metrics != nil)
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		logger.Warn("admin endpoint listens beyond the loopback interface: /status, /metrics, /readyz, /debug/tasks and /debug/pprof/ answer anyone who reaches it, without authentication; restrict access to the port, or set admin.addr to 127.0.0.1:<port>",
			"addr", addr, "listening", ln.Addr().String())
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
