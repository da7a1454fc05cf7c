package objstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
)

func TestOpenFilesystem(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, loc := range []string{
		filepath.Join(dir, "plain"),
		"file://" + filepath.ToSlash(filepath.Join(dir, "url")),
		"file://localhost" + filepath.ToSlash(filepath.Join(dir, "localhost")),
	} {
		b, err := objstore.Open(ctx, loc)
		if err != nil {
			t.Fatalf("Open(%q): %v", loc, err)
		}
		fs, ok := b.(*objstore.Filesystem)
		if !ok {
			t.Fatalf("Open(%q) = %T, want *Filesystem", loc, b)
		}
		if !strings.HasPrefix(fs.Root(), dir) {
			t.Errorf("Open(%q) root = %q", loc, fs.Root())
		}
		b.Close()
	}

	t.Chdir(dir)
	b, err := objstore.Open(ctx, "rel/warehouse")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.(*objstore.Filesystem).Root(), filepath.Join(dir, "rel", "warehouse"); got != want {
		t.Errorf("relative path root = %q, want %q", got, want)
	}
}

func TestOpenS3(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "http://from-env:9000")
	t.Setenv("AWS_REGION", "eu-west-1")
	ctx := context.Background()

	b, err := objstore.Open(ctx, "s3://warehouse/tables/t1")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, want := b.(*objstore.S3).String(), "s3://warehouse/tables/t1/ at http://from-env:9000"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	b2, err := objstore.Open(ctx, "s3://warehouse?endpoint=http://127.0.0.1:7070&path_style=true&region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if got, want := b2.(*objstore.S3).String(), "s3://warehouse/ at http://127.0.0.1:7070"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		location string
		want     string // in the error
	}{
		{"", "empty location"},
		{"gs://bucket/x", `unsupported scheme "gs"`},
		{"file://remote-host/x", "remote host"},
		{"file:///tmp/x?y=1", "query"},
		{"s3:///prefix", "bucket is required"},
		{"s3://b/x?endpoint=ftp://h&path_style=maybe&colour=blue", "path_style"},
		{"s3://b/x?endpoint=ftp://h&path_style=maybe&colour=blue", `unknown query parameter "colour"`},
		{"s3://b/x?endpoint=ftp://h", `endpoint scheme "ftp"`},
		{"s3://b/a//b", "prefix"},
	} {
		b, err := objstore.Open(ctx, tc.location)
		if err == nil {
			b.Close()
			t.Errorf("Open(%q) succeeded", tc.location)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.location, err, tc.want)
		}
	}
}

func TestOpenDoesNotEchoCredentials(t *testing.T) {
	_, err := objstore.Open(context.Background(), "s3://AKIDEXAMPLE:supersecret@bucket/x")
	if err == nil {
		t.Fatal("Open with credentials in the URL succeeded")
	}
	if strings.Contains(err.Error(), "supersecret") {
		t.Fatalf("error leaks the secret: %v", err)
	}
}
