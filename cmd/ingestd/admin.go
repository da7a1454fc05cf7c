package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/source"
)

// serveAdmin serves the admin endpoint: /status says what every worker is
// doing, every partition's position, lag, event time and pause state, and
// the pipeline's counters; /healthz answers ok. It returns a
// function that stops the server.
func serveAdmin(addr string, coord *checkpoint.Coordinator, reader *source.Reader, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		st := coord.Stats()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{
			"workers":        coord.WorkerStates(),
			"partitions":     reader.PartitionStates(),
			"records":        st.Records,
			"bytes":          st.Bytes,
			"rows":           st.Rows,
			"deadLetters":    st.DeadLetters,
			"checkpoints":    st.Checkpoints,
			"files":          st.Files,
			"rowsCommitted":  st.RowsCommitted,
			"lastInstant":    st.LastInstant,
			"lastCheckpoint": st.LastCheckpoint,
			"lastDuration":   st.LastDuration.String(),
		})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin endpoint", "err", err)
		}
	}()
	logger.Info("admin endpoint listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
