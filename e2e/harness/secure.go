package harness

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lakestream/lakestream/internal/tlstest"
)

// SecureListener is an extra SASL_SSL listener on every node of an
// ApacheKafka (ApacheKafkaOptions.Secure): TLS with a certificate for
// 127.0.0.1 and localhost issued by CA (PEM key and trust stores, no
// keytool), SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for every user of
// Users (the SCRAM credentials are written at format time). The PLAINTEXT
// listener stays: the brokers talk to each other on it, and the harness's
// own clients (Produce, Consume, CreateTopics) use it.
type SecureListener struct {
	// CA issues the brokers' certificates and, with RequireClientCert,
	// is the only issuer of client certificates they accept.
	CA *tlstest.CA
	// Users are the SASL users and their passwords (letters, digits, -
	// and _ only: they go on the format command line and into a JAAS
	// configuration), for every mechanism.
	Users map[string]string
	// RequireClientCert makes the listener require a client certificate
	// issued by CA (ssl.client.auth=required).
	RequireClientCert bool
}

// secureListenerName is the listener's name (and security protocol).
const secureListenerName = "SASL_SSL"

func (s *SecureListener) validate() error {
	if s.CA == nil || len(s.Users) == 0 {
		return fmt.Errorf("secure listener: want a CA and at least one user")
	}
	for name, pw := range s.Users {
		for _, v := range []string{name, pw} {
			if v == "" || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
				return fmt.Errorf("secure listener: user %q: names and passwords of letters, digits, - and _ only", name)
			}
		}
	}
	return nil
}

// apply adds the secure listener to node n's properties (written in dir):
// the listener itself in listeners, advertised.listeners and the protocol
// map, and its TLS and SASL settings.
func (s *SecureListener) apply(props []string, n *kafkaNode, dir string) ([]string, error) {
	pair, err := s.CA.Server("127.0.0.1", "localhost")
	if err != nil {
		return nil, err
	}
	trust := filepath.Join(dir, fmt.Sprintf("truststore-%d.pem", n.id))
	if err := os.WriteFile(trust, s.CA.CertPEM, 0o644); err != nil {
		return nil, err
	}
	for i, p := range props {
		switch {
		case strings.HasPrefix(p, "listeners="), strings.HasPrefix(p, "advertised.listeners="):
			props[i] = p + "," + secureListenerName + "://" + n.secureAddr
		case strings.HasPrefix(p, "listener.security.protocol.map="):
			props[i] = p + "," + secureListenerName + ":" + secureListenerName
		}
	}
	prefix := "listener.name." + strings.ToLower(secureListenerName) + "."
	var plainUsers strings.Builder
	for _, name := range slices.Sorted(maps.Keys(s.Users)) {
		fmt.Fprintf(&plainUsers, " user_%s=%q", name, s.Users[name])
	}
	clientAuth := "none"
	if s.RequireClientCert {
		clientAuth = "required"
	}
	return append(props,
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		prefix+"plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required"+plainUsers.String()+";",
		prefix+"scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
		prefix+"scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
		// PEM stores: the broker's key (unencrypted PKCS #8) and
		// certificate inline, on one line each; the CA from a file.
		prefix+"ssl.keystore.type=PEM",
		prefix+"ssl.keystore.key="+pemLine(pair.KeyPEM),
		prefix+"ssl.keystore.certificate.chain="+pemLine(pair.CertPEM),
		prefix+"ssl.truststore.type=PEM",
		prefix+"ssl.truststore.location="+trust,
		prefix+"ssl.client.auth="+clientAuth,
	), nil
}

// formatArgs are the StorageTool arguments that create the SCRAM users.
func (s *SecureListener) formatArgs() []string {
	var args []string
	for _, name := range slices.Sorted(maps.Keys(s.Users)) {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", mech, name, s.Users[name]))
		}
	}
	return args
}

// pemLine writes PEM blocks on one line (a properties value), as Kafka's
// PEM parser reads them: the base64 body without line breaks.
func pemLine(data []byte) string {
	var parts []string
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		body := fmt.Sprintf("-----BEGIN %s----- %s -----END %s-----", b.Type, base64.StdEncoding.EncodeToString(b.Bytes), b.Type)
		parts = append(parts, body)
	}
	return strings.Join(parts, " ")
}

// SecureAddrs are the nodes' SASL_SSL listener addresses, by node ID, or nil
// without ApacheKafkaOptions.Secure.
func (c *ApacheKafka) SecureAddrs() []string {
	var out []string
	for _, n := range c.nodes {
		if n.secureAddr != "" {
			out = append(out, n.secureAddr)
		}
	}
	return out
}
