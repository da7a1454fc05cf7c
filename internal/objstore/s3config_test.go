package objstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
)

func TestS3ConfigValidateReportsEverything(t *testing.T) {
	cfg := objstore.S3Config{
		Prefix:      "/abs//prefix",
		Endpoint:    "ftp://",
		AccessKeyID: "AKID",
		PartSize:    1 << 20,
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	for _, want := range []string{"bucket is required", "prefix", "endpoint scheme", "no host", "set together", "part size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q does not mention %q", err, want)
		}
	}
	if _, err := objstore.NewS3(context.Background(), cfg); err == nil {
		t.Error("NewS3 accepted an invalid config")
	}
}

func TestS3ConfigValid(t *testing.T) {
	for _, cfg := range []objstore.S3Config{
		{Bucket: "bkt"},
		{Bucket: "bkt", Prefix: "tables/t1/", Endpoint: "https://s3.example.com", PartSize: objstore.MinS3PartSize},
		{Bucket: "bkt", AccessKeyID: "a", SecretAccessKey: "s", MaxRetries: -1},
	} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%v) = %v", cfg, err)
		}
	}
}

func TestS3ConfigHidesSecret(t *testing.T) {
	cfg := objstore.S3Config{Bucket: "bkt", AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI-very-secret"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, cfg); strings.Contains(s, cfg.SecretAccessKey) {
			t.Errorf("%s formats the secret: %s", format, s)
		}
	}
	b, err := objstore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, b); strings.Contains(s, cfg.SecretAccessKey) {
			t.Errorf("%s formats the bucket with the secret: %s", format, s)
		}
	}
}

// TestS3ConfigRedactsEndpoint: an invalid configuration whose endpoint
// carries credentials or a token neither prints them nor quotes them in
// Validate's error, which names the problems.
func TestS3ConfigRedactsEndpoint(t *testing.T) {
	for _, endpoint := range []string{"http://admin:SuperSecret123@h:9000", "http://h:9000/?token=SuperSecret123", "http://h:9000/#SuperSecret123"} {
		cfg := objstore.S3Config{Bucket: "bkt", Endpoint: endpoint}
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(format, cfg); strings.Contains(s, "SuperSecret123") {
				t.Errorf("%s formats the endpoint's secret: %s", format, s)
			}
		}
		err := cfg.Validate()
		if err == nil || strings.Contains(err.Error(), "SuperSecret123") || !strings.Contains(err.Error(), "endpoint must not") {
			t.Errorf("Validate(endpoint %s) = %v", endpoint, err)
		}
	}
}
