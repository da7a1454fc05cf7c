package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kustomizations are the directories `kustomize build` must accept: the
// whole deployment and each topic on its own.
var kustomizations = []string{"kubernetes", "kubernetes/topics/pageviews", "kubernetes/topics/clicks"}

// newObject returns the typed object of a manifest's apiVersion and kind.
// A kind not listed here is an error: add it (and its checks) first.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "batch/v1 CronJob":
		return &batchv1.CronJob{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	}
	return nil, fmt.Errorf("unexpected kind %q of %q", kind, apiVersion)
}

// decodeStrict decodes one manifest into its Kubernetes API type, refusing
// unknown and duplicate fields.
func decodeStrict(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	obj, err := newObject(tm.APIVersion, tm.Kind)
	if err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

// splitYAML splits a stream of YAML documents.
func splitYAML(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

// objects is the output of one kustomize build, decoded.
type objects struct {
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	secrets      []*corev1.Secret
	pdbs         []*policyv1.PodDisruptionBudget
	cronJobs     []*batchv1.CronJob
	all          []metav1.Object
}

// build runs kustomize (the kustomize API module, as `kustomize build
// deploy/<dir>` does) and decodes every object strictly.
func build(t *testing.T, dir string) objects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var o objects
	for _, doc := range splitYAML(out) {
		obj, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("kustomize build %s: %v\n%s", dir, err, doc)
		}
		switch v := obj.(type) {
		case *appsv1.StatefulSet:
			o.statefulSets = append(o.statefulSets, v)
		case *corev1.Service:
			o.services = append(o.services, v)
		case *corev1.ConfigMap:
			o.configMaps = append(o.configMaps, v)
		case *corev1.Secret:
			o.secrets = append(o.secrets, v)
		case *policyv1.PodDisruptionBudget:
			o.pdbs = append(o.pdbs, v)
		case *batchv1.CronJob:
			o.cronJobs = append(o.cronJobs, v)
		default:
			t.Fatalf("kustomize build %s: %T has no checks", dir, obj)
		}
		o.all = append(o.all, obj.(metav1.Object))
	}
	return o
}

func (o objects) configMap(name string) *corev1.ConfigMap {
	for _, c := range o.configMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (o objects) secret(name string) *corev1.Secret {
	for _, s := range o.secrets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// TestManifestFilesDecodeStrictly decodes every Kubernetes manifest under
// deploy/kubernetes (resources and patches) into its API type: a misspelt
// or misplaced field is an error, not silently dropped.
func TestManifestFilesDecodeStrictly(t *testing.T) {
	n := 0
	err := filepath.WalkDir("kubernetes", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		switch filepath.Base(path) {
		case "kustomization.yaml": // Kustomize's own
			return nil
		case "table.yaml": // ingestd's configuration: TestConfigMapPassesIngestdValidation
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, doc := range splitYAML(b) {
			if _, err := decodeStrict(doc); err != nil {
				t.Errorf("%s: %v", path, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Errorf("decoded %d manifests; want the base's 4 and the topics' patches", n)
	}
}

// TestDecodeStrictRefusesUnknownFields: the strict decoding does fail on a
// field the API does not have.
func TestDecodeStrictRefusesUnknownFields(t *testing.T) {
	doc := []byte("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec:\n  replica: 3\n")
	if _, err := decodeStrict(doc); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("decodeStrict of an unknown field: %v", err)
	}
	doc = []byte("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec:\n  concurrencyPolicy: Forbid\n  concurrencyPolicy: Allow\n")
	if _, err := decodeStrict(doc); err == nil {
		t.Error("decodeStrict of a duplicate field: no error")
	}
}

// TestKustomizeBuild builds every kustomization: every object decodes
// strictly, names are unique, each topic has its StatefulSet, Service,
// PodDisruptionBudget, ConfigMap, Secret and compactor CronJob, and every
// reference between them resolves.
func TestKustomizeBuild(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			o := build(t, dir)
			seen := map[string]bool{}
			for _, obj := range o.all {
				key := fmt.Sprintf("%T/%s", obj, obj.GetName())
				if seen[key] {
					t.Errorf("%s twice", key)
				}
				seen[key] = true
			}
			if len(o.statefulSets) == 0 || len(o.statefulSets) != len(o.services) || len(o.statefulSets) != len(o.pdbs) ||
				len(o.statefulSets) != len(o.cronJobs) || len(o.statefulSets) != len(o.configMaps) || len(o.statefulSets) != len(o.secrets) {
				t.Fatalf("%d StatefulSets, %d Services, %d PodDisruptionBudgets, %d CronJobs, %d ConfigMaps, %d Secrets: want one of each per topic",
					len(o.statefulSets), len(o.services), len(o.pdbs), len(o.cronJobs), len(o.configMaps), len(o.secrets))
			}
			for _, s := range o.statefulSets {
				checkStatefulSet(t, o, s)
			}
			for _, c := range o.cronJobs {
				checkCronJob(t, o, c)
			}
		})
	}
}

func env(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

// checkStatefulSet checks one topic's ingestd: writer IDs, state volume,
// admin endpoint and probes, shutdown, config and credentials, its Service
// and PodDisruptionBudget, security.
func checkStatefulSet(t *testing.T, o objects, s *appsv1.StatefulSet) {
	t.Helper()
	name := s.Name
	pod := s.Spec.Template
	podLabels := labels.Set(pod.Labels)
	sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("%s: selector %v does not match its pods' labels %v (%v)", name, s.Spec.Selector, pod.Labels, err)
	}
	if pod.Labels["lakestream.io/topic"] == "" {
		t.Errorf("%s: pods without the lakestream.io/topic label", name)
	}
	// Another topic's pods must not match this selector, nor this
	// topic's PodDisruptionBudget or Service.
	for _, other := range o.statefulSets {
		if other != s && sel.Matches(labels.Set(other.Spec.Template.Labels)) {
			t.Errorf("%s: selector matches the pods of %s", name, other.Name)
		}
	}
	// The replicas of a topic spread over the nodes (the API refuses a
	// key both in matchLabelKeys and the selector).
	for _, tsc := range pod.Spec.TopologySpreadConstraints {
		tsel, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil || !tsel.Matches(podLabels) || tsc.LabelSelector.MatchLabels["lakestream.io/topic"] == "" {
			t.Errorf("%s: topology spread selector %v: want this topic's pods (%v)", name, tsc.LabelSelector, err)
		}
		for _, k := range tsc.MatchLabelKeys {
			if _, ok := tsc.LabelSelector.MatchLabels[k]; ok {
				t.Errorf("%s: topology spread: %s both in matchLabelKeys and the selector", name, k)
			}
		}
	}
	c := container(t, pod.Spec, "ingestd")

	// Writer ID: the pod name, through the downward API.
	if e := env(c, "LAKESTREAM_WRITER_ID"); e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("%s: LAKESTREAM_WRITER_ID is not the pod name (fieldRef metadata.name): %+v", name, e)
	}
	// State dir: on the replica's own volume (a volumeClaimTemplate).
	stateDir := env(c, "LAKESTREAM_STATE_DIR")
	if stateDir == nil || stateDir.Value == "" {
		t.Errorf("%s: no LAKESTREAM_STATE_DIR", name)
	} else {
		var onClaim bool
		for _, m := range c.VolumeMounts {
			if strings.HasPrefix(stateDir.Value+"/", strings.TrimSuffix(m.MountPath, "/")+"/") {
				for _, vct := range s.Spec.VolumeClaimTemplates {
					onClaim = onClaim || vct.Name == m.Name
				}
			}
		}
		if !onClaim {
			t.Errorf("%s: LAKESTREAM_STATE_DIR %s is not on a volumeClaimTemplate's volume", name, stateDir.Value)
		}
	}
	// The admin endpoint listens on the port the probes use, beyond the
	// loopback interface.
	var adminPort int32
	for _, p := range c.Ports {
		if p.Name == "admin" {
			adminPort = p.ContainerPort
		}
	}
	addr := env(c, "LAKESTREAM_ADMIN_ADDR")
	if adminPort == 0 || addr == nil || addr.Value != fmt.Sprintf("0.0.0.0:%d", adminPort) {
		t.Errorf("%s: LAKESTREAM_ADMIN_ADDR %+v, container port admin %d: want 0.0.0.0:<admin port>", name, addr, adminPort)
	}
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"startupProbe", c.StartupProbe, "/healthz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "admin" {
			t.Errorf("%s: %s is not GET %s on the admin port: %+v", name, p.what, p.path, p.probe)
		}
	}
	// The startup probe waits out ingestd's set-up (2 min) and the journal's
	// open (30 s).
	if sp := c.StartupProbe; sp != nil && sp.PeriodSeconds*sp.FailureThreshold < 150 {
		t.Errorf("%s: the startup probe gives up after %d s: ingestd's set-up may take 150 s", name, sp.PeriodSeconds*sp.FailureThreshold)
	}
	// Shutdown: ingestd's bound (25 s) + the admin endpoint's (5 s) + the
	// last OTLP push's (10 s).
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 25+5+10 {
		t.Errorf("%s: terminationGracePeriodSeconds %v: want more than 40 s (ingestd's shutdown bound 25 s, admin 5 s, OTLP push 10 s)", name, g)
	}
	// Config: the ConfigMap mounted, and ingestd pointed at its table.yaml.
	configPath := ""
	for i, a := range c.Args {
		if a == "--config" && i+1 < len(c.Args) {
			configPath = c.Args[i+1]
		}
	}
	if cm := mountedConfigMap(t, o, pod.Spec, c, configPath); cm != nil {
		if _, ok := cm.Data["table.yaml"]; !ok {
			t.Errorf("%s: ConfigMap %s has no table.yaml", name, cm.Name)
		}
	}
	checkSecretRef(t, o, name, c)
	// The Service governs the StatefulSet and selects its pods, unready
	// ones too (their metrics matter most).
	var svc *corev1.Service
	for _, v := range o.services {
		if v.Name == s.Spec.ServiceName {
			svc = v
		}
	}
	if svc == nil {
		t.Errorf("%s: no Service %s", name, s.Spec.ServiceName)
	} else {
		if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
			t.Errorf("%s: Service %s: want headless, publishing unready pods, selecting the pods: %+v", name, svc.Name, svc.Spec)
		}
		for _, other := range o.statefulSets {
			if other != s && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(other.Spec.Template.Labels)) {
				t.Errorf("%s: Service %s selects the pods of %s", name, svc.Name, other.Name)
			}
		}
	}
	// Exactly one PodDisruptionBudget covers the pods, and none of another
	// topic's.
	var pdbs int
	for _, p := range o.pdbs {
		psel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if psel.Matches(podLabels) {
			pdbs++
			if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 {
				t.Errorf("%s: PodDisruptionBudget %s: maxUnavailable %v, want 1", name, p.Name, p.Spec.MaxUnavailable)
			}
		}
	}
	if pdbs != 1 {
		t.Errorf("%s: %d PodDisruptionBudgets select its pods, want 1", name, pdbs)
	}
	checkSecurity(t, name, pod.Spec, c)
	checkSizing(t, o, s, c)
}

// mountedConfigMap returns the ConfigMap whose volume holds path.
func mountedConfigMap(t *testing.T, o objects, spec corev1.PodSpec, c corev1.Container, path string) *corev1.ConfigMap {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if filepath.Dir(path) != m.MountPath {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cm := o.configMap(v.ConfigMap.Name)
				if cm == nil {
					t.Errorf("%s: volume %s: no ConfigMap %s in the build", c.Name, v.Name, v.ConfigMap.Name)
				}
				return cm
			}
		}
	}
	t.Errorf("%s: --config %q is not on a ConfigMap volume", c.Name, path)
	return nil
}

func checkSecretRef(t *testing.T, o objects, name string, c corev1.Container) {
	t.Helper()
	var refs int
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			refs++
			if o.secret(ef.SecretRef.Name) == nil {
				t.Errorf("%s: envFrom Secret %s is not in the build", name, ef.SecretRef.Name)
			}
		}
	}
	if refs != 1 {
		t.Errorf("%s: %d Secrets in envFrom, want the credentials", name, refs)
	}
}

// checkSecurity: non-root, no privilege escalation, a read-only root
// filesystem, no capabilities, no service account token.
func checkSecurity(t *testing.T, name string, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc, sc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: the pod may run as root: %+v", name, psc)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: container security context %+v: want no privilege escalation, a read-only root filesystem, every capability dropped", name, sc)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: the service account token is mounted; ingestd does not use the Kubernetes API", name)
	}
	// The root filesystem is read-only: /tmp (the spool) must be a volume.
	var tmp bool
	for _, m := range c.VolumeMounts {
		tmp = tmp || m.MountPath == "/tmp"
	}
	if !tmp {
		t.Errorf("%s: /tmp is not a volume, and the root filesystem is read-only", name)
	}
}

// checkCronJob checks a compactor CronJob, plain or sharded (indexed).
func checkCronJob(t *testing.T, o objects, cj *batchv1.CronJob) {
	t.Helper()
	name := cj.Name
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("%s: concurrencyPolicy %q, want Forbid", name, cj.Spec.ConcurrencyPolicy)
	}
	job := cj.Spec.JobTemplate.Spec
	pod := job.Template.Spec
	c := container(t, pod, "compactor")
	if len(c.Command) != 1 || filepath.Base(c.Command[0]) != "compactor" {
		t.Errorf("%s: command %v, want the compactor binary", name, c.Command)
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q, want Never", name, pod.RestartPolicy)
	}
	if job.ActiveDeadlineSeconds == nil {
		t.Errorf("%s: no activeDeadlineSeconds: a hung run would hold off every later one (Forbid)", name)
	}
	configPath := ""
	var shardArgs []string
	for i, a := range c.Args {
		if a == "--config" && i+1 < len(c.Args) {
			configPath = c.Args[i+1]
		}
		if strings.HasPrefix(a, "--shard") {
			shardArgs = append(shardArgs, a)
		}
	}
	mountedConfigMap(t, o, pod, c, configPath)
	checkSecretRef(t, o, name, c)
	checkSecurity(t, name, pod, c)
	if job.CompletionMode == nil || *job.CompletionMode != batchv1.IndexedCompletion {
		if len(shardArgs) > 0 {
			t.Errorf("%s: %v in a Job that is not indexed", name, shardArgs)
		}
		return
	}
	// Indexed: N pods, pod i compacting shard i/N.
	if job.Completions == nil || job.Parallelism == nil || *job.Completions != *job.Parallelism {
		t.Fatalf("%s: completions %v, parallelism %v: want one pod per shard, all at once", name, job.Completions, job.Parallelism)
	}
	want := fmt.Sprintf("--shard=$(JOB_COMPLETION_INDEX)/%d", *job.Completions)
	if len(shardArgs) != 1 || shardArgs[0] != want {
		t.Errorf("%s: shard arguments %v, want %s", name, shardArgs, want)
	}
	// $(JOB_COMPLETION_INDEX) expands only from a variable of the
	// container's env.
	e := env(c, "JOB_COMPLETION_INDEX")
	if e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
		e.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("%s: JOB_COMPLETION_INDEX is not the completion index: %+v", name, e)
	}
	if job.BackoffLimitPerIndex == nil {
		t.Errorf("%s: no backoffLimitPerIndex: one failing shard would fail the others", name)
	}
}
