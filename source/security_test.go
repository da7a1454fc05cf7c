package source

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/tlstest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pki is a test CA, a broker certificate for 127.0.0.1 and localhost, a
// client certificate, and a second CA that signed neither, all in files.
type pki struct {
	ca, other           *tlstest.CA
	server              tls.Certificate
	caFile, otherCAFile string
	certFile, keyFile   string // the client's
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	ca, err := tlstest.NewCA("lakestream test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tlstest.NewCA("some other CA")
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
	p := pki{ca: ca, other: other, server: server, caFile: filepath.Join(dir, "ca.pem"), otherCAFile: filepath.Join(dir, "other-ca.pem"),
		certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client-key.pem")}
	for path, data := range map[string][]byte{p.caFile: ca.CertPEM, p.otherCAFile: other.CertPEM, p.certFile: client.CertPEM, p.keyFile: client.KeyPEM} {
		if err := tlstest.WriteFile(path, data); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// serverTLS is the brokers' TLS: the broker certificate, and a client
// certificate signed by the CA required when requireClient is set.
func (p pki) serverTLS(requireClient bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if requireClient {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = p.ca.Pool()
	}
	return cfg
}

// checkWithin runs Check with a deadline far above what a refusal takes:
// a refusal must come back as a *ConnectError, not as the deadline.
func checkWithin(brokers []string, sec Security) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Check(ctx, brokers, sec, WithLogger(testLogger()))
}

// SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 are wired into the Reader; a
// wrong password is a clear error from Check at once, while a Reader with it
// keeps retrying (which is why ingestd checks first).
func TestSASL(t *testing.T) {
	const topic = "sasl"
	c := newCluster(t, 1, []string{topic}, kfake.EnableSASL(),
		kfake.Superuser(SASLScramSHA256, "alice", "alice-secret"),
		kfake.Superuser(SASLScramSHA512, "carol", "carol-secret"),
		kfake.Superuser(SASLPlain, "bob", "bob-secret"))
	prodSec := Security{SASL: SASL{Mechanism: SASLScramSHA256, User: "alice", Password: "alice-secret"}}
	popts, err := connOpts(testLogger(), c.ListenAddrs(), "test", prodSec)
	if err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, c, append(popts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	produce(t, prod, topic, []int32{0}, 0, 1)

	for _, tc := range []struct {
		mech, user, pass string
		ok               bool
	}{
		{SASLPlain, "bob", "bob-secret", true},
		{SASLScramSHA256, "alice", "alice-secret", true},
		{"scram-sha-512", "carol", "carol-secret", true},
		{SASLScramSHA512, "carol", "wrong-secret", false},
		{SASLPlain, "bob", "wrong-secret", false},
	} {
		t.Run(fmt.Sprintf("%s/%s/ok=%t", tc.mech, tc.user, tc.ok), func(t *testing.T) {
			sec := Security{SASL: SASL{Mechanism: tc.mech, User: tc.user, Password: Secret(tc.pass)}}
			cfg := testConfig(c, topic, fmt.Sprintf("sasl-%s-%t", tc.user, tc.ok))
			cfg.Security = sec
			if s := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, &cfg); strings.Contains(s, tc.pass) {
				t.Fatalf("config printed the password: %s", s)
			}
			err := checkWithin(c.ListenAddrs(), sec)
			if tc.ok {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
			} else {
				var ce *ConnectError
				want := fmt.Sprintf("SASL authentication failed (mechanism %s, user %s)", strings.ToUpper(tc.mech), tc.user)
				if !errors.As(err, &ce) || ce.Kind != "sasl" || !strings.Contains(err.Error(), want) {
					t.Fatalf("check with a wrong password = %v, want a ConnectError saying %q", err, want)
				}
				if strings.Contains(err.Error(), tc.pass) {
					t.Fatalf("the error holds the password: %v", err)
				}
			}
			r := newReader(t, cfg, Hooks{}, testOpts()...)
			timeout := 10 * time.Second
			if !tc.ok {
				timeout = time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			recs, err := r.Poll(ctx)
			if tc.ok {
				if err != nil || len(recs) != 1 || string(recs[0].Value) != "p0-0" {
					t.Fatalf("poll = %v, %v; want the one record", recs, err)
				}
				r.AllowRebalance()
			} else if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("poll with a wrong password = %v, %v; want nothing until the deadline", recs, err)
			}
		})
	}
}

// Over TLS with a client certificate and SCRAM-SHA-512: Check passes, the
// Reader reads and the DeadLetter produces with the same Security; every
// refusal is a clear ConnectError, at once.
func TestTLS(t *testing.T) {
	const topic = "secure"
	p := newPKI(t)
	c := newCluster(t, 2, []string{topic}, kfake.TLS(p.serverTLS(true)), kfake.EnableSASL(),
		kfake.Superuser(SASLScramSHA512, "alice", "alice-secret"))
	good := Security{
		TLS:  TLS{Enabled: true, CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile},
		SASL: SASL{Mechanism: SASLScramSHA512, User: "alice", Password: "alice-secret"},
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := checkWithin(c.ListenAddrs(), good); err != nil {
		t.Fatalf("check: %v", err)
	}

	// The DeadLetter creates its topic and produces; the Reader reads the
	// source topic; both over TLS + SCRAM.
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dl, err := NewDeadLetter(DeadLetterConfig{SourceTopic: topic, Brokers: c.ListenAddrs(), EnsureTopic: true, Security: good}, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	popts, err := connOpts(testLogger(), c.ListenAddrs(), "test", good)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, newClient(t, c, append(popts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...), topic, []int32{0, 1}, 0, 3)
	cfg := testConfig(c, topic, "tls")
	cfg.Security = good
	r := newReader(t, cfg, Hooks{}, append(testOpts(), WithLogger(logger))...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := 0
	for got < 6 {
		recs, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll over TLS after %d records: %v", got, err)
		}
		for _, rec := range recs {
			dl.Send(rec, "test", "")
		}
		got += len(recs)
		r.AllowRebalance()
	}
	if err := dl.Flush(ctx); err != nil {
		t.Fatalf("dead letters over TLS: %v", err)
	}
	if strings.Contains(logs.String(), "alice-secret") {
		t.Fatalf("the password is in the logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `Password:\"REDACTED\"`) {
		t.Errorf("the start log lines do not show the redacted security settings:\n%s", logs.String())
	}

	with := func(f func(*Security)) Security {
		s := good
		f(&s)
		return s
	}
	for _, tc := range []struct {
		name string
		sec  Security
		kind string
		want string
	}{
		{"untrusted CA", with(func(s *Security) { s.TLS.CAFile = p.otherCAFile }), "tls",
			"TLS: the broker's certificate is not trusted by the CA file " + p.otherCAFile},
		{"system roots", with(func(s *Security) { s.TLS.CAFile = "" }), "tls",
			"TLS: the broker's certificate is not trusted by the system's root certificates"},
		{"server name", with(func(s *Security) { s.TLS.ServerName = "kafka.example.com" }), "tls",
			"TLS: the broker's certificate is not valid for the name dialed"},
		{"no client certificate", with(func(s *Security) { s.TLS.CertFile, s.TLS.KeyFile = "", "" }), "tls",
			"TLS: the broker refused the TLS handshake"},
		{"wrong password", with(func(s *Security) { s.SASL.Password = "not-the-password" }), "sasl",
			"SASL authentication failed (mechanism SCRAM-SHA-512, user alice)"},
		{"unknown user", with(func(s *Security) { s.SASL.User = "mallory" }), "sasl",
			"SASL authentication failed (mechanism SCRAM-SHA-512, user mallory)"},
		{"no TLS", with(func(s *Security) { s.TLS = TLS{} }), "tls",
			"the broker closed the connection at once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkWithin(c.ListenAddrs(), tc.sec)
			var ce *ConnectError
			if !errors.As(err, &ce) || ce.Kind != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("check = %v\nwant a %s ConnectError saying %q", err, tc.kind, tc.want)
			}
			if strings.Contains(err.Error(), "alice-secret") || strings.Contains(err.Error(), "not-the-password") {
				t.Fatalf("the error holds the password: %v", err)
			}
			t.Log(err)
		})
	}

	// A plaintext listener answered with TLS: Apache Kafka reads the
	// ClientHello as a request too large and closes the connection.
	plain := closingListener(t)
	err = checkWithin([]string{plain}, Security{TLS: TLS{Enabled: true, CAFile: p.caFile}})
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Kind != "tls" {
		t.Fatalf("TLS to a plaintext broker: %v, want a TLS ConnectError", err)
	}
	t.Log(err)

	// The DeadLetter's topic check reports a refusal the same way.
	_, err = NewDeadLetter(DeadLetterConfig{SourceTopic: topic, Brokers: c.ListenAddrs(), EnsureTopic: true,
		Security: with(func(s *Security) { s.SASL.Password = "not-the-password" })}, WithLogger(testLogger()))
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "SASL authentication failed") {
		t.Fatalf("dead letter with a wrong password: %v", err)
	}
}

// A broker that does not answer is waited for until the context ends.
func TestCheckWaitsForBrokers(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := Check(ctx, []string{addr}, Security{}, WithLogger(testLogger()))
	var ce *ConnectError
	if err == nil || errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no Kafka broker of "+addr+" answered") {
		t.Fatalf("check of a closed port = %v", err)
	}
}

// closingListener accepts connections, reads what comes and closes them,
// until the test ends.
func closingListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Read(make([]byte, 512))
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Validate reports every problem at once, naming the field, reading and
// parsing the files, without a secret or a file's content in the text.
func TestSecurityValidate(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyPEM, _ := os.ReadFile(p.keyFile)
	certPEM, _ := os.ReadFile(p.certFile)
	other, err := p.other.Client("other")
	if err != nil {
		t.Fatal(err)
	}
	expired, err := p.ca.Expired("ingestd")
	if err != nil {
		t.Fatal(err)
	}
	expiredCert, expiredKey := write("expired.pem", expired.CertPEM), write("expired-key.pem", expired.KeyPEM)
	keyInCA := write("key-in-ca.pem", append(append([]byte{}, p.ca.CertPEM...), keyPEM...))
	garbage := write("garbage.pem", []byte("not a certificate"))
	otherKey := write("other-key.pem", other.KeyPEM)

	for _, tc := range []struct {
		name string
		sec  Security
		want []string
	}{
		{"TLS settings without TLS", Security{TLS: TLS{CAFile: p.caFile, ServerName: "x", InsecureSkipVerify: true}},
			[]string{"TLS.CAFile: set, but TLS is not enabled", "TLS.ServerName: set, but TLS is not enabled", "TLS.InsecureSkipVerify: set, but TLS is not enabled"}},
		{"missing files", Security{TLS: TLS{Enabled: true, CAFile: filepath.Join(dir, "nope.pem"), CertFile: filepath.Join(dir, "nope-cert.pem"), KeyFile: p.keyFile}},
			[]string{"TLS.CAFile: open " + filepath.Join(dir, "nope.pem"), "TLS.CertFile: open " + filepath.Join(dir, "nope-cert.pem")}},
		{"garbage CA", Security{TLS: TLS{Enabled: true, CAFile: garbage}}, []string{"TLS.CAFile: " + garbage + ": no PEM certificate in it"}},
		{"key in the CA file", Security{TLS: TLS{Enabled: true, CAFile: keyInCA}}, []string{`holds a "PRIVATE KEY" PEM block: a CA file holds certificates only`}},
		{"cert without key", Security{TLS: TLS{Enabled: true, CertFile: p.certFile}}, []string{"TLS.KeyFile: required with a client certificate"}},
		{"key without cert", Security{TLS: TLS{Enabled: true, KeyFile: p.keyFile}}, []string{"TLS.CertFile: required with a client key"}},
		{"key of another certificate", Security{TLS: TLS{Enabled: true, CertFile: p.certFile, KeyFile: otherKey}}, []string{"TLS.CertFile: certificate " + p.certFile + ", key " + otherKey + ": tls: private key does not match public key"}},
		{"cert and key swapped", Security{TLS: TLS{Enabled: true, CertFile: p.keyFile, KeyFile: p.certFile}}, []string{"TLS.CertFile: certificate " + p.keyFile}},
		{"expired client certificate", Security{TLS: TLS{Enabled: true, CertFile: expiredCert, KeyFile: expiredKey}}, []string{"TLS.CertFile: certificate " + expiredCert + " is valid from"}},
		{"insecure with a CA", Security{TLS: TLS{Enabled: true, CAFile: p.caFile, InsecureSkipVerify: true}}, []string{"TLS.InsecureSkipVerify: turns off the verification"}},
		{"bad server name", Security{TLS: TLS{Enabled: true, ServerName: "a b"}}, []string{`TLS.ServerName: "a b": want a host name`}},
		{"unknown mechanism", Security{SASL: SASL{Mechanism: "GSSAPI", User: "u", Password: "hunter2"}}, []string{`SASL.Mechanism: "GSSAPI": want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM`}},
		{"no user, no password", Security{SASL: SASL{Mechanism: "scram-sha-256"}}, []string{"SASL.User: required with SASL mechanism SCRAM-SHA-256", "SASL.Password: required with SASL mechanism SCRAM-SHA-256"}},
		{"user and password without mechanism", Security{SASL: SASL{User: "u", Password: "hunter2"}}, []string{"SASL.User: set without a SASL mechanism", "SASL.Password: set without a SASL mechanism"}},
		{"PLAIN with a NUL", Security{SASL: SASL{Mechanism: SASLPlain, User: "u", Password: "hun\x00ter2"}}, []string{"SASL.Password: holds a NUL character"}},
		{"AWS without TLS, with a password", Security{SASL: SASL{Mechanism: SASLAWSMSKIAM, User: "u", Password: "hunter2"}},
			[]string{"SASL.User: not used with AWS_MSK_IAM", "SASL.Password: not used with AWS_MSK_IAM", "SASL.Mechanism: AWS_MSK_IAM needs TLS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sec.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			var se *SecurityError
			if !errors.As(err, &se) {
				t.Errorf("not a SecurityError: %v", err)
			}
			for _, secret := range []string{"hunter2", "hun\x00ter2", "PRIVATE KEY-----", string(certPEM[30:60]), string(keyPEM[40:70])} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error holds %q: %v", secret, err)
				}
			}
		})
	}
	for _, ok := range []Security{
		{},
		{TLS: TLS{Enabled: true}},
		{TLS: TLS{Enabled: true, InsecureSkipVerify: true}},
		{TLS: TLS{Enabled: true, CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile, ServerName: "kafka-1.internal"}, SASL: SASL{Mechanism: "plain", User: "u", Password: "p"}},
		{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: SASLAWSMSKIAM}},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}

// AWS_MSK_IAM is franz-go's mechanism fed by the AWS default chain: its
// handshake names AWS_MSK_IAM (kfake does not support it and says so), and
// its challenge is signed with the credentials of the environment. Not
// tested against MSK.
func TestAWSMSKIAM(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLAKESTREAMTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "lakestream-secret-access-key")
	t.Setenv("AWS_SESSION_TOKEN", "lakestream-session-token")
	sec := Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "aws_msk_iam"}}
	mech, err := sec.SASL.mechanism()
	if err != nil {
		t.Fatal(err)
	}
	if mech.Name() != SASLAWSMSKIAM {
		t.Fatalf("mechanism %q", mech.Name())
	}
	_, challenge, err := mech.Authenticate(context.Background(), "b-1.demo.abc123.c2.kafka.eu-west-1.amazonaws.com:9098")
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]string
	if err := json.Unmarshal(challenge, &fields); err != nil {
		t.Fatalf("challenge %s: %v", challenge, err)
	}
	if !strings.HasPrefix(fields["x-amz-credential"], "AKIDLAKESTREAMTEST/") || !strings.Contains(fields["x-amz-credential"], "/eu-west-1/kafka-cluster/") ||
		fields["x-amz-security-token"] != "lakestream-session-token" || fields["action"] != "kafka-cluster:Connect" || fields["x-amz-signature"] == "" {
		t.Fatalf("challenge not signed with the environment's credentials: %s", challenge)
	}

	// The handshake names the mechanism: kfake answers that it does not
	// support it, which Check reports.
	p := newPKI(t)
	c := newCluster(t, 1, []string{"t"}, kfake.TLS(p.serverTLS(false)), kfake.EnableSASL())
	sec.TLS.CAFile = p.caFile
	err = checkWithin(c.ListenAddrs(), sec)
	var ce *ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "SASL mechanism AWS_MSK_IAM is not enabled on the listener") {
		t.Fatalf("check = %v", err)
	}

	// Without credentials, authentication fails with a clear error.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	mech, err = sec.SASL.mechanism()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _, err = mech.Authenticate(ctx, "b-1.demo.abc123.c2.kafka.eu-west-1.amazonaws.com:9098")
	if ce := describeConnErr(err, []string{"b-1:9098"}, sec, false); ce == nil || !strings.Contains(ce.Error(), "AWS_MSK_IAM: no AWS credentials from the default chain") {
		t.Fatalf("no credentials: %v (%v)", err, ce)
	}
}

// isolateAWS keeps the AWS SDK's default chain to the environment: no
// shared files, no instance metadata.
func isolateAWS(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
	} {
		t.Setenv(k, v)
	}
}
