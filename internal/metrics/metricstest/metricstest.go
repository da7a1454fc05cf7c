// Package metricstest reads the Prometheus text format that
// metrics.Provider serves, for tests.
package metricstest

import (
	"fmt"
	"io"
	"maps"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are parsed metric families by name.
type Families map[string]*dto.MetricFamily

// Parse reads the Prometheus text format.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	f, err := p.TextToMetricFamilies(r)
	return Families(f), err
}

// Value returns the value of the one series of name whose labels include
// labels (a gauge, counter or untyped value). It is an error if none or
// several match.
func (f Families) Value(name string, labels map[string]string) (float64, error) {
	mf, ok := f[name]
	if !ok {
		return 0, fmt.Errorf("%s: no such metric; have %v", name, slices.Sorted(maps.Keys(f)))
	}
	var (
		found []float64
		seen  []string
	)
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		seen = append(seen, fmt.Sprint(have))
		match := true
		for k, v := range labels {
			if have[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			found = append(found, m.GetGauge().GetValue())
		case m.Counter != nil:
			found = append(found, m.GetCounter().GetValue())
		case m.Untyped != nil:
			found = append(found, m.GetUntyped().GetValue())
		default:
			return 0, fmt.Errorf("%s%v: not a gauge, counter or untyped value", name, labels)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("%s%v: %d series match; series %v", name, labels, len(found), seen)
	}
	return found[0], nil
}

// Type returns the metric type of name ("GAUGE", "COUNTER", ...), or "" if
// there is no such metric.
func (f Families) Type(name string) string {
	if mf, ok := f[name]; ok {
		return mf.GetType().String()
	}
	return ""
}
