// Package otlpurl checks the OTLP/HTTP endpoint URLs that operators give
// ingestd and the compactor (metrics and traces), in one place. It is fed
// by internal/metrics and internal/tracing, feeds nothing and starts no
// goroutines.
package otlpurl

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/lakestream/lakestream/internal/redact"
)

// Parse checks an OTLP/HTTP endpoint (http or https, a host, no
// credentials, no query or fragment) and gives it defaultPath when it has
// no path. Errors show the endpoint redacted (redact.URL): without its
// user information, query values or fragment.
func Parse(endpoint, defaultPath string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("otlp endpoint %q: not a URL like http://localhost:4318", redact.URL(endpoint))
	}
	var problems []string
	if u.Scheme != "http" && u.Scheme != "https" {
		problems = append(problems, "want an http or https URL like http://localhost:4318")
	}
	if u.Host == "" {
		problems = append(problems, "no host")
	}
	if u.User != nil {
		problems = append(problems, "credentials do not belong in the URL: set OTEL_EXPORTER_OTLP_HEADERS")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		problems = append(problems, "no query or fragment allowed")
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("otlp endpoint %q: %s", redact.URL(endpoint), strings.Join(problems, "; "))
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = defaultPath
	}
	return u.String(), nil
}
