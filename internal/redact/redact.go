// Package redact removes secrets from text bound for a log, an error or an
// admin endpoint. Locations and endpoints are URLs that may carry
// credentials in their user-info (http://user:password@host) or in query
// parameters (?token=..., ?secret_key=..., or a nested endpoint URL with
// user-info of its own); URL keeps a URL's shape (scheme, host, path and the
// parameter names) and replaces every one of those with "REDACTED".
//
// It is a leaf package: objstore, metrics, schemas and cmd/ingestd call it
// on every URL they put in a message. It starts no goroutines.
package redact

import "strings"

// Mask replaces a secret.
const Mask = "REDACTED"

// URL returns s with the user-info of every authority in it ("user:pw@"
// after any "://", at any nesting level) and the value of every query
// parameter and the fragment replaced by Mask. It works on the text, not on
// a parsed URL, so that a malformed URL (which a parser would refuse, and
// whose error would quote it) is redacted too. A string that is not a URL
// (a local path, host:port) comes back unchanged unless it holds "?", "#"
// or "://...@".
func URL(s string) string {
	var fragment bool
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s, fragment = s[:i], true
	}
	base, query, hasQuery := strings.Cut(s, "?")
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(userInfo(base))
	if hasQuery {
		b.WriteByte('?')
		for i, param := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			name, _, hasValue := strings.Cut(param, "=")
			b.WriteString(userInfo(name))
			if hasValue {
				b.WriteString("=" + Mask)
			}
		}
	}
	if fragment {
		b.WriteString("#" + Mask)
	}
	return b.String()
}

// userInfo masks the user-info of every "scheme://user-info@host" in s.
func userInfo(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	schemes := 0
	for ; ; schemes++ {
		i := strings.Index(s, "://")
		if i < 0 {
			break
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		// The authority ends at the first '/' (or the end); its user-info
		// at its last '@'.
		end := strings.IndexByte(s, '/')
		if end < 0 {
			end = len(s)
		}
		if at := strings.LastIndexByte(s[:end], '@'); at >= 0 {
			b.WriteString(Mask)
			s = s[at:]
		}
	}
	// A bare "user:pw@host" without a scheme (a broker address, say).
	if at := strings.LastIndexByte(s, '@'); schemes == 0 && at > 0 && !strings.Contains(s[:at], "/") {
		b.WriteString(Mask)
		s = s[at:]
	}
	b.WriteString(s)
	return b.String()
}

// URLs redacts each of urls (a broker or endpoint list).
func URLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = URL(u)
	}
	return out
}
