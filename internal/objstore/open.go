package objstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Open returns the bucket at location, which is one of:
//
//   - file:///abs/path, or a plain local path, relative or absolute: a
//     Filesystem rooted there;
//   - s3://bucket/prefix: an S3 bucket under prefix, with the default AWS
//     credential chain. The query parameters endpoint (base URL of an
//     S3-compatible store), path_style=true and region override the
//     environment variables AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL and
//     AWS_REGION.
//
// For example s3://warehouse/tables?endpoint=http://127.0.0.1:7070&path_style=true.
func Open(ctx context.Context, location string) (Bucket, error) {
	if location == "" {
		return nil, errors.New("open bucket: empty location")
	}
	if !hasURLScheme(location) {
		b, err := NewFilesystem(location)
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", location, err)
		}
		return b, nil
	}
	u, err := url.Parse(location)
	if err != nil {
		// The parse error quotes the location, which may hold credentials.
		return nil, errors.New("open bucket: location is not a valid URL")
	}
	if u.User != nil {
		return nil, fmt.Errorf("open bucket %s: credentials in the location are not supported", u.Redacted())
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		return openFile(u)
	case "s3":
		cfg, err := s3ConfigFromURL(u)
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", u.Redacted(), err)
		}
		b, err := NewS3(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", u.Redacted(), err)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("open bucket %s: unsupported scheme %q (want file://, s3:// or a local path)", u.Redacted(), u.Scheme)
	}
}

// openFile opens a file:// URL, which must name an absolute local path.
func openFile(u *url.URL) (Bucket, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("open bucket %s: file URL with remote host %q", u, u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("open bucket %s: file URL with a query or fragment", u)
	}
	p := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(p) {
		return nil, fmt.Errorf("open bucket %s: file URL path is not absolute", u)
	}
	b, err := NewFilesystem(p)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", u, err)
	}
	return b, nil
}

// s3ConfigFromURL builds the configuration of an s3:// location.
func s3ConfigFromURL(u *url.URL) (S3Config, error) {
	cfg := S3Config{
		Bucket:   u.Host,
		Prefix:   strings.TrimPrefix(u.Path, "/"),
		Endpoint: firstNonEmpty(os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL")),
		Region:   os.Getenv("AWS_REGION"),
	}
	var errs []error
	query := u.Query()
	for _, name := range slices.Sorted(maps.Keys(query)) {
		values := query[name]
		if len(values) != 1 {
			errs = append(errs, fmt.Errorf("query parameter %s given %d times", name, len(values)))
			continue
		}
		v := values[0]
		switch name {
		case "endpoint":
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("query parameter path_style=%q is not a boolean", v))
			}
			cfg.UsePathStyle = b
		default:
			errs = append(errs, fmt.Errorf("unknown query parameter %q (want endpoint, path_style or region)", name))
		}
	}
	if u.Fragment != "" {
		errs = append(errs, errors.New("s3 URL with a fragment"))
	}
	if err := errors.Join(errs...); err != nil {
		return S3Config{}, err
	}
	return cfg, nil
}

// hasURLScheme reports whether location starts with "scheme://" (RFC 3986
// scheme syntax), rather than being a local path.
func hasURLScheme(location string) bool {
	scheme, _, ok := strings.Cut(location, "://")
	if !ok || scheme == "" {
		return false
	}
	for i, c := range scheme {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
