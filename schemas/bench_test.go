package schemas_test

import (
	"testing"
	"time"

	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/schemas/registrytest"
)

// The pageview record of the benchmarks: ~300 bytes of JSON.
const pageviewJSON = `{"userId":12345,"sessionNumber":3,"pageNumber":7,"url":"https://example.com/products/12345?ref=home","referrer":"https://google.com/search?q=shoes","eventTime":"2026-11-21T07:15:42.123Z","userAgent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0","country":"FR","durationMs":5321,"isBounce":false}`

const pageviewAvroSchema = `{"type":"record","name":"Pageview","namespace":"com.example","fields":[
 {"name":"userId","type":"long"},
 {"name":"sessionNumber","type":"int"},
 {"name":"pageNumber","type":"int"},
 {"name":"url","type":"string"},
 {"name":"referrer","type":["null","string"],"default":null},
 {"name":"eventTime","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"userAgent","type":["null","string"],"default":null},
 {"name":"country","type":["null","string"],"default":null},
 {"name":"durationMs","type":"long"},
 {"name":"isBounce","type":"boolean"}]}`

func pageviewTable(tb testing.TB) *schemas.TableSchema {
	tb.Helper()
	no := false
	user, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{
		{Name: "userId", Type: "int64", Optional: &no},
		{Name: "sessionNumber", Type: "int32"},
		{Name: "pageNumber", Type: "int32"},
		{Name: "url", Type: "string"},
		{Name: "referrer", Type: "string"},
		{Name: "eventTime", Type: "timestamp", Optional: &no},
		{Name: "userAgent", Type: "string"},
		{Name: "country", Type: "string"},
		{Name: "durationMs", Type: "int64"},
		{Name: "isBounce", Type: "bool"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	ts, err := schemas.NewTableSchema(user, schemas.TableOptions{IncludeKafkaKey: true, EventTimeField: "eventTime"})
	if err != nil {
		tb.Fatal(err)
	}
	return ts
}

func reportRecordsPerSecond(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

func BenchmarkJSONDecode(b *testing.B) {
	ts := pageviewTable(b)
	dec := schemas.NewJSONDecoder(ts)
	value := []byte(pageviewJSON)
	var rec schemas.Record
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if err := dec.Decode(value, &rec); err != nil {
			b.Fatal(err)
		}
	}
	reportRecordsPerSecond(b, start)
}

func BenchmarkAvroDecode(b *testing.B) {
	ts := pageviewTable(b)
	srv := registrytest.NewServer(b)
	id := srv.Register("pageviews-value", pageviewAvroSchema)
	value, err := registrytest.EncodeConfluent(id, pageviewAvroSchema, map[string]any{
		"userId": 12345, "sessionNumber": 3, "pageNumber": 7,
		"url":        "https://example.com/products/12345?ref=home",
		"referrer":   "https://google.com/search?q=shoes",
		"eventTime":  time.Date(2026, 11, 21, 7, 15, 42, 123e6, time.UTC),
		"userAgent":  "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
		"country":    "FR",
		"durationMs": 5321, "isBounce": false,
	})
	if err != nil {
		b.Fatal(err)
	}
	reg, err := schemas.NewRegistry(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	dec := schemas.NewAvroDecoder(ts, reg)
	var rec schemas.Record
	if err := dec.Decode(value, &rec); err != nil { // fetch the schema
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if err := dec.Decode(value, &rec); err != nil {
			b.Fatal(err)
		}
	}
	reportRecordsPerSecond(b, start)
}
