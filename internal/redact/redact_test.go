package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/data/tables/pv", "/data/tables/pv"},
		{"file:///data/x", "file:///data/x"},
		{"kafka-1:9092", "kafka-1:9092"},
		{"s3://warehouse/tables/pv", "s3://warehouse/tables/pv"},
		{"s3://bucket/prefix?endpoint=http://admin:SuperSecret123@127.0.0.1:9/", "s3://bucket/prefix?endpoint=REDACTED"},
		{"s3://bucket/p?secret_key=abc&path_style=true", "s3://bucket/p?secret_key=REDACTED&path_style=REDACTED"},
		{"http://collector:4318/v1/metrics?token=xyz", "http://collector:4318/v1/metrics?token=REDACTED"},
		{"http://admin:pw@registry:8081", "http://REDACTED@registry:8081"},
		{"http://admin@registry:8081/x", "http://REDACTED@registry:8081/x"},
		{"http://a:b@host/path/http://c:d@other/", "http://REDACTED@host/path/http://REDACTED@other/"},
		{"user:pw@kafka:9092", "REDACTED@kafka:9092"},
		{"s3://b/p#frag:secret", "s3://b/p#REDACTED"},
		{"s3://b/p?flag", "s3://b/p?flag"},
		{"http://u:p@h:1?%zz=1", "http://REDACTED@h:1?%zz=REDACTED"},
		{"http://u:p@@h", "http://REDACTED@h"},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzURL(f *testing.F) {
	f.Add("s3://bucket/prefix?endpoint=http://admin:Secret@127.0.0.1:9/")
	f.Add("http://u:Secret@h/p?x=Secret#Secret")
	f.Fuzz(func(t *testing.T, s string) {
		const secret = "Secret"
		// A secret in a password, a query value or a fragment never
		// survives.
		for _, in := range []string{
			"http://u:" + secret + "@" + s,
			s + "?k=" + secret,
			s + "#" + secret,
		} {
			if strings.Contains(s, secret) {
				continue
			}
			if got := URL(in); strings.Contains(got, secret) {
				t.Fatalf("URL(%q) = %q keeps the secret", in, got)
			}
		}
	})
}
