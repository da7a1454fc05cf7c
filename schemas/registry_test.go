package schemas_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/schemas/registrytest"
)

const tinySchema = `{"type":"record","name":"T","fields":[{"name":"a","type":"int"}]}`

func TestRegistryCachesAndCollapses(t *testing.T) {
	srv := registrytest.NewServer(t)
	id := srv.Register("t", tinySchema)
	reg := newRegistry(t, srv)

	release := srv.Hold()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			s, err := reg.Schema(context.Background(), id)
			if err == nil && s.String() != tinySchema {
				err = errors.New("wrong schema text")
			}
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond) // let every caller reach the registry
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, err := reg.Schema(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if n := srv.Lookups(); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
}

func TestRegistryCacheSize(t *testing.T) {
	srv := registrytest.NewServer(t)
	a := srv.Register("t", tinySchema)
	b := srv.Register("t", strings.Replace(tinySchema, `"T"`, `"U"`, 1))
	reg := newRegistry(t, srv, schemas.WithCacheSize(1))
	for _, id := range []uint32{a, a, b, a} {
		if _, err := reg.Schema(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Lookups(); n != 3 {
		t.Errorf("%d lookups, want 3 (a, b, a again after eviction)", n)
	}
}

func TestRegistryErrors(t *testing.T) {
	srv := registrytest.NewServer(t)
	reg := newRegistry(t, srv)
	ctx := context.Background()

	_, err := reg.Schema(ctx, 42)
	var re *schemas.RegistryError
	if !errors.As(err, &re) || !re.NotFound || re.Retryable() || schemas.IsRetryable(err) {
		t.Errorf("unknown id: %v (%+v)", err, re)
	}
	srv.FailWith(http.StatusBadGateway)
	_, err = reg.Schema(ctx, 42)
	if !errors.As(err, &re) || re.NotFound || re.StatusCode != http.StatusBadGateway || !schemas.IsRetryable(err) {
		t.Errorf("502: %v", err)
	}
	srv.FailWith(0)
	srv.SetRaw(7, `{"type":"record"}`)
	_, err = reg.Schema(ctx, 7)
	if !errors.As(err, &re) || !re.Invalid || schemas.IsRetryable(err) {
		t.Errorf("invalid schema: %v", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = reg.Schema(cancelled, 42)
	if !schemas.IsRetryable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	// A 404 that is not the registry's "schema not found" (a wrong base
	// URL, a proxy) must not dead-letter records.
	proxy := httptest.NewServer(http.NotFoundHandler())
	defer proxy.Close()
	wrongBase, err := schemas.NewRegistry(proxy.URL + "/not-the-registry")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrongBase.Schema(ctx, 1); !errors.As(err, &re) || re.NotFound || !schemas.IsRetryable(err) {
		t.Errorf("plain 404: %v", err)
	}

	// Nor may a 200 that is not the registry's answer (a proxy's or login
	// page): it stalls the pipeline until the registry answers.
	for _, body := range []string{"<html>sign in</html>", `{"status":"ok"}`} {
		page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) }))
		notRegistry, err := schemas.NewRegistry(page.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := notRegistry.Schema(ctx, 1); !errors.As(err, &re) || re.Invalid || re.NotFound || !schemas.IsRetryable(err) {
			t.Errorf("200 with %q: %v (%+v)", body, err, re)
		}
		page.Close()
	}

	dead, err := schemas.NewRegistry("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dead.Schema(ctx, 1); !schemas.IsRetryable(err) {
		t.Errorf("connection refused: %v is not retryable", err)
	}
}

func TestRegistryBasicAuth(t *testing.T) {
	srv := registrytest.NewServer(t)
	id := srv.Register("t", tinySchema)
	srv.RequireBasicAuth("alice", "s3cret-pass")
	ctx := context.Background()

	_, err := newRegistry(t, srv).Schema(ctx, id)
	if !schemas.IsRetryable(err) {
		t.Errorf("no credentials: %v", err)
	}
	_, err = newRegistry(t, srv, schemas.WithBasicAuth("alice", "wrong")).Schema(ctx, id)
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong credentials: %v", err)
	}
	if _, err := newRegistry(t, srv, schemas.WithBasicAuth("alice", "s3cret-pass")).Schema(ctx, id); err != nil {
		t.Errorf("WithBasicAuth: %v", err)
	}
	withUser := strings.Replace(srv.URL, "http://", "http://alice:s3cret-pass@", 1)
	reg, err := schemas.NewRegistry(withUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Schema(ctx, id); err != nil {
		t.Errorf("credentials in the URL: %v", err)
	}
	if strings.Contains(reg.String(), "s3cret") {
		t.Errorf("String() shows the password: %s", reg)
	}
	_, err = schemas.NewRegistry("ftp://bob:s3cret-pass@host", schemas.WithCacheSize(0))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("invalid URL error shows the password: %v", err)
	}
}

func TestNewRegistryValidation(t *testing.T) {
	_, err := schemas.NewRegistry("ftp://host", schemas.WithCacheSize(0), schemas.WithHTTPClient(nil), schemas.WithBasicAuth("", "x"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"scheme", "cache size", "http client", "basic auth user"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := schemas.NewRegistry("http://"); err == nil {
		t.Error("no host: no error")
	}
}

// No secret of the registry URL (user-info, query values) reaches an error
// or the registry's description, and a query (which the request paths
// would follow) is refused.
func TestRegistryURLSecrets(t *testing.T) {
	const secret = "s3cretToken"
	for _, base := range []string{
		"ftp://registry:8081/?token=" + secret,
		"http://registry:8081/?token=" + secret,
		"http://registry:8081/#" + secret,
		"http://bob:" + secret + "@/",
	} {
		_, err := schemas.NewRegistry(base)
		if err == nil {
			t.Errorf("NewRegistry(%q): no error", base)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("NewRegistry(%q) error shows the secret: %v", base, err)
		}
	}
	// A request error quotes the URL (net/http's *url.Error).
	r, err := schemas.NewRegistry("http://bob:" + secret + "@127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.String(), secret) {
		t.Errorf("String() = %q shows the secret", r.String())
	}
	_, err = r.Schema(context.Background(), 7)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Schema error: %v", err)
	}
}
