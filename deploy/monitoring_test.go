package deploy

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

const (
	rulesFile     = "prometheus/lakestream.rules.yml"
	rulesTestFile = "prometheus/lakestream.rules.test.yml"
	dashboardFile = "grafana/lakestream.json"
)

var promql = parser.NewParser(parser.Options{})

// metricNames are the metric names a PromQL expression selects.
func metricNames(expr string) ([]string, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					name = m.Value
				}
			}
			names = append(names, name)
		}
		return nil
	})
	return names, nil
}

// docMetrics are the Prometheus names of docs/metrics.md's metric list
// (ingestd's), and compactorMetrics the names of docs/operations.md's
// "Compactor metrics" (the compactor's contract).
func docMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	// | `otel.name` | `prometheus_name` | type | ...
	for _, m := range regexp.MustCompile("(?m)^\\| `[a-z0-9_.]+` \\| `(lakestream_[a-z0-9_]+)` \\|").FindAllSubmatch(b, -1) {
		names[string(m[1])] = true
	}
	if len(names) < 20 {
		t.Fatalf("docs/metrics.md: %d metrics found; has its table changed?", len(names))
	}
	return names
}

func compactorMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Compactor metrics\n")
	if !ok {
		t.Fatal("docs/operations.md: no section \"Compactor metrics\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	names := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(lakestream_compactor_[a-z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		names[m[1]] = true
	}
	if len(names) == 0 {
		t.Fatal("docs/operations.md: no metric in \"Compactor metrics\"")
	}
	return names
}

// checkNames: every name is ingestd's (docs/metrics.md), the compactor's
// contract, the Go runtime's or the process's (go_*, process_*: checked
// against a real scrape by cmd/ingestd's TestDeployMetricsExist) or
// Prometheus's own up.
func checkNames(t *testing.T, where string, names []string, ingestd, compactor map[string]bool) {
	t.Helper()
	for _, n := range names {
		// A histogram's series (lakestream_kafka_request_duration_e2e_seconds).
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suffix); ok && ingestd[b] {
				base = b
			}
		}
		switch {
		case ingestd[base], compactor[n], n == "up":
		case strings.HasPrefix(n, "go_"), strings.HasPrefix(n, "process_"):
		default:
			t.Errorf("%s: metric %s is neither ingestd's (docs/metrics.md) nor the compactor's (docs/operations.md, Compactor metrics)", where, n)
		}
	}
}

// anchors are the GitHub anchors of a Markdown file's headings.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(b), -1) {
		a := strings.ToLower(strings.TrimSpace(m[1]))
		a = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(a, "")
		out[strings.ReplaceAll(a, " ", "-")] = true
	}
	return out
}

// promtoolTests is the part of a promtool test file the checks read.
type promtoolTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			Alertname string            `json:"alertname"`
			ExpAlerts []json.RawMessage `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// TestAlertRules parses the rules as Prometheus does, checks every metric
// they use exists, that every alert has a severity, a summary and a runbook
// entry that docs/operations.md has, and that the unit tests make every
// alert fire and stay silent at least once each.
func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil {
		t.FailNow()
	}
	ingestd, compactor := docMetrics(t), compactorMetrics(t)
	runbook := anchors(t, "../docs/operations.md")
	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a recording rule %s: the tests expect alerts only", g.Name, r.Record)
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("alert %s twice", r.Alert)
			}
			alerts[r.Alert] = true
			names, err := metricNames(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
			}
			checkNames(t, r.Alert, names, ingestd, compactor)
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			doc, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#")
			if doc != "docs/operations.md" || !runbook[anchor] {
				t.Errorf("%s: runbook_url %q: want docs/operations.md#<a heading of it>", r.Alert, r.Annotations["runbook_url"])
			}
		}
	}
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var tests promtoolTests
	// Only the fields above are read (promtool checks the rest).
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tests.RuleFiles, []string{filepath.Base(rulesFile)}) {
		t.Errorf("%s tests %v, want %s", rulesTestFile, tests.RuleFiles, filepath.Base(rulesFile))
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if !alerts[a.Alertname] {
				t.Errorf("%s: test %q: no alert %s", rulesTestFile, tc.Name, a.Alertname)
			}
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	for _, a := range slices.Sorted(maps.Keys(alerts)) {
		if !fires[a] || !silent[a] {
			t.Errorf("%s: unit tests make it fire: %v, stay silent: %v; want both", a, fires[a], silent[a])
		}
	}
}

// TestPromtool runs promtool check rules and promtool test rules: promtool
// is $LAKESTREAM_PROMTOOL or ../.tools/promtool (make promtool installs
// it); missing, the test is skipped, unless LAKESTREAM_REQUIRE_PROMTOOL=1
// (make deploy-test) makes it fail.
func TestPromtool(t *testing.T) {
	promtool := os.Getenv("LAKESTREAM_PROMTOOL")
	if promtool == "" {
		promtool = "../.tools/promtool"
	}
	promtool, err := filepath.Abs(promtool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(promtool); err != nil {
		if os.Getenv("LAKESTREAM_REQUIRE_PROMTOOL") == "1" {
			t.Fatalf("promtool: %v (make promtool installs it)", err)
		}
		t.Skipf("promtool: %v (make promtool installs it)", err)
	}
	for _, args := range [][]string{
		{"check", "rules", filepath.Base(rulesFile)},
		{"test", "rules", filepath.Base(rulesTestFile)},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Dir(rulesFile)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int               `json:"id"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Datasource map[string]string `json:"datasource"`
	Panels     []panel           `json:"panels"`
	Targets    []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// grafanaVariables stand in for Grafana's variables when a query is parsed.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$namespace", ".*", "$topic", ".*", "$table", ".*")

// TestDashboard parses every query of the dashboard as PromQL and checks
// that it names metrics that exist, that it uses only the dashboard's
// variables, and that panel IDs and query IDs are unique.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: want both", d.UID, d.Title)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type == "query" {
			q, _ := json.Marshal(v.Query)
			var qq struct{ Query string }
			json.Unmarshal(q, &qq)
			expr := strings.TrimSuffix(strings.TrimPrefix(qq.Query, "label_values("), ")")
			if i := strings.LastIndex(expr, ","); i >= 0 {
				expr = expr[:i]
			}
			if _, err := metricNames(grafanaVariables.Replace(expr)); err != nil {
				t.Errorf("variable %s: %q: %v", v.Name, qq.Query, err)
			}
		}
	}
	if !vars["datasource"] {
		t.Error("no datasource variable")
	}
	ingestd, compactor := docMetrics(t), compactorMetrics(t)
	ids := map[int]bool{}
	queries := 0
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d twice", p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Title == "" || p.Datasource["uid"] != "${datasource}" {
				t.Errorf("panel %d: title %q, datasource %v: want a title and ${datasource}", p.ID, p.Title, p.Datasource)
			}
			refs := map[string]bool{}
			for _, q := range p.Targets {
				queries++
				if refs[q.RefID] || q.RefID == "" {
					t.Errorf("panel %q: refId %q empty or twice", p.Title, q.RefID)
				}
				refs[q.RefID] = true
				for _, v := range regexp.MustCompile(`\$\{?([a-zA-Z_]+)`).FindAllStringSubmatch(q.Expr, -1) {
					if !vars[v[1]] && !strings.HasPrefix(v[1], "__") {
						t.Errorf("panel %q: variable $%s is not defined", p.Title, v[1])
					}
				}
				names, err := metricNames(grafanaVariables.Replace(q.Expr))
				if err != nil {
					t.Errorf("panel %q: %q: %v", p.Title, q.Expr, err)
				}
				checkNames(t, fmt.Sprintf("panel %q", p.Title), names, ingestd, compactor)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no query", p.Title)
			}
		}
	}
	walk(d.Panels)
	if queries < 20 {
		t.Errorf("%d queries: has the dashboard lost panels?", queries)
	}
}
