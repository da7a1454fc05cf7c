package iceberg

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/redact"
)

// TableLocation returns the Iceberg location of the table at the bucket
// location tableURL (as objstore.Open takes it): file:///abs/path for a
// local table, s3://bucket/prefix for S3, without the query parameters
// (endpoint, region: each reader brings its own). Every path in the
// Iceberg metadata starts with it.
func TableLocation(tableURL string) (string, error) {
	loc, err := objstore.ParseLocation(tableURL)
	if err != nil {
		return "", err
	}
	if loc.S3 != nil {
		prefix := strings.Trim(loc.S3.Prefix, "/")
		if prefix == "" {
			return "s3://" + loc.S3.Bucket, nil
		}
		return "s3://" + loc.S3.Bucket + "/" + prefix, nil
	}
	abs, err := filepath.Abs(loc.Path)
	if err != nil {
		return "", fmt.Errorf("table location %s: %w", redact.URL(tableURL), err)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// checkLocation accepts an absolute file:// or s3:// location without a
// trailing slash, query or credentials.
func checkLocation(loc string) error {
	u, err := url.Parse(loc)
	if err != nil {
		return fmt.Errorf("iceberg location %s: not a URL", redact.URL(loc))
	}
	switch {
	case u.Scheme != "file" && u.Scheme != "s3":
		return fmt.Errorf("iceberg location %s: scheme must be file or s3", redact.URL(loc))
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("iceberg location %s: no credentials, query or fragment", redact.URL(loc))
	case strings.HasSuffix(loc, "/"):
		return fmt.Errorf("iceberg location %s: no trailing slash", redact.URL(loc))
	case u.Scheme == "s3" && u.Host == "":
		return errors.New("iceberg location: s3 location without a bucket")
	case u.Scheme == "file" && !strings.HasPrefix(u.Path, "/"):
		return fmt.Errorf("iceberg location %s: file path must be absolute", redact.URL(loc))
	}
	return nil
}
