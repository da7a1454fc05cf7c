package deploy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// The sizing formula of docs/operations.md ("Sizing"). Its constants:
const (
	mib = 1 << 20
	// fetchPerBroker: franz-go's fetch response bound, one in flight per
	// broker (source.DefaultFetchMaxBytes).
	fetchPerBroker = 50 * mib
	// commitPerFile: memory a checkpoint holds per file it commits
	// (docs/benchmarks.md, "One checkpoint of 100,000 buckets": about
	// 1.3 KB per file).
	commitPerFile = 1331
	// runtimeBase: the Go runtime, the Kafka client and dead-letter
	// producer, the journal (8 MiB of pebble caches), the metrics.
	runtimeBase = 64 * mib
	// headroom over the live estimate, and GOMEMLIMIT's share of the
	// limit.
	headroom      = 1.25
	goMemLimitPct = 0.90
)

// ingestd's defaults of the settings the formula reads (cmd/ingestd,
// defaultConfig).
const (
	defaultWorkers         = 2
	defaultMemoryBudget    = 256 * mib
	defaultPartitionBuffer = 4 * mib
	defaultLateBuffer      = 32 * mib
	defaultMaxOpenFiles    = 16
	defaultTargetFileSize  = 128 * mib
)

// sizingConfig is what the formula reads of table.yaml.
type sizingConfig struct {
	Kafka struct {
		PartitionBuffer *string `json:"partition_buffer"`
	} `json:"kafka"`
	Writer struct {
		Workers        *int    `json:"workers"`
		MemoryBudget   *string `json:"memory_budget"`
		MaxOpenFiles   *int    `json:"max_open_files"`
		TargetFileSize *string `json:"target_file_size"`
	} `json:"writer"`
	Checkpoint struct {
		Lateness struct {
			Buffer *string `json:"buffer"`
		} `json:"lateness"`
	} `json:"checkpoint"`
}

// parseSize reads a size as ingestd does: 128MiB, 1GB, bytes.
func parseSize(s string) (int64, error) {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			return v * u.mult, err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

func sizeOr(t *testing.T, s *string, def int64) int64 {
	t.Helper()
	if s == nil {
		return def
	}
	v, err := parseSize(*s)
	if err != nil {
		t.Fatalf("size %q: %v", *s, err)
	}
	return v
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// sizing is the formula's result for one replica.
type sizing struct {
	live, limit, goMemLimit int64 // bytes
	cpu                     int
	spool                   int64
}

// computeSizing applies the formula to a table.yaml and the inputs that
// are not in it: the partitions one replica may own, the brokers it
// fetches from, and the files of the largest checkpoint.
func computeSizing(t *testing.T, tableYAML string, partitions, brokers, files int64) sizing {
	t.Helper()
	var c sizingConfig
	if err := yaml.Unmarshal([]byte(tableYAML), &c); err != nil {
		t.Fatal(err)
	}
	workers := int64(intOr(c.Writer.Workers, defaultWorkers))
	live := sizeOr(t, c.Writer.MemoryBudget, defaultMemoryBudget) +
		partitions*sizeOr(t, c.Kafka.PartitionBuffer, defaultPartitionBuffer) +
		sizeOr(t, c.Checkpoint.Lateness.Buffer, defaultLateBuffer) +
		brokers*fetchPerBroker + files*commitPerFile + runtimeBase
	limit := int64(math.Ceil(headroom*float64(live)/(64*mib))) * 64 * mib
	return sizing{
		live:       live,
		limit:      limit,
		goMemLimit: int64(math.Floor(goMemLimitPct*float64(limit)/mib)) * mib,
		cpu:        int(workers),
		spool:      2 * workers * int64(intOr(c.Writer.MaxOpenFiles, defaultMaxOpenFiles)) * sizeOr(t, c.Writer.TargetFileSize, defaultTargetFileSize),
	}
}

// TestSizingFormula pins the formula to the example of docs/operations.md.
func TestSizingFormula(t *testing.T) {
	s := computeSizing(t, "writer: {memory_budget: 256MiB}\n", 12, 3, 10000)
	if s.limit != 704*mib || s.goMemLimit != 633*mib || s.cpu != 2 || s.spool != 8<<30 {
		t.Errorf("sizing of the docs' example: limit %d MiB, GOMEMLIMIT %d MiB, cpu %d, spool %d GiB; want 704, 633, 2, 8",
			s.limit/mib, s.goMemLimit/mib, s.cpu, s.spool>>30)
	}
}

// checkSizing: the replica's resources follow the formula from its
// table.yaml and its lakestream.io/sizing-* annotations: the memory limit
// at least the formula's, requested in full (no overcommit of a
// process that holds data until its checkpoint), GOMEMLIMIT 90% of the
// limit, a CPU per worker, a spool volume that holds the open files.
func checkSizing(t *testing.T, o objects, s *appsv1.StatefulSet, c corev1.Container) {
	t.Helper()
	name := s.Name
	ann := func(key string) int64 {
		v, err := strconv.ParseInt(s.Annotations["lakestream.io/sizing-"+key], 10, 64)
		if err != nil || v <= 0 {
			t.Errorf("%s: annotation lakestream.io/sizing-%s: %q (%v)", name, key, s.Annotations["lakestream.io/sizing-"+key], err)
		}
		return v
	}
	var cm *corev1.ConfigMap
	for _, v := range s.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cm = o.configMap(v.ConfigMap.Name)
		}
	}
	if cm == nil {
		t.Errorf("%s: no ConfigMap", name)
		return
	}
	want := computeSizing(t, cm.Data["table.yaml"], ann("partitions"), ann("brokers"), ann("files-per-checkpoint"))
	limit, request := c.Resources.Limits[corev1.ResourceMemory], c.Resources.Requests[corev1.ResourceMemory]
	if limit.Value() < want.limit {
		t.Errorf("%s: memory limit %s, below the formula's %d MiB (live %.1f MiB)", name, limit.String(), want.limit/mib, float64(want.live)/mib)
	}
	if request.Cmp(limit) != 0 {
		t.Errorf("%s: memory request %s, limit %s: want them equal", name, request.String(), limit.String())
	}
	gml := env(c, "GOMEMLIMIT")
	wantGML := fmt.Sprintf("%dMiB", int64(math.Floor(goMemLimitPct*float64(limit.Value())/mib)))
	if gml == nil || gml.Value != wantGML {
		t.Errorf("%s: GOMEMLIMIT %+v, want %s (90%% of the limit %s)", name, gml, wantGML, limit.String())
	}
	cpu := c.Resources.Requests[corev1.ResourceCPU]
	if cpu.Cmp(*resource.NewQuantity(int64(want.cpu), resource.DecimalSI)) != 0 {
		t.Errorf("%s: cpu request %s, want writer.workers = %d", name, cpu.String(), want.cpu)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		t.Errorf("%s: a CPU limit throttles checkpoints; set none", name)
	}
	for _, v := range s.Spec.Template.Spec.Volumes {
		if v.Name != "spool" {
			continue
		}
		if v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.Value() < want.spool {
			t.Errorf("%s: spool volume %+v: want an emptyDir of at least %d GiB", name, v.VolumeSource, want.spool>>30)
		} else if es := c.Resources.Requests[corev1.ResourceEphemeralStorage]; es.Cmp(*v.EmptyDir.SizeLimit) < 0 {
			t.Errorf("%s: ephemeral-storage request %s below the spool's size limit %s", name, es.String(), v.EmptyDir.SizeLimit.String())
		}
		return
	}
	t.Errorf("%s: no spool volume", name)
}
