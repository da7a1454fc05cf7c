package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheck: `ingestd healthcheck` exits 0 when /readyz answers 200,
// 1 when it answers 503 or nothing listens, 2 for a bad address; an
// unspecified host (0.0.0.0, as a pod binds) is checked on the loopback.
func TestHealthcheck(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"ready":false,"reason":"no checkpoint completed for 95s"}`))
			return
		}
		w.Write([]byte(`{"ready":true}`))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	check := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"healthcheck"}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := check("--addr", "0.0.0.0:"+port); code != exitOK || !strings.Contains(out, "ready") {
		t.Errorf("ready: exit %d %s, want 0", code, out)
	}
	t.Setenv("LAKESTREAM_ADMIN_ADDR", "127.0.0.1:"+port)
	ready = false
	if code, out := check(); code != exitFailed || !strings.Contains(out, "503") || !strings.Contains(out, "no checkpoint completed") {
		t.Errorf("unready: exit %d %s, want 1 with the reason", code, out)
	}
	if code, out := check("--addr", freeAddr(t)); code != exitFailed {
		t.Errorf("nothing listening: exit %d %s, want 1", code, out)
	}
	if code, out := check("--addr", "nonsense"); code != exitUsage {
		t.Errorf("bad address: exit %d %s, want 2", code, out)
	}
}
