package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lakestream/lakestream/source"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestReleaseStaticMemberUsesSecurity: under group_protocol consumer, the
// release of the previous process's static membership (before the
// dead-letter producer is made) connects with the reader's SASL settings:
// on a cluster that requires SASL it was refused, as it connected without.
func TestReleaseStaticMemberUsesSecurity(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"),
		kfake.EnableSASL(), kfake.Superuser(source.SASLPlain, "bob", testPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(testPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(writeConfig(t, fmt.Sprintf("kafka:\n  topic: orders\n  brokers: [%s]\n  group_protocol: consumer\n  sasl:\n    mechanism: PLAIN\n    username: bob\n    password_file: %s\ntable:\n  url: file://%s\nformat:\n  schema:\n    - {name: id, type: int64, optional: false}\ncheckpoint:\n  writer_id: replica-a\n",
		cluster.ListenAddrs()[0], pw, t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish() // as run does after the flags and environment
	security, err := cfg.kafkaSecurity(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	release := releaseStaticMember(cfg, security, slog.New(slog.DiscardHandler))
	if release == nil {
		t.Fatal("no release under group_protocol consumer with static membership")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := release(ctx); err != nil {
		t.Fatalf("release with SASL configured: %v", err)
	}
}
