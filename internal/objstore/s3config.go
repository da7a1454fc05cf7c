package objstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// S3 part sizes: the default, and the limits S3 sets on multipart parts.
const (
	DefaultS3PartSize = 16 << 20
	MinS3PartSize     = 5 << 20
	MaxS3PartSize     = 5 << 30
)

// DefaultS3Region is the region used when S3Config.Region is empty.
const DefaultS3Region = "us-east-1"

// S3Config configures an S3 bucket.
type S3Config struct {
	// Bucket is the S3 bucket name. Required.
	Bucket string
	// Prefix is prepended to every key, so that several tables or tests can
	// share a bucket. A trailing slash is implied: "tables/t1" and
	// "tables/t1/" both put key "k" at "tables/t1/k".
	Prefix string
	// Endpoint is the base URL of an S3-compatible store, such as
	// "http://127.0.0.1:7070". Empty means AWS (or AWS_ENDPOINT_URL_S3 /
	// AWS_ENDPOINT_URL, which the SDK reads).
	Endpoint string
	// Region defaults to DefaultS3Region.
	Region string
	// UsePathStyle addresses the bucket as endpoint/bucket instead of
	// bucket.endpoint; most S3-compatible stores need it.
	UsePathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials. Leave both
	// empty to use the default AWS credential chain (environment, shared
	// config, instance role, ...).
	AccessKeyID     string
	SecretAccessKey string
	// PartSize is the size of multipart upload parts, and the largest body
	// sent in a single PutObject. It defaults to DefaultS3PartSize and must be
	// between MinS3PartSize and MaxS3PartSize.
	PartSize int64
	// MaxRetries is how many times a failed request is retried: 0 means the
	// SDK default (2 retries), a negative value disables retries.
	MaxRetries int
}

// Validate reports every problem of the configuration at once.
func (c S3Config) Validate() error {
	var errs []error
	switch {
	case c.Bucket == "":
		errs = append(errs, errors.New("bucket is required"))
	case strings.ContainsAny(c.Bucket, "/ \t\r\n"):
		errs = append(errs, fmt.Errorf("bucket %q contains a slash or white space", c.Bucket))
	}
	if p := strings.TrimSuffix(c.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			errs = append(errs, fmt.Errorf("prefix: %w", err))
		}
	}
	if c.Endpoint != "" {
		if err := validateEndpoint(c.Endpoint); err != nil {
			errs = append(errs, err)
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		errs = append(errs, errors.New("access key ID and secret access key must be set together"))
	}
	if c.PartSize != 0 && (c.PartSize < MinS3PartSize || c.PartSize > MaxS3PartSize) {
		errs = append(errs, fmt.Errorf("part size %d is outside [%d, %d]", c.PartSize, MinS3PartSize, MaxS3PartSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid s3 config: %w", err)
	}
	return nil
}

// validateEndpoint checks an endpoint URL without echoing credentials that a
// careless URL might carry.
func validateEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return errors.New("endpoint is not a valid URL")
	}
	var errs []error
	if u.Scheme != "http" && u.Scheme != "https" {
		errs = append(errs, fmt.Errorf("endpoint scheme %q is not http or https", u.Scheme))
	}
	if u.Host == "" {
		errs = append(errs, errors.New("endpoint has no host"))
	}
	if u.User != nil {
		errs = append(errs, errors.New("endpoint must not contain credentials"))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with empty fields defaulted and the prefix
// normalised to end in a slash (or be empty).
func (c S3Config) withDefaults() S3Config {
	if c.Region == "" {
		c.Region = DefaultS3Region
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultS3PartSize
	}
	if c.Prefix = strings.TrimSuffix(c.Prefix, "/"); c.Prefix != "" {
		c.Prefix += "/"
	}
	return c
}

// String formats the configuration with the secret access key redacted.
func (c S3Config) String() string {
	secret := ""
	if c.SecretAccessKey != "" {
		secret = "REDACTED"
	}
	return fmt.Sprintf("S3Config{Bucket:%q Prefix:%q Endpoint:%q Region:%q UsePathStyle:%t AccessKeyID:%q SecretAccessKey:%q PartSize:%d MaxRetries:%d}",
		c.Bucket, c.Prefix, c.Endpoint, c.Region, c.UsePathStyle, c.AccessKeyID, secret, c.PartSize, c.MaxRetries)
}

// GoString is String, so that %#v does not print the secret either.
func (c S3Config) GoString() string { return c.String() }
