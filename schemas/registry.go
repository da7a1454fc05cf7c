package schemas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/lakestream/lakestream/internal/redact"
)

// Registry fetches Avro writer schemas by ID from a Confluent-compatible
// schema registry (GET {base}/schemas/ids/{id}). Schema IDs are immutable,
// so schemas are cached (up to the cache size, oldest first out), and
// concurrent lookups of one ID share one request. Safe for concurrent use.
type Registry struct {
	base   string // without credentials, without a trailing slash
	client *http.Client
	user   string
	pass   string
	auth   bool
	size   int

	mu       sync.Mutex
	cache    map[uint32]*AvroSchema
	order    []uint32 // cache insertion order, for eviction
	inflight map[uint32]*registryCall
}

type registryCall struct {
	done   chan struct{}
	schema *AvroSchema
	err    error
}

// RegistryOption configures NewRegistry.
type RegistryOption func(*registryConfig)

type registryConfig struct {
	client    *http.Client
	user      string
	pass      string
	auth      bool
	cacheSize int
}

// WithHTTPClient sets the HTTP client. Default: a client with no timeout
// (decoders bound each lookup, see WithRegistryTimeout).
func WithHTTPClient(c *http.Client) RegistryOption {
	return func(o *registryConfig) { o.client = c }
}

// WithBasicAuth sends HTTP basic credentials. They never appear in errors
// or logs. Credentials in the base URL are used the same way.
func WithBasicAuth(user, pass string) RegistryOption {
	return func(o *registryConfig) { o.user, o.pass, o.auth = user, pass, true }
}

// WithCacheSize bounds how many schemas stay cached. Default 10000.
func WithCacheSize(n int) RegistryOption {
	return func(o *registryConfig) { o.cacheSize = n }
}

// Validate reports every problem with the configuration.
func (o *registryConfig) Validate() error {
	var errs []error
	if o.client == nil {
		errs = append(errs, errors.New("http client is nil"))
	}
	if o.auth && o.user == "" {
		errs = append(errs, errors.New("basic auth user is empty"))
	}
	if o.cacheSize < 1 {
		errs = append(errs, fmt.Errorf("cache size %d: must be at least 1", o.cacheSize))
	}
	return errors.Join(errs...)
}

// NewRegistry returns a client of the schema registry at baseURL
// (http or https).
func NewRegistry(baseURL string, opts ...RegistryOption) (*Registry, error) {
	cfg := registryConfig{client: &http.Client{}, cacheSize: 10000}
	var errs []error
	u, err := url.Parse(baseURL)
	switch {
	case err != nil:
		errs = append(errs, errors.New("registry url does not parse")) // the text may hold a password
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("registry url %q: scheme must be http or https", redact.URL(baseURL)))
	case u.Host == "":
		errs = append(errs, fmt.Errorf("registry url %q: no host", redact.URL(baseURL)))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		// Request paths are appended to the base URL: a query would end
		// up in the middle of them.
		errs = append(errs, fmt.Errorf("registry url %q: a query or fragment is not supported (credentials go in the user-info: https://user:password@host)", redact.URL(baseURL)))
	}
	if err == nil && u.User != nil {
		pass, _ := u.User.Password()
		cfg.user, cfg.pass, cfg.auth = u.User.Username(), pass, true
		u.User = nil
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("schema registry: %w", err)
	}
	return &Registry{
		base:     strings.TrimRight(u.String(), "/"),
		client:   cfg.client,
		user:     cfg.user,
		pass:     cfg.pass,
		auth:     cfg.auth,
		size:     cfg.cacheSize,
		cache:    map[uint32]*AvroSchema{},
		inflight: map[uint32]*registryCall{},
	}, nil
}

// String describes the registry without its credentials.
func (r *Registry) String() string { return "schema registry " + redact.URL(r.base) }

// RegistryError reports a failed schema lookup. NotFound: the registry
// answered 404 with error code 40403 (schema not found). Invalid: it answered with a schema lakestream
// cannot use. Anything else (network, 5xx, timeouts, auth, an answer that
// is not JSON with a "schema") is retryable.
type RegistryError struct {
	ID         uint32
	StatusCode int // 0 when no HTTP answer came
	NotFound   bool
	Invalid    bool
	Err        error
}

func (e *RegistryError) Error() string {
	msg := "schema registry: schema " + strconv.FormatUint(uint64(e.ID), 10)
	switch {
	case e.NotFound:
		msg += ": not found"
	case e.StatusCode != 0:
		msg += ": HTTP " + strconv.Itoa(e.StatusCode)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *RegistryError) Unwrap() error { return e.Err }

// Retryable reports whether asking again later may succeed.
func (e *RegistryError) Retryable() bool { return !e.NotFound && !e.Invalid }

// Schema returns the writer schema with the given ID. Errors are
// *RegistryError; a nil Registry knows no schema. When several goroutines ask for one uncached ID at once,
// one request is made and its outcome (errors included) is shared.
func (r *Registry) Schema(ctx context.Context, id uint32) (*AvroSchema, error) {
	if r == nil {
		return nil, &RegistryError{ID: id, NotFound: true, Err: errors.New("no schema registry configured")}
	}
	r.mu.Lock()
	if s, ok := r.cache[id]; ok {
		r.mu.Unlock()
		return s, nil
	}
	if c, ok := r.inflight[id]; ok {
		r.mu.Unlock()
		select {
		case <-c.done:
			return c.schema, c.err
		case <-ctx.Done():
			return nil, &RegistryError{ID: id, Err: ctx.Err()}
		}
	}
	c := &registryCall{done: make(chan struct{})}
	r.inflight[id] = c
	r.mu.Unlock()

	c.schema, c.err = r.fetch(ctx, id)

	r.mu.Lock()
	delete(r.inflight, id)
	if c.err == nil {
		if len(r.order) >= r.size {
			delete(r.cache, r.order[0])
			r.order = r.order[1:]
		}
		r.cache[id] = c.schema
		r.order = append(r.order, id)
	}
	r.mu.Unlock()
	close(c.done)
	return c.schema, c.err
}

// maxSchemaResponse bounds a registry answer.
const maxSchemaResponse = 16 << 20

func (r *Registry) fetch(ctx context.Context, id uint32) (*AvroSchema, error) {
	fail := func(status int, err error) error { return &RegistryError{ID: id, StatusCode: status, Err: err} }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/schemas/ids/"+strconv.FormatUint(uint64(id), 10), nil)
	if err != nil {
		return nil, fail(0, err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	if r.auth {
		req.SetBasicAuth(r.user, r.pass)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redact.URL(ue.URL)
		}
		return nil, fail(0, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSchemaResponse+1))
	if err != nil {
		return nil, fail(resp.StatusCode, fmt.Errorf("read answer: %w", err))
	}
	var answer struct {
		Schema     *string `json:"schema"`
		SchemaType string  `json:"schemaType"`
		ErrorCode  int     `json:"error_code"`
		Message    string  `json:"message"`
	}
	jsonErr := json.Unmarshal(body, &answer)
	if resp.StatusCode != http.StatusOK {
		e := &RegistryError{ID: id, StatusCode: resp.StatusCode}
		// Only the registry's own "schema not found" is final: any other 404
		// (a wrong base URL, a proxy) must stall the pipeline, not
		// dead-letter every record.
		if resp.StatusCode == http.StatusNotFound && jsonErr == nil && answer.ErrorCode == 40403 {
			e.NotFound = true
		}
		if answer.Message != "" {
			e.Err = errors.New(clip(answer.Message))
		}
		return nil, e
	}
	invalid := func(err error) error {
		return &RegistryError{ID: id, StatusCode: resp.StatusCode, Invalid: true, Err: err}
	}
	switch {
	case len(body) > maxSchemaResponse:
		return nil, invalid(errors.New("answer too large"))
	case jsonErr != nil:
		// Not the registry's answer (a proxy's or login page): retryable,
		// as a wrong base URL must stall the pipeline, not dead-letter
		// every record.
		return nil, fail(resp.StatusCode, fmt.Errorf("answer is not the registry's: %w", jsonErr))
	case answer.Schema == nil:
		return nil, fail(resp.StatusCode, errors.New(`answer is not the registry's: no "schema"`))
	case answer.SchemaType != "" && answer.SchemaType != "AVRO":
		return nil, invalid(fmt.Errorf("schema type %q, not AVRO", clip(answer.SchemaType)))
	}
	s, err := ParseAvroSchema(*answer.Schema)
	if err != nil {
		return nil, invalid(err)
	}
	return s, nil
}

// clip shortens registry text quoted in errors.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
