package deploy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// podEnvironment is the environment ingestd gets in a StatefulSet's first
// pod: the container's env (the downward API's pod name filled in), the
// Secret's keys, and the given overrides. Paths under the container's
// filesystem (the state dir) are moved under root.
func podEnvironment(t *testing.T, o objects, s *appsv1.StatefulSet, c corev1.Container, root string, overrides ...string) []string {
	t.Helper()
	var envs []string
	for _, ef := range c.EnvFrom {
		if ef.SecretRef == nil {
			t.Fatalf("%s: envFrom %+v: only Secrets are expected", s.Name, ef)
		}
		sec := o.secret(ef.SecretRef.Name)
		if sec == nil {
			t.Fatalf("%s: no Secret %s", s.Name, ef.SecretRef.Name)
		}
		for k, v := range sec.Data {
			envs = append(envs, k+"="+string(v))
		}
		for k, v := range sec.StringData {
			envs = append(envs, k+"="+v)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			v := e.Value
			if e.Name == "LAKESTREAM_STATE_DIR" {
				v = filepath.Join(root, v)
			}
			envs = append(envs, e.Name+"="+v)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			envs = append(envs, e.Name+"="+s.Name+"-0")
		default:
			t.Fatalf("%s: env %s: a source the test does not fill in: %+v", s.Name, e.Name, e.ValueFrom)
		}
	}
	return append(envs, overrides...)
}

// runIngestd runs `ingestd config check` with a StatefulSet's arguments
// (`run` replaced by `config check`, its --config pointing at a copy of the
// ConfigMap's table.yaml) and environment: ingestd reads and validates the
// configuration exactly as `run` does, touching nothing: exit 0 if run
// would accept it, 2 if not.
func runIngestd(t *testing.T, o objects, s *appsv1.StatefulSet, extraEnv ...string) (code int, stderr string) {
	t.Helper()
	bin := filepath.Join(binaries(t), "ingestd")
	c := container(t, s.Spec.Template.Spec, "ingestd")
	var cm *corev1.ConfigMap
	for _, v := range s.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cm = o.configMap(v.ConfigMap.Name)
		}
	}
	if cm == nil {
		t.Fatalf("%s: no ConfigMap", s.Name)
	}
	root := t.TempDir()
	config := filepath.Join(root, "table.yaml")
	if err := os.WriteFile(config, []byte(cm.Data["table.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Fatalf("%s: container args %q do not start with run", s.Name, c.Args)
	}
	args := append([]string{"config", "check"}, c.Args[1:]...)
	for i := range args {
		if i > 0 && args[i-1] == "--config" {
			args[i] = config
		}
	}
	env := podEnvironment(t, o, s, c, root, extraEnv...)
	env = append(env,
		"HOME="+root, "TMPDIR="+root, "PATH="+os.Getenv("PATH"),
		// S3: a closed port on the loopback address; static
		// credentials and region, no instance metadata, no shared files.
		"AWS_ENDPOINT_URL_S3=http://127.0.0.1:1", "AWS_ACCESS_KEY_ID=deploy-test", "AWS_SECRET_ACCESS_KEY=deploy-test",
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+filepath.Join(root, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(root, "aws-credentials"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var errb bytes.Buffer
	cmd.Stderr, cmd.Stdout = &errb, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, errb.String()
	case ctx.Err() != nil:
		t.Fatalf("%s: ingestd still running after 2 minutes:\n%s", s.Name, errb.String())
	case errors.As(err, &ee):
		return ee.ExitCode(), errb.String()
	default:
		t.Fatal(err)
	}
	return 0, ""
}

// TestConfigMapPassesIngestdValidation runs the real ingestd's
// `config check` on every topic's table.yaml with the environment its pods
// get (writer ID, state dir, admin address, credentials): the
// configuration is accepted.
func TestConfigMapPassesIngestdValidation(t *testing.T) {
	o := build(t, "kubernetes")
	for _, s := range o.statefulSets {
		t.Run(s.Name, func(t *testing.T) {
			code, stderr := runIngestd(t, o, s)
			if code != 0 || !strings.Contains(stderr, "configuration ok") {
				t.Fatalf("ingestd config check: exit %d, want 0:\n%s", code, stderr)
			}
		})
	}
}

// TestIngestdValidationCatchesBadConfig: the same run with one bad setting
// is refused with exit 2, so the test above can tell the two apart.
func TestIngestdValidationCatchesBadConfig(t *testing.T) {
	o := build(t, "kubernetes/topics/clicks")
	code, stderr := runIngestd(t, o, o.statefulSets[0], "LAKESTREAM_WORKERS=0")
	if code != 2 || !strings.Contains(stderr, "invalid configuration") || !strings.Contains(stderr, "writer.workers") {
		t.Errorf("ingestd config check with writer.workers 0: exit %d, want 2 naming writer.workers:\n%s", code, stderr)
	}
}
