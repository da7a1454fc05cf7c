package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
)

// TestS3ObserveAndClasses classifies the errors of a real S3 server
// (versitygw): a missing object, a lost conditional write, a missing
// bucket, wrong credentials, and a body cut off by cancellation, which
// Observe reports when the read fails.
func TestS3ObserveAndClasses(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	rec := newRecorder()
	b := objstore.Observe(srv.NewBucket(t, "observe/"), rec.observe)
	if err := b.Put(ctx, "big", bytes.NewReader(make([]byte, 8<<20))); err != nil {
		t.Fatal(err)
	}
	if got := objstore.ErrorClass(b.PutIfAbsent(ctx, "big", strings.NewReader("x"))); got != "exists" {
		t.Errorf("PutIfAbsent on a taken key: class %q, want exists", got)
	}
	if _, err := b.Stat(ctx, "missing"); objstore.ErrorClass(err) != "not_found" {
		t.Errorf("Stat(missing) = %v, class %q", err, objstore.ErrorClass(err))
	}

	// A body whose context is canceled halfway fails to read: Observe
	// reports the read error, once.
	readCtx, cancel := context.WithCancel(ctx)
	rc, err := b.Get(readCtx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, readErr := io.Copy(io.Discard, rc)
	rc.Close()
	if readErr == nil {
		t.Fatal("reading the body after cancel succeeded")
	}
	if got := rec.total(objstore.ObserveGet); got != 1 {
		t.Errorf("get reported %d times, want 1", got)
	}
	if got := rec.count(objstore.ObserveGet, "canceled"); got != 1 {
		t.Errorf("get of a canceled body: %v, want one canceled (read error %v)", rec.counts, readErr)
	}

	cfg := srv.Config("")
	cfg.Bucket = "no-such-bucket"
	noBucket, err := objstore.NewS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer noBucket.Close()
	if err := noBucket.Put(ctx, "k", strings.NewReader("x")); objstore.ErrorClass(err) != "no_bucket" {
		t.Errorf("Put in a missing bucket = %v, class %q, want no_bucket", err, objstore.ErrorClass(err))
	}

	cfg = srv.Config("")
	cfg.SecretAccessKey = "wrong-secret"
	wrong, err := objstore.NewS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	err = wrong.Put(ctx, "k", strings.NewReader("x"))
	if objstore.ErrorClass(err) != "permission" {
		t.Errorf("Put with a wrong secret = %v, class %q, want permission", err, objstore.ErrorClass(err))
	}
	if err != nil && strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

// TestS3TransportErrorsAreRedacted: a transport error quotes the request
// URL; its query parameter values are redacted, and the error is classified
// as a network error.
func TestS3TransportErrorsAreRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := objstore.NewS3(ctx, objstore.S3Config{
		Bucket: "warehouse", Endpoint: endpoint, UsePathStyle: true, MaxRetries: -1,
		AccessKeyID: "AKID", SecretAccessKey: "SuperSecret123",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.Get(ctx, "t/k")
	if err == nil {
		t.Fatal("Get from a closed port succeeded")
	}
	t.Logf("error: %v", err)
	if got := objstore.ErrorClass(err); got != "network" {
		t.Errorf("class %q, want network", got)
	}
	if strings.Contains(err.Error(), "x-id=GetObject") || strings.Contains(err.Error(), "SuperSecret123") {
		t.Errorf("error quotes a query value or the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "t/k") {
		t.Errorf("error does not name the key: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) {
		t.Errorf("error %v lost its net.Error", err)
	}
}
