package registrytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// Server is an in-process schema registry speaking the part of the
// Confluent REST API that lakestream uses:
//
//	GET  /schemas/ids/{id}             -> {"schema": "..."} or 404 {"error_code": 40403}
//	POST /subjects/{subject}/versions  {"schema": "..."} -> {"id": N}
//
// The same schema text always gets the same ID. Safe for concurrent use.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port.
	URL string

	srv      *httptest.Server
	mu       sync.Mutex
	byID     map[uint32]string
	byText   map[string]uint32
	next     uint32
	lookups  int
	failWith int
	user     string
	pass     string
	gate     chan struct{}
}

// NewServer starts a registry that stops when the test ends.
func NewServer(t testing.TB) *Server {
	s := &Server{byID: map[uint32]string{}, byText: map[string]uint32{}, next: 1}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /schemas/ids/{id}", s.getSchema)
	mux.HandleFunc("POST /subjects/{subject}/versions", s.register)
	s.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Register stores schemaJSON under subject and returns its ID.
func (s *Server) Register(subject, schemaJSON string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byText[schemaJSON]; ok {
		return id
	}
	id := s.next
	s.next++
	s.byID[id] = schemaJSON
	s.byText[schemaJSON] = id
	return id
}

// SetRaw stores text under id as is (it need not be a valid schema), for
// tests of bad registry answers.
func (s *Server) SetRaw(id uint32, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[id] = text
}

// FailWith makes every schema lookup answer the HTTP status (0 restores
// normal answers).
func (s *Server) FailWith(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = status
}

// RequireBasicAuth makes every request need these credentials.
func (s *Server) RequireBasicAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass = user, pass
}

// Hold makes schema lookups wait until the returned release is called.
func (s *Server) Hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
}

// Lookups returns how many schema lookups the server answered.
func (s *Server) Lookups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	user, pass := s.user, s.pass
	s.mu.Unlock()
	if user == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok && u == user && p == pass
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) getSchema(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error_code": 40101, "message": "Unauthorized"})
		return
	}
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	s.lookups++
	fail := s.failWith
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
	text, ok := s.byID[uint32(id)]
	s.mu.Unlock()
	switch {
	case fail != 0:
		writeJSON(w, fail, map[string]any{"error_code": fail * 100, "message": "injected failure"})
	case err != nil || !ok:
		writeJSON(w, http.StatusNotFound, map[string]any{"error_code": 40403, "message": fmt.Sprintf("Schema %s not found", r.PathValue("id"))})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"schema": text})
	}
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error_code": 40101, "message": "Unauthorized"})
		return
	}
	var body struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Schema == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error_code": 42201, "message": "Invalid schema"})
		return
	}
	if body.SchemaType != "" && body.SchemaType != "AVRO" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error_code": 42201, "message": "only AVRO"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": s.Register(r.PathValue("subject"), body.Schema)})
}
