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

	"github.com/lakestream/lakestream/internal/redact"
)

// acceptedForms ends the error of a location that is not one of them.
const acceptedForms = `want file:///abs/path, s3://bucket/prefix or a local path; ` +
	`write a local path that starts with "name:" as ./name:...`

// Open returns the bucket at location, which is one of:
//
//   - file:///abs/path (or file://localhost/abs/path): a Filesystem rooted
//     at the absolute path;
//   - a local path, relative or absolute, that does not start with
//     "name:" (write ./name:... for one that does): a Filesystem rooted
//     there;
//   - s3://bucket[/prefix][?params]: an S3 bucket, under prefix, with the
//     default AWS credential chain. The query parameters endpoint (base URL
//     of an S3-compatible store), path_style=true and region override the
//     environment variables AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL and
//     AWS_REGION; no other parameter is accepted.
//
// For example s3://warehouse/tables?endpoint=http://127.0.0.1:7070&path_style=true.
//
// Anything else that starts with an RFC 3986 scheme and a colon (s3:/x,
// s3:x, file:/x, gs://x, C:x) is refused: taken for a relative path it
// would put the table in the working directory without a word. So are
// credentials in the location, an s3 URL whose bucket is empty or not a
// valid S3 bucket name, and unknown or repeated query parameters. Errors
// quote the location through redact.URL: no user-info or query parameter
// value reaches them. Describe(b) gives the resolved location for a log.
func Open(ctx context.Context, location string) (Store, error) {
	loc, err := ParseLocation(location)
	if err != nil {
		return nil, err
	}
	if loc.S3 != nil {
		b, err := NewS3(ctx, *loc.S3)
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", redact.URL(location), err)
		}
		return b, nil
	}
	b, err := NewFilesystem(loc.Path)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", redact.URL(location), err)
	}
	return b, nil
}

// Location is a parsed bucket location (ParseLocation).
type Location struct {
	// Path is the root of a local bucket: absolute for file:///abs/path,
	// as given for a local path. "" for S3.
	Path string
	// S3 is the configuration of an s3:// location, validated; nil for a
	// local one.
	S3 *S3Config
}

// ParseLocation checks location as Open reads it, and says where it
// points, without opening or creating anything: a configuration is checked
// whole before anything starts. Its errors are Open's.
func ParseLocation(location string) (Location, error) {
	if location == "" {
		return Location{}, fmt.Errorf("open bucket: empty location (%s)", acceptedForms)
	}
	scheme, ok := urlScheme(location)
	if !ok {
		return Location{Path: location}, nil
	}
	loc := redact.URL(location)
	fail := func(format string, args ...any) (Location, error) {
		return Location{}, fmt.Errorf("open bucket %s: "+format, append([]any{loc}, args...)...)
	}
	lower := strings.ToLower(scheme)
	switch lower {
	case "file", "s3":
		if !strings.HasPrefix(location[len(scheme)+1:], "//") {
			example := "file:///abs/path"
			if lower == "s3" {
				example = "s3://bucket/prefix"
			}
			return fail("a location starting with %q must be %s (%s)", scheme+":", example, acceptedForms)
		}
	default:
		return fail("unsupported scheme %q (%s)", scheme, acceptedForms)
	}
	u, err := url.Parse(location)
	if err != nil {
		// The parse error quotes the location, secrets and all.
		return fail("not a valid URL (%s)", acceptedForms)
	}
	if u.User != nil {
		return fail("credentials in the location are not supported " +
			"(use the AWS credential chain: environment, shared config, instance role)")
	}
	if lower == "file" {
		p, err := filePath(u)
		if err != nil {
			return fail("%w", err)
		}
		return Location{Path: p}, nil
	}
	cfg, err := s3ConfigFromURL(u)
	if err != nil {
		return fail("%w", err)
	}
	return Location{S3: &cfg}, nil
}

// filePath is the path of a file:// URL, which must name an absolute local
// path.
func filePath(u *url.URL) (string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("file URL with remote host %q (want file:///abs/path)", u.Hostname())
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("file URL with a query or fragment (want file:///abs/path)")
	}
	p := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(p) {
		return "", errors.New("file URL path is not absolute (want file:///abs/path)")
	}
	return p, nil
}

// s3ConfigFromURL builds the configuration of an s3:// location and
// validates it. Errors name the problem and a parameter's name, never its
// value.
func s3ConfigFromURL(u *url.URL) (S3Config, error) {
	cfg := S3Config{
		Bucket:   u.Host,
		Prefix:   strings.TrimPrefix(u.Path, "/"),
		Endpoint: firstNonEmpty(os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL")),
		Region:   os.Getenv("AWS_REGION"),
	}
	var errs []error
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		// The error quotes the bad part of the query.
		errs = append(errs, errors.New("the query is not valid (bad percent-encoding or a ';' separator)"))
	}
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
				errs = append(errs, errors.New("query parameter path_style is not a boolean (want true or false)"))
			}
			cfg.UsePathStyle = b
		default:
			errs = append(errs, fmt.Errorf("unknown query parameter %q (want endpoint, path_style or region)", name))
		}
	}
	if u.Fragment != "" {
		errs = append(errs, errors.New("s3 URL with a fragment"))
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return S3Config{}, err
	}
	return cfg, nil
}

// urlScheme returns the scheme of a location that starts with an RFC 3986
// scheme followed by a colon ("s3:", "file:", "C:"), and false for a local
// path. On Windows a drive letter ("C:\data", "C:data") is a path.
func urlScheme(location string) (string, bool) {
	scheme, _, ok := strings.Cut(location, ":")
	if !ok || scheme == "" || filepath.VolumeName(location) != "" {
		return "", false
	}
	for i, c := range scheme {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return "", false
		}
	}
	return scheme, true
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
