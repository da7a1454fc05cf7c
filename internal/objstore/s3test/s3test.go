// Package s3test runs a local S3-compatible server, versitygw with its posix
// backend, for tests of S3 code:
//
//	srv := s3test.Start(t)
//	b := srv.NewBucket(t, "my-test/")
//
// The versitygw binary is taken from $LAKESTREAM_VERSITYGW, else from
// .tools/versitygw in the module root (where `make tools` installs it). When
// it is missing the test is skipped, or fails if $LAKESTREAM_REQUIRE_S3 is 1.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakestream/lakestream/internal/objstore"
)

// Environment variables read by Start.
const (
	// EnvBinary is the path of the versitygw binary.
	EnvBinary = "LAKESTREAM_VERSITYGW"
	// EnvRequire, set to 1, turns a missing binary into a test failure.
	EnvRequire = "LAKESTREAM_REQUIRE_S3"
)

// Test credentials of the server's root account.
const (
	AccessKey = "lakestream-test"
	SecretKey = "lakestream-test-secret"
	Region    = "us-east-1"
)

// DefaultBucket is the bucket Start creates.
const DefaultBucket = "lakestream-test"

// startTimeout bounds how long Start waits for the server to answer.
const startTimeout = 30 * time.Second

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT.
	Endpoint string
	// Store is the name of a bucket created on the server.
	Bucket string
	// Dir is the posix backend's root directory; bucket b is Dir/b.
	Dir string

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
}

// Binary returns the path of the versitygw binary and whether it exists.
func Binary() (string, bool) {
	path := os.Getenv(EnvBinary)
	if path == "" {
		root, err := moduleRoot()
		if err != nil {
			return ".tools/versitygw", false
		}
		path = filepath.Join(root, ".tools", "versitygw")
	}
	fi, err := os.Stat(path)
	return path, err == nil && !fi.IsDir()
}

// moduleRoot finds the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found")
		}
		dir = parent
	}
}

// Start runs versitygw on a free port of 127.0.0.1 with a fresh posix root,
// creates DefaultBucket and stops the server when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, ok := Binary()
	if !ok {
		msg := fmt.Sprintf("versitygw not found at %q (set $%s, or run `make tools` to install it at .tools/versitygw)", bin, EnvBinary)
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var errs []error
	for range 3 { // the free port may be taken before versitygw binds it
		srv, err := start(t, bin)
		if err == nil {
			srv.createBucket(t, DefaultBucket)
			srv.Bucket = DefaultBucket
			return srv
		}
		errs = append(errs, err)
	}
	t.Fatalf("start versitygw: %v", errors.Join(errs...))
	return nil
}

func start(t testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	srv := &Server{
		Endpoint: "http://" + addr,
		Dir:      dir,
		out:      &syncBuffer{},
		done:     make(chan struct{}),
	}
	srv.cmd = exec.Command(bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey,
		"--region", Region, "--quiet", "posix", dir)
	srv.cmd.Stdout = srv.out
	srv.cmd.Stderr = srv.out
	srv.cmd.SysProcAttr = sysProcAttr()
	if err := srv.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = srv.cmd.Wait()
		close(srv.done)
	}()
	t.Cleanup(srv.stop)
	if err := srv.waitReady(); err != nil {
		srv.stop()
		return nil, fmt.Errorf("%w; output:\n%s", err, srv.out.String())
	}
	return srv, nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls the server until it answers HTTP.
func (s *Server) waitReady() error {
	transport := &http.Transport{DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("versitygw exited: %v", s.cmd.ProcessState)
		default:
		}
		resp, err := client.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil // any answer, typically 403 for the anonymous request
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer within %v: %w", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop terminates the server and waits for it to exit. It is idempotent.
func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Output returns what the server printed so far, for diagnostics.
func (s *Server) Output() string { return s.out.String() }

// Config returns the configuration of an objstore.S3 for the server's bucket
// under prefix, with the 5 MiB minimum part size so that multipart uploads
// are cheap to exercise.
func (s *Server) Config(prefix string) objstore.S3Config {
	return objstore.S3Config{
		Bucket:          s.Bucket,
		Prefix:          prefix,
		Endpoint:        s.Endpoint,
		Region:          Region,
		UsePathStyle:    true,
		AccessKeyID:     AccessKey,
		SecretAccessKey: SecretKey,
		PartSize:        objstore.MinS3PartSize,
		MaxRetries:      -1, // a local server: surface every error
	}
}

// NewBucket returns an objstore.S3 for the server's bucket under prefix,
// closed when the test ends.
func (s *Server) NewBucket(t testing.TB, prefix string) *objstore.S3 {
	t.Helper()
	b, err := objstore.NewS3(context.Background(), s.Config(prefix))
	if err != nil {
		t.Fatalf("new s3 bucket: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// CreateBucket creates another bucket on the server.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	s.createBucket(t, name)
}

func (s *Server) createBucket(t testing.TB, name string) {
	t.Helper()
	cfg := s.Config("")
	cfg.Bucket = name
	b, err := objstore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := b.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v; server output:\n%s", name, err, s.Output())
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of the
// process's stdout and stderr copiers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Clone(b.buf.String())
}
