package harness

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Pageview is one sample event.
type Pageview struct {
	UserID        int64     `json:"userId"`
	SessionNumber int32     `json:"sessionNumber"`
	PageNumber    int32     `json:"pageNumber"`
	URL           string    `json:"url"`
	Referrer      *string   `json:"referrer"`
	EventTime     time.Time `json:"eventTime"`
}

// PageviewSchemaYAML is the table schema of pageviews, as it appears in
// the YAML table configuration.
const PageviewSchemaYAML = `  event_time_field: eventTime
  schema:
    - {name: userId, type: int64, optional: false}
    - {name: sessionNumber, type: int32}
    - {name: pageNumber, type: int32}
    - {name: url, type: string}
    - {name: referrer, type: string}
    - {name: eventTime, type: timestamp, optional: false}
`

// PageviewAvroSchema is the Avro writer schema of pageviews.
const PageviewAvroSchema = `{"type":"record","name":"pageview","fields":[
 {"name":"userId","type":"long"},
 {"name":"sessionNumber","type":["null","int"],"default":null},
 {"name":"pageNumber","type":["null","int"],"default":null},
 {"name":"url","type":["null","string"],"default":null},
 {"name":"referrer","type":["null","string"],"default":null},
 {"name":"eventTime","type":{"type":"long","logicalType":"timestamp-micros"}}]}`

var pages = []string{"/", "/products", "/products/%d", "/cart", "/checkout", "/search?q=item%d", "/account"}
var referrers = []string{"https://www.google.com/search?q=shoes", "https://news.example.org/article/%d", "https://t.co/%d"}

// Pageviews makes n events deterministic in seed, with event times spread
// over span ending at end (truncated to the millisecond, as JSON carries
// them).
func Pageviews(seed uint64, n int, end time.Time, span time.Duration) []Pageview {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	out := make([]Pageview, n)
	for i := range out {
		pv := Pageview{
			UserID:        rng.Int64N(100_000),
			SessionNumber: int32(rng.IntN(50)),
			PageNumber:    int32(rng.IntN(30)),
			URL:           "https://shop.example.com" + fill(pages[rng.IntN(len(pages))], rng.IntN(10_000)),
			EventTime:     end.Add(-time.Duration(rng.Int64N(int64(span)))).UTC().Truncate(time.Millisecond),
		}
		if rng.IntN(3) > 0 {
			r := fill(referrers[rng.IntN(len(referrers))], rng.IntN(1000))
			pv.Referrer = &r
		}
		out[i] = pv
	}
	return out
}

func fill(pattern string, n int) string {
	if strings.Contains(pattern, "%d") {
		return fmt.Sprintf(pattern, n)
	}
	return pattern
}

// JSON renders the event as a record value.
func (p Pageview) JSON() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

// Records spreads values over partitions round-robin, keyed by user.
func Records(topic string, partitions int, values [][]byte) []*kgo.Record {
	out := make([]*kgo.Record, len(values))
	for i, v := range values {
		out[i] = &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: v, Key: []byte(fmt.Sprintf("k%d", i))}
	}
	return out
}

// Malformed returns bad record values, each with the dead-letter reason
// ingestd must give it.
func Malformed(maxRecordBytes int, now time.Time) (values [][]byte, reasons []string) {
	add := func(v string, reason string) {
		values = append(values, []byte(v))
		reasons = append(reasons, reason)
	}
	add(`{"userId": 1, "url": "/x", "eventTime": "2026-`, "invalid-json")
	add(`not json at all`, "invalid-json")
	add(`{"userId": "one", "eventTime": "`+now.Format(time.RFC3339)+`"}`, "schema-mismatch")
	add(`{"url": "/no-user", "eventTime": "`+now.Format(time.RFC3339)+`"}`, "missing-field")
	add(`{"userId": 7, "url": "/no-time"}`, "missing-field")
	add(`{"userId": 8, "eventTime": "yesterday-ish"}`, "bad-timestamp")
	add(`{"userId": 9, "eventTime": "1999-01-01T00:00:00Z"}`, "bad-timestamp")
	add(`{"userId": 10, "eventTime": "2999-01-01T00:00:00Z"}`, "bad-timestamp")
	add(`{"userId": 11, "url": "`+strings.Repeat("x", maxRecordBytes)+`", "eventTime": "`+now.Format(time.RFC3339)+`"}`, "too-large")
	return values, reasons
}
