package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/tlstest"
	"github.com/lakestream/lakestream/source"
	"github.com/twmb/franz-go/pkg/kfake"
)

const testPassword = "Tr0ub4dor-and-3"

// testPKI writes a CA, a client certificate and key, a second CA and a
// password file into a directory.
type testPKI struct {
	ca                       *tlstest.CA
	server                   tls.Certificate
	dir, caFile, otherCAFile string
	certFile, keyFile        string
	passwordFile             string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := tlstest.NewCA("ingestd test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tlstest.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	server, err := srv.TLS()
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Client("ingestd")
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{ca: ca, server: server, dir: dir, caFile: filepath.Join(dir, "ca.pem"), otherCAFile: filepath.Join(dir, "other.pem"),
		certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client.key"), passwordFile: filepath.Join(dir, "password")}
	for path, data := range map[string][]byte{p.caFile: ca.CertPEM, p.otherCAFile: other.CertPEM, p.certFile: client.CertPEM,
		p.keyFile: client.KeyPEM, p.passwordFile: []byte(testPassword + "\n")} {
		if err := tlstest.WriteFile(path, data); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// The kafka.tls and kafka.sasl problems are all reported at once, each
// named by its setting, with exit 2, without the password.
func TestKafkaSecurityConfigProblems(t *testing.T) {
	p := newTestPKI(t)
	t.Setenv("INGESTD_TEST_EMPTY", "")
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"inline password", "kafka:\n  sasl:\n    mechanism: SCRAM-SHA-512\n    username: alice\n    password: " + testPassword + "\n",
			[]string{"kafka.sasl.password: a password in the configuration file is refused", "kafka.sasl.password_file or kafka.sasl.password_env: required with SASL mechanism SCRAM-SHA-512"}},
		{"password sources", "kafka:\n  sasl:\n    mechanism: PLAIN\n    username: alice\n    password_file: " + p.passwordFile + "\n    password_env: X\n",
			[]string{"kafka.sasl.password_file and kafka.sasl.password_env are both set"}},
		{"missing password file", "kafka:\n  sasl:\n    mechanism: PLAIN\n    username: alice\n    password_file: " + filepath.Join(p.dir, "nope") + "\n",
			[]string{"kafka.sasl.password_file: open " + filepath.Join(p.dir, "nope") + ": no such file"}},
		{"unset variable", "kafka:\n  sasl:\n    mechanism: PLAIN\n    username: alice\n    password_env: INGESTD_TEST_EMPTY\n",
			[]string{"kafka.sasl.password_env: $INGESTD_TEST_EMPTY is not set or empty"}},
		{"bad variable name", "kafka:\n  sasl:\n    mechanism: PLAIN\n    username: alice\n    password_env: \"1-X\"\n",
			[]string{`kafka.sasl.password_env "1-X": not an environment variable name`}},
		{"no username, unknown mechanism", "kafka:\n  sasl:\n    mechanism: SCRAM-SHA-256\n", []string{"kafka.sasl.username: required with SASL mechanism SCRAM-SHA-256"}},
		{"unknown mechanism", "kafka:\n  sasl:\n    mechanism: GSSAPI\n", []string{`kafka.sasl.mechanism: "GSSAPI": want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM`}},
		{"aws without tls", "kafka:\n  sasl:\n    mechanism: AWS_MSK_IAM\n    username: alice\n",
			[]string{"kafka.sasl.mechanism: AWS_MSK_IAM needs TLS", "kafka.sasl.username: not used with AWS_MSK_IAM"}},
		{"tls settings without tls", "kafka:\n  tls:\n    ca_file: " + p.caFile + "\n    insecure_skip_verify: true\n",
			[]string{"kafka.tls.ca_file: set, but kafka.tls.enabled is not true", "kafka.tls.insecure_skip_verify: set, but kafka.tls.enabled is not true"}},
		{"tls files", "kafka:\n  tls:\n    enabled: true\n    ca_file: " + p.keyFile + "\n    cert_file: " + p.certFile + "\n",
			[]string{`kafka.tls.ca_file: ` + p.keyFile + `: holds a "PRIVATE KEY" PEM block`, "kafka.tls.key_file: required with a client certificate (kafka.tls.cert_file)"}},
		{"key of another certificate", "kafka:\n  tls:\n    enabled: true\n    cert_file: " + p.certFile + "\n    key_file: " + p.otherCAFile + "\n",
			[]string{"kafka.tls.cert_file: certificate " + p.certFile + ", key " + p.otherCAFile}},
		{"insecure with a CA", "kafka:\n  tls:\n    enabled: true\n    ca_file: " + p.caFile + "\n    insecure_skip_verify: true\n",
			[]string{"kafka.tls.insecure_skip_verify: turns off the verification that kafka.tls.ca_file and kafka.tls.server_name are for"}},
		{"control characters", "kafka:\n  tls:\n    enabled: true\n    server_name: \"a\\e[2Jb\"\n", []string{`kafka.tls.server_name "a\x1b[2Jb": control or non-printable characters`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"run", "--config", writeConfig(t, mergeYAML(t, minimalConfig, c.yaml))}, &out, &errOut)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut.String())
				}
			}
			if strings.Contains(errOut.String(), testPassword) || strings.ContainsAny(errOut.String(), "\x1b") {
				t.Errorf("stderr holds the password or an escape:\n%s", errOut.String())
			}
		})
	}
}

// Environment variables and flags set kafka.tls and kafka.sasl; a password
// file or variable given there replaces the file's other choice.
func TestKafkaSecurityOverrides(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, mergeYAML(t, minimalConfig, "kafka:\n  sasl:\n    mechanism: PLAIN\n    username: bob\n    password_env: FROM_YAML\n")))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LAKESTREAM_KAFKA_TLS": "true", "LAKESTREAM_KAFKA_TLS_CA_FILE": "/ca.pem", "LAKESTREAM_KAFKA_TLS_CERT_FILE": "/c.pem",
		"LAKESTREAM_KAFKA_TLS_KEY_FILE": "/k.pem", "LAKESTREAM_KAFKA_TLS_SERVER_NAME": "kafka.internal", "LAKESTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"LAKESTREAM_KAFKA_SASL_USERNAME": "alice", "LAKESTREAM_KAFKA_SASL_PASSWORD_FILE": "/run/secrets/kafka"}
	if err := cfg.applyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := KafkaTLSConfig{Enabled: true, CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem", ServerName: "kafka.internal"}
	if cfg.Kafka.TLS != want {
		t.Errorf("tls %+v, want %+v", cfg.Kafka.TLS, want)
	}
	if s := cfg.Kafka.SASL; s.Mechanism != "SCRAM-SHA-512" || s.Username != "alice" || s.PasswordFile != "/run/secrets/kafka" || s.PasswordEnv != "" {
		t.Errorf("sasl %+v", s)
	}
	if err := cfg.applyEnv(func(k string) string { return map[string]string{"LAKESTREAM_KAFKA_TLS": "maybe"}[k] }); err == nil || !strings.Contains(err.Error(), "LAKESTREAM_KAFKA_TLS") {
		t.Errorf("bad boolean: %v", err)
	}
	// insecure_skip_verify has no variable and no flag.
	for _, o := range overrides {
		if strings.Contains(o.env, "INSECURE") || strings.Contains(o.flag, "insecure") || strings.HasSuffix(o.env, "_PASSWORD") {
			t.Errorf("override %s/%s should not exist", o.flag, o.env)
		}
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{"pw\n": "pw", "pw\r\n": "pw", "pw": "pw", "pw\n\n": "pw\n", " pw ": " pw ", "\n": "", "": ""} {
		path := filepath.Join(dir, "pw")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readPasswordFile(path)
		if want == "" {
			if err == nil || !strings.Contains(err.Error(), "empty") {
				t.Errorf("%q: %q, %v; want an error", content, got, err)
			}
		} else if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", content, got, err, want)
		}
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), maxPasswordBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readPasswordFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("large file: %v", err)
	}
}

// Against a TLS + SASL kfake cluster: a wrong password or an untrusted CA
// stops `ingestd run` at once with exit 1 and a clear error, before the
// table or the dead-letter topic is created; the right settings run. The
// password is in none of the output.
func TestRunKafkaSecurity(t *testing.T) {
	p := newTestPKI(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.ca.Pool()}),
		kfake.EnableSASL(), kfake.Superuser(source.SASLScramSHA512, "alice", testPassword), kfake.Superuser(source.SASLPlain, "bob", testPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	wrongFile := filepath.Join(p.dir, "wrong")
	if err := os.WriteFile(wrongFile, []byte("not-"+testPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("INGESTD_TEST_PASSWORD", testPassword)
	config := func(tableDir, security string) string {
		return fmt.Sprintf("kafka:\n  topic: orders\n  brokers: [%s]\n%stable:\n  url: file://%s\nformat:\n  schema:\n    - {name: id, type: int64, optional: false}\ncheckpoint:\n  state_dir: %s\n  interval: 200ms\nadmin:\n  addr: \"\"\n",
			cluster.ListenAddrs()[0], security, tableDir, t.TempDir())
	}
	tlsYAML := func(ca string) string {
		return fmt.Sprintf("  tls:\n    enabled: true\n    ca_file: %s\n    cert_file: %s\n    key_file: %s\n", ca, p.certFile, p.keyFile)
	}
	for _, c := range []struct{ name, security, want string }{
		{"wrong password", tlsYAML(p.caFile) + "  sasl:\n    mechanism: SCRAM-SHA-512\n    username: alice\n    password_file: " + wrongFile + "\n",
			`SASL authentication failed (mechanism SCRAM-SHA-512, user alice)`},
		{"untrusted CA", tlsYAML(p.otherCAFile) + "  sasl:\n    mechanism: SCRAM-SHA-512\n    username: alice\n    password_file: " + p.passwordFile + "\n",
			`TLS: the broker's certificate is not trusted by the CA file ` + p.otherCAFile},
		{"no TLS", "  sasl:\n    mechanism: SCRAM-SHA-512\n    username: alice\n    password_file: " + p.passwordFile + "\n",
			`TLS or SASL is most likely on at one end and off at the other`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tableDir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out, errOut bytes.Buffer
			code := run(ctx, []string{"run", "--config", writeConfig(t, config(tableDir, c.security))}, &out, &errOut)
			if code != 1 || !strings.Contains(errOut.String(), c.want) {
				t.Errorf("exit %d, want 1 and an error saying %q:\n%s", code, c.want, errOut.String())
			}
			if ctx.Err() != nil {
				t.Errorf("ingestd waited for the deadline")
			}
			if strings.Contains(errOut.String(), testPassword) {
				t.Errorf("the password is in the output:\n%s", errOut.String())
			}
			if entries, err := os.ReadDir(tableDir); err != nil || len(entries) > 0 {
				t.Errorf("table dir: %v, %d entries, want it untouched", err, len(entries))
			}
		})
	}
	for _, c := range []struct{ name, security string }{
		{"SCRAM-SHA-512 from a file", tlsYAML(p.caFile) + "  sasl:\n    mechanism: SCRAM-SHA-512\n    username: alice\n    password_file: " + p.passwordFile + "\n"},
		{"PLAIN from a variable", tlsYAML(p.caFile) + "  sasl:\n    mechanism: plain\n    username: bob\n    password_env: INGESTD_TEST_PASSWORD\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out bytes.Buffer
			var errOut syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"run", "--log-level", "debug", "--config", writeConfig(t, config(t.TempDir(), c.security))}, &out, &errOut)
			}()
			deadline := time.After(30 * time.Second)
			for !strings.Contains(errOut.String(), `"msg":"ingestd running"`) {
				select {
				case code := <-done:
					t.Fatalf("exit %d:\n%s", code, errOut.String())
				case <-deadline:
					t.Fatalf("not running after 30s:\n%s", errOut.String())
				case <-time.After(20 * time.Millisecond):
				}
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("exit %d:\n%s", code, errOut.String())
			}
			if strings.Contains(errOut.String(), testPassword) {
				t.Errorf("the password is in the log:\n%s", errOut.String())
			}
			if !strings.Contains(errOut.String(), `Password:\"REDACTED\"`) {
				t.Errorf("the log does not show the security settings, redacted:\n%s", errOut.String())
			}
		})
	}
}

// The run's logger masks the SASL password wherever a package would put
// it.
func TestLoggerMasksPassword(t *testing.T) {
	t.Setenv("INGESTD_TEST_PASSWORD", testPassword)
	var stderr bytes.Buffer
	cfg := mergeYAML(t, minimalConfig, "kafka:\n  sasl:\n    mechanism: SCRAM-SHA-256\n    username: alice\n    password_env: INGESTD_TEST_PASSWORD\n")
	_, runLogger, code := configure([]string{"--config", writeConfig(t, cfg)}, &stderr)
	if code != 0 || runLogger == nil {
		t.Fatalf("configure: exit %d:\n%s", code, stderr.String())
	}
	runLogger.Error("stopped", "err", fmt.Errorf("a package quoting %s", testPassword))
	if strings.Contains(stderr.String(), testPassword) || !strings.Contains(stderr.String(), "quoting REDACTED") {
		t.Errorf("run logger:\n%s", stderr.String())
	}

	var buf bytes.Buffer
	s := newScrubber()
	s.addSecrets(testPassword, "abc")
	logger := newScrubbingLogger(&buf, 0, s)
	logger.Info("connect", "detail", "user alice password "+testPassword, "err", fmt.Errorf("auth %s failed", testPassword), "short", "abc")
	if strings.Contains(buf.String(), testPassword) || !strings.Contains(buf.String(), "password REDACTED") || !strings.Contains(buf.String(), `"short":"abc"`) {
		t.Errorf("log:\n%s", buf.String())
	}
}
