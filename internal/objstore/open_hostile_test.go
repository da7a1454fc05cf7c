package objstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
)

// TestOpenRefusesMistypedURLs: a location that starts with "scheme:" but is
// not a well-formed file:// or s3:// URL is an error naming the accepted
// forms, never a relative local path under the working directory (issue 12
// item 2: s3:/warehouse/tables/pv wrote to ./s3:/warehouse/tables/pv).
func TestOpenRefusesMistypedURLs(t *testing.T) {
	ctx := context.Background()
	wd := t.TempDir()
	t.Chdir(wd)
	for _, tc := range []struct {
		location string
		want     string // in the error, besides the accepted forms
	}{
		{"s3:/warehouse/tables/pv", "s3:"},
		{"s3:warehouse/tables/pv", "s3:"},
		{"S3:/warehouse/tables/pv", "S3:"},
		{"s3:", "s3:"},
		{"file:/data/x", "file:"},
		{"file:data/x", "file:"},
		{"file:", "file:"},
		{"gs:/bucket/x", `"gs"`},
		{"hdfs:warehouse", `"hdfs"`},
		{"C:warehouse", `"C"`},
		{"warehouse:tables", `"warehouse"`},
	} {
		b, err := objstore.Open(ctx, tc.location)
		if err == nil {
			b.Close()
			t.Errorf("Open(%q) succeeded", tc.location)
			continue
		}
		for _, want := range []string{tc.want, "file:///abs/path", "s3://bucket/prefix", "./"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Open(%q) = %v, want an error containing %q", tc.location, err, want)
			}
		}
	}
	if entries, err := os.ReadDir(wd); err != nil || len(entries) != 0 {
		t.Fatalf("working directory holds %v (%v), want nothing", entries, err)
	}

	// A local path that really starts with "name:" is written ./name:...
	b, err := objstore.Open(ctx, "./s3:/warehouse")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, want := b.(*objstore.Filesystem).Root(), filepath.Join(wd, "s3:", "warehouse"); got != want {
		t.Errorf("Open(./s3:/warehouse) root = %q, want %q", got, want)
	}
	for _, loc := range []string{"rel/with:colon", "/abs/with:colon/x"} {
		if strings.HasPrefix(loc, "/") {
			loc = filepath.Join(wd, loc)
		}
		b, err := objstore.Open(ctx, loc)
		if err != nil {
			t.Errorf("Open(%q): %v", loc, err)
			continue
		}
		b.Close()
	}
}

// TestOpenRefusesBadBucketNames: an s3 URL with an empty or invalid bucket
// name is refused before any request.
func TestOpenRefusesBadBucketNames(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ location, want string }{
		{"s3://", "bucket is required"},
		{"s3:///tables/pv", "bucket is required"},
		{"s3://warehouse:9000/tables", "bucket"},
		{"s3://Warehouse/tables", "bucket"},
		{"s3://ware_house/tables", "bucket"},
		{"s3://wh/tables", "bucket"},
		{"s3://-warehouse/tables", "bucket"},
		{"s3://warehouse-/tables", "bucket"},
		{"s3://ware..house/tables", "bucket"},
		{"s3://192.168.1.10/tables", "bucket"},
		{"s3://" + strings.Repeat("w", 64) + "/tables", "bucket"},
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
	for _, loc := range []string{"s3://warehouse/t", "s3://my.data-lake.2026/t", "s3://abc"} {
		b, err := objstore.Open(ctx, loc)
		if err != nil {
			t.Errorf("Open(%q): %v", loc, err)
			continue
		}
		b.Close()
	}
}

// TestOpenErrorsRedactSecrets: no password, token or query parameter value
// of a hostile location reaches the error, which still names the problem
// (issue 12 item 4).
func TestOpenErrorsRedactSecrets(t *testing.T) {
	ctx := context.Background()
	const secret = "SuperSecret123"
	for _, tc := range []struct{ location, want string }{
		{"s3://bucket/prefix?endpoint=http://admin:" + secret + "@127.0.0.1:9/", "endpoint must not contain credentials"},
		{"s3://bucket/prefix?secret_key=" + secret, `unknown query parameter "secret_key"`},
		{"s3://bucket/prefix?access_key=AKID&secret_key=" + secret, `"secret_key"`},
		{"s3://admin:" + secret + "@bucket/prefix", "credentials in the location"},
		{"s3://" + secret + "@bucket/prefix", "credentials in the location"},
		{"s3://bucket/prefix?path_style=" + secret, "path_style"},
		{"s3://bucket/prefix?region=us-east-1&region=" + secret, "region given 2 times"},
		{"s3://bucket/prefix?endpoint=ftp://u:" + secret + "@h/", "endpoint scheme"},
		{"s3://bucket/prefix?endpoint=http://h:9000/?token=" + secret, "endpoint"},
		{"s3://bucket/prefix#" + secret, "fragment"},
		{"s3://bucket/a//b?token=" + secret, "prefix"},
		{"s3://Bad_Bucket/x?token=" + secret, "bucket"},
		{"gs://admin:" + secret + "@bucket/x", `unsupported scheme "gs"`},
		{"gs://bucket/x?token=" + secret, `unsupported scheme "gs"`},
		{"s3:/bucket/x?token=" + secret, "s3:"},
		{"s3://bucket/x?token=%zz" + secret, ""},
		{"s3://bu cket/x?token=" + secret, ""},
		{"file://admin:" + secret + "@host/x", ""},
		{"file:///tmp/x?token=" + secret, "query"},
		{"file://remote-host/x?token=" + secret, "remote host"},
		{"file:/tmp/x?token=" + secret, "file:"},
	} {
		b, err := objstore.Open(ctx, tc.location)
		if err == nil {
			b.Close()
			t.Errorf("Open(%q) succeeded", tc.location)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%q) error leaks the secret: %v", tc.location, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.location, err, tc.want)
		}
	}
}

// TestOpenDescribe: Describe gives the resolved location of what Open
// returned, for the log line: the absolute root of a local path, the
// bucket, prefix and endpoint of an s3 URL, without query parameters.
func TestOpenDescribe(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct{ location, want string }{
		{"rel/pv", filepath.Join(dir, "rel", "pv")},
		{"./s3:/pv", filepath.Join(dir, "s3:", "pv")},
		{"file://" + filepath.ToSlash(filepath.Join(dir, "abs")), filepath.Join(dir, "abs")},
		{"s3://warehouse/tables/pv", "s3://warehouse/tables/pv/"},
		{"s3://warehouse/tables/pv?endpoint=http://127.0.0.1:7070/base&path_style=true&region=eu-west-1",
			"s3://warehouse/tables/pv/ at http://127.0.0.1:7070/base"},
	} {
		b, err := objstore.Open(ctx, tc.location)
		if err != nil {
			t.Errorf("Open(%q): %v", tc.location, err)
			continue
		}
		if got := objstore.Describe(b); got != tc.want {
			t.Errorf("Describe(Open(%q)) = %q, want %q", tc.location, got, tc.want)
		}
		b.Close()
	}
}
