package metrics_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// series is one instrument's data points, by encoded attribute set
// ("partition=3,topic=orders").
type series struct {
	kind   string // gauge, counter (monotonic cumulative sum) or other
	points map[string]float64
}

// collect reads every instrument once through the manual reader.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]series {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]series{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			s := series{points: map[string]float64{}}
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				s.kind = "gauge"
				addPoints(s.points, d.DataPoints)
			case metricdata.Gauge[float64]:
				s.kind = "gauge"
				addPoints(s.points, d.DataPoints)
			case metricdata.Sum[int64]:
				s.kind = "other"
				if d.IsMonotonic && d.Temporality == metricdata.CumulativeTemporality {
					s.kind = "counter"
				}
				addPoints(s.points, d.DataPoints)
			case metricdata.Sum[float64]:
				s.kind = "other"
				if d.IsMonotonic && d.Temporality == metricdata.CumulativeTemporality {
					s.kind = "counter"
				}
				addPoints(s.points, d.DataPoints)
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			out[m.Name] = s
		}
	}
	return out
}

func addPoints[N int64 | float64](dst map[string]float64, dps []metricdata.DataPoint[N]) {
	for _, dp := range dps {
		dst[dp.Attributes.Encoded(attribute.DefaultEncoder())] = float64(dp.Value)
	}
}
