package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/lakestream/lakestream/internal/redact"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	saslaws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanism names accepted in SASL.Mechanism (case-insensitive).
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
	// SASLAWSMSKIAM is Amazon MSK's IAM authentication (franz-go's
	// sasl/aws), with credentials from the AWS SDK's default chain. It was
	// not tested against MSK: only that the handshake names it and that
	// the default chain's credentials sign its challenge.
	SASLAWSMSKIAM = "AWS_MSK_IAM"
)

// Bounds of the files Security reads: a certificate file or a key is a few
// KiB; a larger file is not one.
const maxPEMFileBytes = 1 << 20

// Security is how every client of this package (Reader, DeadLetter, Check)
// reaches the brokers: TLS and SASL, the same for all of them. The zero
// value is plaintext without authentication. Print it with %v only:
// String redacts the password. Validate reports every problem at once,
// reading (and parsing) every file it names.
type Security struct {
	TLS  TLS
	SASL SASL
}

// TLS configures TLS to the brokers.
type TLS struct {
	// Enabled turns TLS on; the other fields need it.
	Enabled bool
	// CAFile is a PEM file of the certificates the brokers' certificates
	// must chain to. Default: the system's roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate (with its chain)
	// and its private key (PKCS #1, PKCS #8 or SEC 1, unencrypted), for
	// listeners that require one. Both or neither.
	CertFile, KeyFile string
	// ServerName is the name the brokers' certificates must be valid for.
	// Default: the host of the address dialed.
	ServerName string
	// InsecureSkipVerify turns off the verification of the brokers'
	// certificates: anyone on the path can read and change the records
	// and take the SASL password. For tests only; every client logs a
	// warning when it starts with it. Refused with CAFile or ServerName,
	// which it would ignore.
	InsecureSkipVerify bool
}

// SASL configures SASL authentication.
type SASL struct {
	// Mechanism is "" (none), PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or
	// AWS_MSK_IAM (case-insensitive). PLAIN without TLS is allowed with a
	// warning (the password crosses the network in clear). AWS_MSK_IAM
	// needs TLS and takes its credentials from the AWS SDK's default
	// chain (environment, shared files, web identity, container or
	// instance role); the region from the broker's host name (MSK's names
	// hold it) or $AWS_REGION.
	Mechanism string
	// User and Password are PLAIN's and SCRAM's, required with them and
	// refused with AWS_MSK_IAM.
	User     string
	Password Secret
}

// Secret is a password. It prints, formats, marshals and logs as
// redact.Mask; Reveal returns it.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns redact.Mask, or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redact.Mask
}

// GoString is String.
func (s Secret) GoString() string { return s.String() }

// Format prints String whatever the verb (%s, %q, %x, %d...).
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(s.String()))
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalText is String.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue is String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// SecurityError is one problem of a Security: Field is its Go path
// (TLS.CAFile, SASL.User...). The problem never quotes a secret or the
// content of a file.
type SecurityError struct {
	Field   string
	Problem string
}

func (e *SecurityError) Error() string { return "source: " + e.Field + ": " + e.Problem }

// Validate reports every problem at once, each a *SecurityError: files that
// cannot be read or do not parse (the CA file, the client certificate and
// key, and whether they match), settings that need another one or
// contradict it, a missing or unused user or password.
func (s Security) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &SecurityError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	t := s.TLS
	if !t.Enabled {
		for _, f := range []struct {
			name string
			set  bool
		}{{"TLS.CAFile", t.CAFile != ""}, {"TLS.CertFile", t.CertFile != ""}, {"TLS.KeyFile", t.KeyFile != ""},
			{"TLS.ServerName", t.ServerName != ""}, {"TLS.InsecureSkipVerify", t.InsecureSkipVerify}} {
			if f.set {
				add(f.name, "set, but TLS is not enabled: the connections would be plaintext; enable TLS or remove it")
			}
		}
	} else {
		if t.CAFile != "" {
			if _, err := loadCAFile(t.CAFile); err != nil {
				add("TLS.CAFile", "%v", err)
			}
		}
		switch {
		case t.CertFile != "" && t.KeyFile == "":
			add("TLS.KeyFile", "required with a client certificate (TLS.CertFile)")
		case t.CertFile == "" && t.KeyFile != "":
			add("TLS.CertFile", "required with a client key (TLS.KeyFile)")
		case t.CertFile != "":
			if _, err := loadKeyPair(t.CertFile, t.KeyFile); err != nil {
				add("TLS.CertFile", "%v", err)
			}
		}
		if t.ServerName != "" && !validServerName(t.ServerName) {
			add("TLS.ServerName", "%q: want a host name or IP address", t.ServerName)
		}
		if t.InsecureSkipVerify && (t.CAFile != "" || t.ServerName != "") {
			add("TLS.InsecureSkipVerify", "turns off the verification that TLS.CAFile and TLS.ServerName are for: set one or the other")
		}
	}

	a := s.SASL
	switch mech := strings.ToUpper(a.Mechanism); mech {
	case "":
		if a.User != "" {
			add("SASL.User", "set without a SASL mechanism")
		}
		if a.Password != "" {
			add("SASL.Password", "set without a SASL mechanism")
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		switch {
		case a.User == "":
			add("SASL.User", "required with SASL mechanism %s", mech)
		case !isPrintable(a.User):
			add("SASL.User", "control or non-printable characters are not allowed")
		}
		switch {
		case a.Password == "":
			add("SASL.Password", "required with SASL mechanism %s", mech)
		case mech == SASLPlain && strings.ContainsRune(string(a.Password), 0):
			add("SASL.Password", "holds a NUL character, which PLAIN cannot carry")
		}
	case SASLAWSMSKIAM:
		const why = "not used with AWS_MSK_IAM: its credentials come from the AWS default chain (AWS_ACCESS_KEY_ID..., a profile, a role)"
		if a.User != "" {
			add("SASL.User", why)
		}
		if a.Password != "" {
			add("SASL.Password", why)
		}
		if !t.Enabled {
			add("SASL.Mechanism", "AWS_MSK_IAM needs TLS (MSK's IAM listeners are TLS only)")
		}
	default:
		add("SASL.Mechanism", "%s: want %s, %s, %s or %s", strconv.QuoteToASCII(a.Mechanism), SASLPlain, SASLScramSHA256, SASLScramSHA512, SASLAWSMSKIAM)
	}
	return errors.Join(errs...)
}

// String describes the settings: file paths, the mechanism and the user;
// the password as redact.Mask.
func (s Security) String() string {
	var b strings.Builder
	if !s.TLS.Enabled {
		b.WriteString("TLS:off")
	} else {
		fmt.Fprintf(&b, "TLS:{CAFile:%q CertFile:%q KeyFile:%q ServerName:%q InsecureSkipVerify:%t}",
			s.TLS.CAFile, s.TLS.CertFile, s.TLS.KeyFile, s.TLS.ServerName, s.TLS.InsecureSkipVerify)
	}
	if s.SASL.Mechanism == "" && s.SASL.User == "" && s.SASL.Password == "" {
		b.WriteString(" SASL:off")
	} else {
		fmt.Fprintf(&b, " SASL:{Mechanism:%q User:%q Password:%q}", strings.ToUpper(s.SASL.Mechanism), s.SASL.User, s.SASL.Password)
	}
	return b.String()
}

// GoString is String.
func (s Security) GoString() string { return s.String() }

// kgoOpts are the client options of s (after Validate): TLS and SASL. It
// reads the files again (a certificate renewed since is taken) and, for
// AWS_MSK_IAM, loads the AWS configuration. It warns when the certificate
// check is off or PLAIN runs without TLS.
func (s Security) kgoOpts(log *slog.Logger) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.TLS.Enabled {
		cfg, err := s.TLS.config()
		if err != nil {
			return nil, err
		}
		if s.TLS.InsecureSkipVerify {
			log.Warn("TLS certificate verification is OFF (insecure skip verify): anyone on the path to the brokers can read and change the records and take the SASL credentials; use it for tests only")
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	mech, err := s.SASL.mechanism()
	if err != nil {
		return nil, err
	}
	if mech != nil {
		if mech.Name() == SASLPlain && !s.TLS.Enabled {
			log.Warn("SASL PLAIN without TLS sends the password in clear text")
		}
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

// config builds the tls.Config: TLS 1.2 at least.
func (t TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pool, err := loadCAFile(t.CAFile)
		if err != nil {
			return nil, &SecurityError{Field: "TLS.CAFile", Problem: err.Error()}
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		pair, err := loadKeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, &SecurityError{Field: "TLS.CertFile", Problem: err.Error()}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// mechanism is franz-go's SASL mechanism, nil for none.
func (a SASL) mechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(a.Mechanism) {
	case SASLPlain:
		return plain.Auth{User: a.User, Pass: a.Password.Reveal()}.AsMechanism(), nil
	case SASLScramSHA256:
		return scram.Auth{User: a.User, Pass: a.Password.Reveal()}.AsSha256Mechanism(), nil
	case SASLScramSHA512:
		return scram.Auth{User: a.User, Pass: a.Password.Reveal()}.AsSha512Mechanism(), nil
	case SASLAWSMSKIAM:
		return awsMSKIAM()
	default:
		return nil, nil
	}
}

// awsMSKIAM is franz-go's AWS_MSK_IAM mechanism with the credentials of the
// AWS SDK's default chain (cached and refreshed by the SDK), fetched for
// every new connection.
func awsMSKIAM() (sasl.Mechanism, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, &SecurityError{Field: "SASL.Mechanism", Problem: fmt.Sprintf("AWS_MSK_IAM: load the AWS configuration: %v", err)}
	}
	if cfg.Credentials == nil {
		return nil, &SecurityError{Field: "SASL.Mechanism", Problem: "AWS_MSK_IAM: the AWS configuration has no credentials provider"}
	}
	return saslaws.ManagedStreamingIAM(func(ctx context.Context) (saslaws.Auth, error) {
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return saslaws.Auth{}, &awsCredentialsError{err: err}
		}
		return saslaws.Auth{AccessKey: creds.AccessKeyID, SecretKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}, nil
	}), nil
}

type awsCredentialsError struct{ err error }

func (e *awsCredentialsError) Error() string {
	return "AWS_MSK_IAM: no AWS credentials from the default chain: " + e.err.Error()
}
func (e *awsCredentialsError) Unwrap() error { return e.err }

// readBounded reads at most limit bytes of path; a longer file is an error.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a PEM file", path, limit)
	}
	return data, nil
}

// loadCAFile reads the PEM certificates of path into a pool: at least one,
// each parsed, nothing but certificates (a private key in a CA file is a
// mistake worth stopping for).
func loadCAFile(path string) (*x509.CertPool, error) {
	data, err := readBounded(path, maxPEMFileBytes)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: holds a %q PEM block: a CA file holds certificates only", path, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %v", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}

// loadKeyPair reads a client certificate and its key; the certificate must
// be valid now.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readBounded(certFile, maxPEMFileBytes)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readBounded(keyFile, maxPEMFileBytes)
	if err != nil {
		return tls.Certificate{}, err
	}
	// X509KeyPair's errors name PEM block types, never their content.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %s, key %s: %v", certFile, keyFile, err)
	}
	if now := time.Now(); pair.Leaf != nil && (now.After(pair.Leaf.NotAfter) || now.Before(pair.Leaf.NotBefore)) {
		return tls.Certificate{}, fmt.Errorf("certificate %s is valid from %s to %s, not now", certFile,
			pair.Leaf.NotBefore.UTC().Format(time.RFC3339), pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return pair, nil
}

func validServerName(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	if len(s) > 253 || strings.HasPrefix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '*' || r == '_') {
			return false
		}
	}
	return s != ""
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// ConnectError is a broker's refusal of the security settings, which
// retrying does not cure: SASL authentication failed, a SASL mechanism the
// listener does not enable, a broker certificate that is not trusted or not
// valid for the name dialed, a listener that does not speak TLS, a client
// certificate refused, no AWS credentials. Its message says which and what
// to check; it never holds a secret.
type ConnectError struct {
	// Kind is "sasl" or "tls".
	Kind string
	msg  string
	err  error
}

func (e *ConnectError) Error() string { return e.msg }
func (e *ConnectError) Unwrap() error { return e.err }

// describeConnErr returns the *ConnectError that err (from a request to
// brokers with sec) is, or nil if it is none of those. saslClosed says that
// a broker closed a connection during SASL authentication (saslReadHook).
func describeConnErr(err error, brokers []string, sec Security, saslClosed bool) *ConnectError {
	if err == nil {
		return nil
	}
	at := fmt.Sprintf("brokers %s", strings.Join(brokers, ","))
	mech := strings.ToUpper(sec.SASL.Mechanism)
	who := saslWho(sec)
	saslErr := func(format string, args ...any) *ConnectError {
		return &ConnectError{Kind: "sasl", msg: fmt.Sprintf(format, args...), err: err}
	}
	tlsErr := func(format string, args ...any) *ConnectError {
		return &ConnectError{Kind: "tls", msg: fmt.Sprintf(format, args...), err: err}
	}
	var (
		awsErr  *awsCredentialsError
		hostErr x509.HostnameError
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		verify  *tls.CertificateVerificationError
		noTLS   tls.RecordHeaderError
		opErr   *net.OpError
	)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return saslErr("SASL authentication failed (%s) at %s: %v", who, at, err)
	case saslClosed:
		return saslErr("SASL authentication failed (%s) at %s: the broker closed the connection during authentication (%v)", who, at, err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return saslErr("SASL mechanism %s is not enabled on the listener of %s: %v", mech, at, err)
	case errors.Is(err, kerr.IllegalSaslState):
		return saslErr("SASL (%s): the listener of %s does not expect SASL, or not this way: %v", who, at, err)
	case errors.As(err, &awsErr):
		return saslErr("SASL %s at %s: %v", SASLAWSMSKIAM, at, awsErr)
	case errors.As(err, &hostErr):
		return tlsErr("TLS: the broker's certificate is not valid for the name dialed (%s): %v; set the TLS server name to a name it is valid for", at, hostErr)
	case errors.As(err, &unknown):
		by := "the system's root certificates (set a CA file)"
		if sec.TLS.CAFile != "" {
			by = "the CA file " + sec.TLS.CAFile
		}
		issuer := ""
		if unknown.Cert != nil {
			issuer = fmt.Sprintf(" (certificate of %q, issued by %q)", unknown.Cert.Subject.String(), unknown.Cert.Issuer.String())
		}
		return tlsErr("TLS: the broker's certificate is not trusted by %s%s at %s: %v", by, issuer, at, unknown)
	case errors.As(err, &invalid):
		return tlsErr("TLS: the broker's certificate is invalid at %s: %v", at, invalid)
	case errors.As(err, &verify):
		return tlsErr("TLS: the broker's certificate could not be verified at %s: %v", at, verify)
	case errors.As(err, &noTLS):
		return tlsErr("TLS: the broker did not answer in TLS at %s (a plaintext listener? then turn TLS off): %v", at, noTLS)
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return tlsErr("TLS: the broker refused the TLS handshake at %s: %v (a listener that requires a client certificate refuses a client without one, or with one its trust store does not accept)", at, opErr)
	}
	return nil
}

// handshakeDropped reports whether err is kgo's dial error for a connection
// made and then reset or closed before the TLS handshake ended: what a
// plaintext listener does to a ClientHello.
func handshakeDropped(err error) bool {
	var op *net.OpError
	return strings.HasPrefix(err.Error(), "unable to dial") && errors.As(err, &op) && op.Op == "read"
}

// saslWho names the mechanism and the user.
func saslWho(sec Security) string {
	who := "mechanism " + strings.ToUpper(sec.SASL.Mechanism)
	if sec.SASL.User != "" {
		who += ", user " + sec.SASL.User
	}
	return who
}

// saslReadHook notes a connection closed while a SASLAuthenticate response
// was awaited: how some brokers (kfake) refuse credentials, where Apache
// Kafka answers SASL_AUTHENTICATION_FAILED first.
type saslReadHook struct{ closed atomic.Bool }

func (h *saslReadHook) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == kmsg.SASLAuthenticate.Int16() && err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		h.closed.Store(true)
	}
}

// dropsWindow is how long Check sees brokers close its connections at once
// before it calls it a TLS or SASL mismatch rather than a restart.
const dropsWindow = 5 * time.Second

// Check connects to brokers with sec, as the Reader and the DeadLetter
// will, and asks for the cluster's metadata. It returns nil once a broker
// answers. A refusal of the security settings (a *ConnectError: see there)
// returns at once; anything else (a broker not listening yet) is retried
// until ctx ends, and the last error is returned with ctx's. A broker that
// closes every connection at once (or in the TLS handshake) for
// dropsWindow is a *ConnectError too: TLS or SASL on at one end only.
func Check(ctx context.Context, brokers []string, sec Security, opts ...Option) error {
	if errs := append(validateBrokers(brokers), sec.Validate()); errors.Join(errs...) != nil {
		return errors.Join(errs...)
	}
	o := buildOptions(opts)
	log := o.log.With("component", "source")
	kopts, err := connOpts(log, brokers, DefaultClientID, sec)
	if err != nil {
		return err
	}
	var hook saslReadHook
	kopts = append(kopts, kgo.WithHooks(&hook))
	kopts = append(kopts, o.kgoOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("source: check brokers: %w", err)
	}
	defer cl.Close()
	backoff, drops, firstDrop := 100*time.Millisecond, 0, time.Time{}
	var lastLog time.Time
	for {
		hook.closed.Store(false)
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := cl.Ping(actx)
		cancel()
		if err == nil {
			return nil
		}
		// A broker that closes the connection at once, or in the TLS
		// handshake, may be shutting down: doing so for dropsWindow
		// (three tries at least) is a mismatch of TLS or SASL.
		var firstEOF *kgo.ErrFirstReadEOF
		dropped := errors.As(err, &firstEOF) || (sec.TLS.Enabled && handshakeDropped(err))
		if !dropped {
			drops, firstDrop = 0, time.Time{}
		} else if drops++; drops == 1 {
			firstDrop = time.Now()
		}
		if ce := describeConnErr(err, brokers, sec, hook.closed.Load()); ce != nil && !dropped {
			return ce
		}
		if dropped && drops >= 3 && time.Since(firstDrop) >= dropsWindow {
			return &ConnectError{Kind: "tls", err: err, msg: fmt.Sprintf("the broker closed the connection at once, or in the TLS handshake, at brokers %s, %d times in %v: TLS or SASL is most likely on at one end and off at the other (this client: %s): %v",
				strings.Join(brokers, ","), drops, time.Since(firstDrop).Round(time.Second), sec.String(), err)}
		}
		if time.Since(lastLog) > 10*time.Second {
			log.Warn("waiting for Kafka: the brokers do not answer", "brokers", brokers, "err", err)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("source: no Kafka broker of %s answered: %w (last error: %v)", strings.Join(brokers, ","), ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
