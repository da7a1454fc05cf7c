package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/lakestream/lakestream/internal/redact"
	"github.com/lakestream/lakestream/source"
	"gopkg.in/yaml.v3"
)

// KafkaTLSConfig is TLS to the brokers (source.TLS), for every Kafka client
// of ingestd: the consumer, the dead-letter producer and its topic creation.
type KafkaTLSConfig struct {
	Enabled    bool   `yaml:"enabled"`     // default false: plaintext
	CAFile     string `yaml:"ca_file"`     // PEM CA certificates the brokers' must chain to; default the system's roots
	CertFile   string `yaml:"cert_file"`   // PEM client certificate, for listeners that require one
	KeyFile    string `yaml:"key_file"`    // its private key, PEM, unencrypted
	ServerName string `yaml:"server_name"` // the name the brokers' certificates must be valid for; default the broker's host
	// InsecureSkipVerify turns the certificate check off: tests only. It
	// has no environment variable or flag (it must be written in the
	// file), is refused with ca_file or server_name, and every client
	// warns when it starts with it.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// KafkaSASLConfig is SASL authentication (source.SASL). The password comes
// from a file or an environment variable, never from the configuration
// file: a `password:` key is refused.
type KafkaSASLConfig struct {
	Mechanism    string `yaml:"mechanism"`     // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM; default none
	Username     string `yaml:"username"`      // PLAIN and SCRAM
	PasswordFile string `yaml:"password_file"` // a file holding the password; one trailing newline is dropped
	PasswordEnv  string `yaml:"password_env"`  // or the name of an environment variable holding it
	// Password is refused: it is only here to say so clearly (its value
	// is not kept).
	Password inlineSecret `yaml:"password"`
}

// inlineSecret records that a secret was written in the configuration
// file, and forgets it.
type inlineSecret bool

// UnmarshalYAML notes the key and drops its value.
func (s *inlineSecret) UnmarshalYAML(*yaml.Node) error {
	*s = true
	return nil
}

// checkKafka connects to the brokers as the consumer and the dead-letter
// producer will (source.Check): a refused password or certificate is a
// clear error at once; brokers that do not answer are waited for as long as
// it takes (Kafka may start after ingestd, or restart), logging what it
// waits for, until ctx ends (SIGTERM), which returns errStoppedWaiting:
// nothing was read, the stop is clean.
func checkKafka(ctx context.Context, brokers []string, sec source.Security, logger *slog.Logger) error {
	if err := source.Check(ctx, brokers, sec, source.WithLogger(logger)); err != nil {
		if ctx.Err() != nil {
			return errStoppedWaiting
		}
		return fmt.Errorf("kafka: %w", err)
	}
	logger.Info("kafka brokers reached", "brokers", brokers, "security", sec.String())
	return nil
}

// errStoppedWaiting: the process was stopped while it waited for Kafka.
var errStoppedWaiting = errors.New("stopped while waiting for Kafka")

// maxPasswordBytes bounds kafka.sasl.password_file.
const maxPasswordBytes = 64 << 10

// securitySettings names the setting of each source.Security field.
var securitySettings = map[string]string{
	"TLS.CAFile":             "kafka.tls.ca_file",
	"TLS.CertFile":           "kafka.tls.cert_file",
	"TLS.KeyFile":            "kafka.tls.key_file",
	"TLS.ServerName":         "kafka.tls.server_name",
	"TLS.InsecureSkipVerify": "kafka.tls.insecure_skip_verify",
	"SASL.Mechanism":         "kafka.sasl.mechanism",
	"SASL.User":              "kafka.sasl.username",
	"SASL.Password":          "kafka.sasl.password_file or kafka.sasl.password_env",
}

// securityWords rewrites source's field names in its messages as settings.
var securityWords = func() *strings.Replacer {
	var pairs []string
	for field, setting := range securitySettings {
		pairs = append(pairs, field, setting)
	}
	return strings.NewReplacer(append(pairs, "TLS is not enabled", "kafka.tls.enabled is not true")...)
}()

// kafkaSecurity is the TLS and SASL of every Kafka client, with the
// password read from its file or environment variable (getenv).
func (c Config) kafkaSecurity(getenv func(string) string) (source.Security, error) {
	pw, errs := c.Kafka.SASL.password(getenv)
	t, s := c.Kafka.TLS, c.Kafka.SASL
	sec := source.Security{
		TLS: source.TLS{Enabled: t.Enabled, CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
			ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify},
		SASL: source.SASL{Mechanism: s.Mechanism, User: s.Username, Password: pw},
	}
	return sec, errors.Join(errs...)
}

// password reads the SASL password from password_file or password_env
// (not both); none set is "" without an error (Validate says whether the
// mechanism needs one). Errors name the setting, never the password.
func (s KafkaSASLConfig) password(getenv func(string) string) (source.Secret, []error) {
	var errs []error
	switch {
	case s.PasswordFile != "" && s.PasswordEnv != "":
		errs = append(errs, errors.New("kafka.sasl.password_file and kafka.sasl.password_env are both set: set one"))
	case s.PasswordFile != "":
		if !isPrintable(s.PasswordFile) {
			return "", []error{fmt.Errorf("kafka.sasl.password_file %q: control or non-printable characters are not allowed", s.PasswordFile)}
		}
		data, err := readPasswordFile(s.PasswordFile)
		if err != nil {
			return "", []error{fmt.Errorf("kafka.sasl.password_file: %v", err)}
		}
		return source.Secret(data), nil
	case s.PasswordEnv != "":
		if !validEnvName(s.PasswordEnv) {
			return "", []error{fmt.Errorf("kafka.sasl.password_env %q: not an environment variable name (letters, digits and _, not starting with a digit)", s.PasswordEnv)}
		}
		v := getenv(s.PasswordEnv)
		if v == "" {
			return "", []error{fmt.Errorf("kafka.sasl.password_env: $%s is not set or empty", s.PasswordEnv)}
		}
		return source.Secret(v), nil
	}
	return "", errs
}

// readPasswordFile reads a password file: at most maxPasswordBytes, one
// trailing newline (\n or \r\n) dropped, not empty.
func readPasswordFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPasswordBytes+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxPasswordBytes {
		return "", fmt.Errorf("%s: larger than %d bytes: not a password file", path, maxPasswordBytes)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if pw == "" {
		return "", fmt.Errorf("%s: empty", path)
	}
	return pw, nil
}

func validEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// validateKafkaSecurity reports the problems of kafka.tls and kafka.sasl:
// an inline password, the password's file or variable, and source's rules
// (files that must exist and parse, settings that need or contradict
// others), each named by its setting. It reads the files and the
// environment, and creates nothing.
func (c Config) validateKafkaSecurity(p *problems) {
	if c.Kafka.SASL.Password {
		p.add("kafka.sasl.password: a password in the configuration file is refused (configuration files end up in version control, config maps and backups): put it in a file (kafka.sasl.password_file) or an environment variable (kafka.sasl.password_env)")
	}
	printable := true
	for _, s := range []struct{ setting, v string }{
		{"kafka.tls.ca_file", c.Kafka.TLS.CAFile}, {"kafka.tls.cert_file", c.Kafka.TLS.CertFile}, {"kafka.tls.key_file", c.Kafka.TLS.KeyFile},
		{"kafka.tls.server_name", c.Kafka.TLS.ServerName}, {"kafka.sasl.mechanism", c.Kafka.SASL.Mechanism}, {"kafka.sasl.username", c.Kafka.SASL.Username},
	} {
		if !isPrintable(s.v) {
			p.add("%s %q: control or non-printable characters are not allowed", s.setting, s.v)
			printable = false
		}
	}
	if !printable {
		return
	}
	sec, err := c.kafkaSecurity(os.Getenv)
	pwProblem := err != nil
	*p = append(*p, splitJoined(err)...)
	for _, e := range splitJoined(sec.Validate()) {
		var se *source.SecurityError
		if !errors.As(e, &se) {
			p.add("kafka: %v", e)
			continue
		}
		setting, ok := securitySettings[se.Field]
		if !ok {
			setting = "kafka: " + se.Field
		}
		if se.Field == "SASL.Password" && pwProblem {
			continue // said above
		}
		p.add("%s: %s", setting, securityWords.Replace(se.Problem))
	}
}

// splitJoined lists the errors joined in err.
func splitJoined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// addSecrets makes s replace each secret (at least 4 bytes: a shorter one
// would mask ordinary words) with redact.Mask.
func (s *scrubber) addSecrets(secrets ...string) {
	for _, v := range secrets {
		if len(v) >= 4 {
			s.pairs = append(s.pairs, [2]string{v, redact.Mask})
		}
	}
	slices.SortFunc(s.pairs, func(a, b [2]string) int { return len(b[0]) - len(a[0]) })
}
