package objstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/lakestream/lakestream/internal/redact"
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
	// Bucket is the S3 bucket name. Required, and it must follow the S3
	// bucket naming rules (3 to 63 lower-case letters, digits, dots and
	// hyphens, ...).
	Bucket string
	// Prefix is prepended to every key, so that several tables or tests can
	// share a bucket. A trailing slash is implied: "tables/t1" and
	// "tables/t1/" both put key "k" at "tables/t1/k".
	Prefix string
	// Endpoint is the base URL of an S3-compatible store, such as
	// "http://127.0.0.1:7070", without credentials, query or fragment.
	// Empty means AWS (or AWS_ENDPOINT_URL_S3 /
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
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	} else if reason := invalidBucketName(c.Bucket); reason != "" {
		errs = append(errs, fmt.Errorf("bucket name %q is not a valid S3 bucket name: %s", c.Bucket, reason))
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
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		errs = append(errs, errors.New("endpoint must not have a query or fragment"))
	}
	return errors.Join(errs...)
}

// invalidBucketName returns why name breaks the S3 bucket naming rules
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html),
// or "" if it does not. A typo such as a port (warehouse:9000), an
// underscore or a capital letter ends here rather than in a request error.
// Legacy us-east-1 names with capitals or underscores are refused too.
func invalidBucketName(name string) string {
	if len(name) < 3 || len(name) > 63 {
		return "it must be 3 to 63 characters long"
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return "it may hold only lower-case letters, digits, dots and hyphens"
		}
	}
	alnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return "it must begin and end with a letter or digit"
	}
	if strings.Contains(name, "..") {
		return "it must not hold two adjacent dots"
	}
	if ip := net.ParseIP(name); ip != nil {
		return "it must not be an IP address"
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fmt.Sprintf("the prefix %q is reserved", p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return fmt.Sprintf("the suffix %q is reserved", s)
		}
	}
	return ""
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
		c.Bucket, c.Prefix, redact.URL(c.Endpoint), c.Region, c.UsePathStyle, c.AccessKeyID, secret, c.PartSize, c.MaxRetries)
}

// GoString is String, so that %#v does not print the secret either.
func (c S3Config) GoString() string { return c.String() }
