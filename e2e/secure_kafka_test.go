package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/tlstest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSecureKafka runs ingestd against an Apache Kafka broker's SASL_SSL
// listener (a certificate the test issued, client certificates required,
// SCRAM users created at format time), one broker for every case:
//
//   - a wrong password, an untrusted CA, and TLS to the plaintext listener
//     each stop ingestd at start, exit 1, with a clear error, nothing
//     created;
//   - three runs ingest three waves of records over TLS, with
//     SCRAM-SHA-512 (password from a file), SCRAM-SHA-256 and PLAIN
//     (password from a variable): every good record is in the table once
//     (DuckDB), every bad one in the dead-letter topic once, produced over
//     the secure listener (ingestd creates that topic there too);
//   - no password appears in ingestd's log or its /status.
//
// Apache Kafka only (LAKESTREAM_KAFKA=kafka or both); kfake's TLS and SASL
// are covered by the source and cmd/ingestd tests.
func TestSecureKafka(t *testing.T) {
	if !slices.Contains(kafkaKinds(t), harness.KindKafka) {
		t.Skipf("Apache Kafka only: set %s=kafka or both", harness.EnvKafka)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()

	// Certificates and secrets, made here.
	ca, err := tlstest.NewCA("lakestream e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tlstest.NewCA("an unrelated CA")
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Client("ingestd")
	if err != nil {
		t.Fatal(err)
	}
	caFile, otherCAFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other-ca.pem")
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	alicePassword, bobPassword, wrongPassword := "alice-"+randomHex(t), "bob-"+randomHex(t), "wrong-"+randomHex(t)
	aliceFile, wrongFile := filepath.Join(dir, "alice.password"), filepath.Join(dir, "wrong.password")
	for path, data := range map[string][]byte{caFile: ca.CertPEM, otherCAFile: other.CertPEM, certFile: client.CertPEM, keyFile: client.KeyPEM,
		aliceFile: []byte(alicePassword + "\n"), wrongFile: []byte(wrongPassword)} {
		if err := tlstest.WriteFile(path, data); err != nil {
			t.Fatal(err)
		}
	}
	secrets := []string{alicePassword, bobPassword, wrongPassword}

	apache, err := harness.StartApacheKafka(harness.ApacheKafkaOptions{Nodes: 1, DataDir: filepath.Join(dir, "kafka"),
		Secure: &harness.SecureListener{CA: ca, Users: map[string]string{"alice": alicePassword, "bob": bobPassword}, RequireClientCert: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer apache.Close()
	k := &harness.Kafka{Kind: harness.KindKafka, Apache: apache, Brokers: apache.Addrs()}
	t.Logf("Apache Kafka with a SASL_SSL listener started in %v (format %v)", apache.StartTime.Round(time.Millisecond), apache.FormatTime.Round(time.Millisecond))
	defer func() {
		if t.Failed() {
			t.Logf("kafka logs:\n%s", apache.LogTails(6000))
		}
	}()
	if err := k.CreateTopics(ctx, partitions, topic); err != nil { // the DLQ: ingestd creates it, over SASL_SSL
		t.Fatal(err)
	}

	// Three waves of good records, the bad ones in the last.
	now := time.Now().UTC()
	const m = 3000
	events := harness.Pageviews(11, m, now, 3*time.Hour)
	values := make([][]byte, m)
	for i, e := range events {
		values[i] = e.JSON()
	}
	bad, reasons := harness.Malformed(maxRecord, now)
	recs := harness.Records(topic, partitions, append(append([][]byte{}, values...), bad...))
	type pos struct {
		p int32
		o int64
	}
	wantEvent, wantReason, next := map[pos]harness.Pageview{}, map[pos]string{}, map[int32]int64{}
	for i, r := range recs {
		p := pos{r.Partition, next[r.Partition]}
		next[r.Partition]++
		if i < m {
			wantEvent[p] = events[i]
		} else {
			wantReason[p] = reasons[i-m]
		}
	}
	first, rest := interleave(recs, m/3)
	waves := [][]*kgo.Record{first, rest[:m/3], rest[m/3:]}

	root := filepath.Join(dir, "warehouse", topic)
	table, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Close()
	stateDir := filepath.Join(dir, "state")
	adminAddr := freeAddr(t)
	logPath := filepath.Join(dir, "ingestd.log")
	defer func() {
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("ingestd log:\n%s", tail(string(log), 8000))
		}
	}()
	config := func(name string, brokers []string, tlsYAML, saslYAML string) string {
		path := filepath.Join(dir, name+".yaml")
		writeFile(t, path, fmt.Sprintf(`kafka:
  brokers: [%s]
  topic: %s
%s%stable:
  url: file://%s
format:
  max_record_bytes: %d
%swriter:
  workers: 2
checkpoint:
  interval: 1s
  writer_id: e2e-secure
  state_dir: %s
admin:
  addr: %s
`, strings.Join(brokers, ", "), topic, tlsYAML, saslYAML, root, maxRecord, harness.PageviewSchemaYAML, stateDir, adminAddr))
		return path
	}
	tlsWith := func(ca string) string {
		return fmt.Sprintf("  tls:\n    enabled: true\n    ca_file: %s\n    cert_file: %s\n    key_file: %s\n", ca, certFile, keyFile)
	}
	scram512 := func(passwordFile string) string {
		return "  sasl:\n    mechanism: SCRAM-SHA-512\n    username: alice\n    password_file: " + passwordFile + "\n"
	}
	secure := apache.SecureAddrs()

	// Refusals at start: exit 1 with the reason, nothing created.
	for _, c := range []struct {
		name, config, want string
	}{
		{"wrong-password", config("wrong-password", secure, tlsWith(caFile), scram512(wrongFile)),
			"SASL authentication failed (mechanism SCRAM-SHA-512, user alice)"},
		{"untrusted-ca", config("untrusted-ca", secure, tlsWith(otherCAFile), scram512(aliceFile)),
			"TLS: the broker's certificate is not trusted by the CA file " + otherCAFile},
		{"tls-to-plaintext", config("tls-to-plaintext", apache.Addrs(), tlsWith(caFile), scram512(aliceFile)),
			"TLS or SASL is most likely on at one end and off at the other"},
	} {
		begin := time.Now()
		proc, err := harness.StartIngestd(ingestdBin, c.config, logPath)
		if err != nil {
			t.Fatal(err)
		}
		err = proc.Wait(time.Minute)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("%s: ingestd ended with %v, want exit status 1", c.name, err)
		}
		log, _ := os.ReadFile(logPath)
		if !strings.Contains(lastLines(string(log), 3), c.want) {
			t.Fatalf("%s: the log's last lines do not say %q:\n%s", c.name, c.want, lastLines(string(log), 3))
		}
		t.Logf("%s: exit 1 after %v: %s", c.name, time.Since(begin).Round(time.Millisecond), lastLines(string(log), 1))
		if entries, _ := os.ReadDir(root); len(entries) > 0 {
			t.Fatalf("%s: the table was touched: %d entries", c.name, len(entries))
		}
	}

	// Three runs over SASL_SSL, one mechanism each.
	t.Setenv("E2E_BOB_PASSWORD", bobPassword)
	runs := []struct{ name, sasl string }{
		{"scram-sha-512", scram512(aliceFile)},
		{"scram-sha-256", "  sasl:\n    mechanism: SCRAM-SHA-256\n    username: alice\n    password_file: " + aliceFile + "\n"},
		{"plain", "  sasl:\n    mechanism: PLAIN\n    username: bob\n    password_env: E2E_BOB_PASSWORD\n"},
	}
	for i, r := range runs {
		if err := k.Produce(ctx, waves[i]); err != nil {
			t.Fatal(err)
		}
		proc, err := harness.StartIngestd(ingestdBin, config(r.name, secure, tlsWith(caFile), r.sasl), logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer proc.Kill()
		waitCommitted(ctx, t, k, table, proc)
		status := getStatus(t, adminAddr)
		for _, s := range secrets {
			if strings.Contains(status, s) {
				t.Fatalf("%s: /status holds a password:\n%s", r.name, status)
			}
		}
		if err := proc.Stop(time.Minute); err != nil {
			t.Fatalf("%s: stop ingestd: %v", r.name, err)
		}
		t.Logf("run %d (%s): wave of %d records committed", i+1, r.name, len(waves[i]))
	}

	// Every good record once in the table.
	db, _, err := harness.DuckDB(ctx, table, filepath.Join(dir, "download"), "pageviews")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT _kafka_partition, _kafka_offset, url FROM pageviews`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[pos]bool{}
	for rows.Next() {
		var p pos
		var url string
		if err := rows.Scan(&p.p, &p.o, &url); err != nil {
			t.Fatal(err)
		}
		want, ok := wantEvent[p]
		if seen[p] || !ok || url != want.URL {
			t.Fatalf("row %v (url %q): seen before %t, produced as good %t (url %q)", p, url, seen[p], ok, want.URL)
		}
		seen[p] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != m {
		t.Fatalf("%d rows in the table, want exactly %d", len(seen), m)
	}
	// Every bad record once in the dead-letter topic (read back over the
	// plaintext listener).
	dead, err := k.Consume(ctx, topic+".dlq")
	if err != nil {
		t.Fatal(err)
	}
	gotReason := map[pos]string{}
	for _, r := range dead {
		h := headers(r)
		var p pos
		fmt.Sscan(h["lakestream.source.partition"], &p.p)
		fmt.Sscan(h["lakestream.source.offset"], &p.o)
		if _, dup := gotReason[p]; dup {
			t.Fatalf("record %v dead-lettered twice", p)
		}
		gotReason[p] = h["lakestream.reason"]
	}
	if fmt.Sprint(sortedReasons(gotReason)) != fmt.Sprint(sortedReasons(wantReason)) {
		t.Fatalf("dead letters:\n got %v\nwant %v", sortedReasons(gotReason), sortedReasons(wantReason))
	}

	// No password anywhere in the log; the settings are there, redacted.
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(log), s) {
			t.Fatalf("the ingestd log holds a password")
		}
	}
	if !strings.Contains(string(log), `Password:\"REDACTED\"`) || !strings.Contains(string(log), `Mechanism:\"SCRAM-SHA-256\"`) {
		t.Fatalf("the log does not show the security settings, redacted")
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func getStatus(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatalf("admin endpoint: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
