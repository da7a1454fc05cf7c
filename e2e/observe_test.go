package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/internal/metrics/metricstest"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
	"github.com/lakestream/lakestream/internal/tasks"
)

// TestObserveWhileIngesting runs the ingestd binary on kfake into an S3
// table (versitygw behind a TCP proxy the test can cut) and, while it
// ingests, scrapes /metrics, /readyz and /debug/tasks:
//   - N records produced: the lag of every partition falls to 0, and
//     lakestream_records_polled_total and lakestream_rows_committed_total
//     reach N; /debug/tasks lists every partition, the coordinator and
//     each worker; /readyz answers 200; the Kafka client metrics count
//     bytes read.
//   - storage down (the proxy refuses and cuts every connection) with M
//     more records to commit: /readyz drops to 503 with the reason (no
//     checkpoint completed, what is retried), lakestream_checkpoint_retrying
//     rises, and /debug/tasks shows what the coordinator retries; records
//     produced meanwhile wait in the consumer's client
//     (lakestream_kafka_buffered_fetch_records_total);
//   - storage back: /readyz answers 200 again, N+M records are read and
//     committed, the lag is 0 again;
//     a SIGTERM stops ingestd cleanly.
func TestObserveWhileIngesting(t *testing.T) {
	const (
		n        = 4000
		m        = 1000
		interval = 500 * time.Millisecond
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	srv := s3test.Start(t)
	proxy := startFlakyProxy(t, strings.TrimPrefix(srv.Endpoint, "http://"))
	k := startKafka(t, harness.KindKfake, harness.KafkaOptions{Brokers: 1, Partitions: partitions, Topics: []string{topic, topic + ".dlq"}})

	events := harness.Pageviews(11, n+m, time.Now().UTC(), time.Hour)
	values := make([][]byte, len(events))
	for i, e := range events {
		values[i] = e.JSON()
	}
	recs := harness.Records(topic, partitions, values)
	if err := k.Produce(ctx, recs[:n]); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	admin := freeAddr(t)
	config := filepath.Join(dir, "table.yaml")
	writeFile(t, config, fmt.Sprintf(`kafka:
  brokers: [%s]
  topic: %s
table:
  url: "s3://%s/warehouse/%s?endpoint=http://%s&path_style=true"
format:
  type: json
%swriter:
  workers: 2
checkpoint:
  interval: %s
  writer_id: observe-0
  state_dir: %s
admin:
  addr: %s
  ready_after_intervals: 2
`, strings.Join(k.Brokers, ", "), topic, srv.Bucket, topic, proxy.addr(), harness.PageviewSchemaYAML, interval, filepath.Join(dir, "state"), admin))
	logPath := filepath.Join(dir, "ingestd.log")
	env := []string{"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey, "AWS_REGION=" + s3test.Region}
	proc, err := harness.StartIngestd(ingestdBin, config, logPath, env...)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Kill()
	defer func() {
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("ingestd log:\n%s", tail(string(log), 8000))
		}
	}()

	// One scrape of the three endpoints.
	type scrape struct {
		f           metricstest.Families
		ready       bool
		reason      string
		tasks       []tasks.State
		records     float64 // lakestream_records_polled_total
		committed   float64 // lakestream_rows_committed_total
		lag         float64 // sum of lakestream_partition_lag
		lagSeries   int
		retrying    float64
		kafkaReadBy float64 // lakestream_kafka_read_bytes_total of the consumer
		kafkaBuf    float64 // lakestream_kafka_buffered_fetch_records_total
	}
	read := func() (s scrape, err error) {
		body, err := adminGet(admin, "/metrics")
		if err != nil {
			return s, err
		}
		if s.f, err = metricstest.Parse(bytes.NewReader(body)); err != nil {
			return s, err
		}
		s.records = sumOf(s.f, "lakestream_records_polled_total", nil)
		s.committed = sumOf(s.f, "lakestream_rows_committed_total", nil)
		s.retrying = sumOf(s.f, "lakestream_checkpoint_retrying", nil)
		s.kafkaReadBy = sumOf(s.f, "lakestream_kafka_read_bytes_total", map[string]string{"client": "consumer"})
		s.kafkaBuf = sumOf(s.f, "lakestream_kafka_buffered_fetch_records_total", map[string]string{"client": "consumer"})
		s.lag, s.lagSeries = sumOf(s.f, "lakestream_partition_lag", nil), len(s.f["lakestream_partition_lag"].GetMetric())
		resp, err := adminClient.Get("http://" + admin + "/readyz")
		if err != nil {
			return s, err
		}
		var rz struct {
			Ready  bool   `json:"ready"`
			Reason string `json:"reason"`
		}
		err = json.NewDecoder(resp.Body).Decode(&rz)
		resp.Body.Close()
		if err != nil {
			return s, err
		}
		if rz.Ready != (resp.StatusCode == http.StatusOK) {
			return s, fmt.Errorf("/readyz: %s with ready %v", resp.Status, rz.Ready)
		}
		s.ready, s.reason = rz.Ready, rz.Reason
		body, err = adminGet(admin, "/debug/tasks?format=json")
		if err != nil {
			return s, err
		}
		var dt struct {
			Tasks []tasks.State `json:"tasks"`
		}
		if err := json.Unmarshal(body, &dt); err != nil {
			return s, err
		}
		s.tasks = dt.Tasks
		return s, nil
	}
	var last scrape
	scrapes := 0
	waitScrape := func(what string, timeout time.Duration, cond func(s scrape) bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			if proc.Exited() {
				t.Fatalf("ingestd exited while waiting for %s: %v", what, proc.Wait(0))
			}
			s, err := read()
			if err == nil {
				scrapes++
				last = s
				if cond(s) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %v, not %s (last error %v); last scrape: ready %v (%s), records %v, committed %v, lag %v over %d partitions, retrying %v, tasks %+v",
					timeout, what, err, last.ready, last.reason, last.records, last.committed, last.lag, last.lagSeries, last.retrying, last.tasks)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// 1. The first N records: lag to 0, counts equal N, ready, every task.
	sawLag := false
	waitScrape("caught up with N records committed", 30*time.Second, func(s scrape) bool {
		sawLag = sawLag || s.lag > 0
		return s.lagSeries == partitions && s.lag == 0 && s.records == n && s.committed == n && s.ready
	})
	t.Logf("caught up after %v (lag seen above 0 on the way: %v)", time.Since(start).Round(time.Millisecond), sawLag)
	if s := last; s.kafkaReadBy <= 0 {
		t.Errorf("lakestream_kafka_read_bytes_total{client=consumer} = %v, want > 0", s.kafkaReadBy)
	}
	labels := map[string]bool{}
	for _, ts := range last.tasks {
		labels[ts.Label()] = true
		if ts.State == "" || ts.Since.IsZero() {
			t.Errorf("task %+v: no state or since", ts)
		}
	}
	for _, want := range []string{"coordinator", "partition 0", "partition 1", "partition 2", "partition 3", "worker 0", "worker 1"} {
		if !labels[want] {
			t.Errorf("/debug/tasks has no %q: %+v", want, last.tasks)
		}
	}

	// 2. Storage down, with M records to commit.
	proxy.setDown(true)
	downAt := time.Now()
	if err := k.Produce(ctx, recs[n:n+m/2]); err != nil {
		t.Fatal(err)
	}
	// The coordinator says what it retries: the instant of the next
	// checkpoint, opened at its first row (it polls nothing meanwhile), or
	// a checkpoint's phase.
	held := regexp.MustCompile(`^(retrying .+ \(phase \w+\)|checkpoint \d+: \w+, retrying .+)$`)
	var unready time.Duration // until /readyz first answered 503
	waitScrape("unready while storage is down", 30*time.Second, func(s scrape) bool {
		if !s.ready && unready == 0 {
			unready = time.Since(downAt)
		}
		return !s.ready && s.retrying > 0
	})
	t.Logf("/readyz 503 %v after storage went down, with the retry %v after: %s", unready.Round(time.Millisecond), time.Since(downAt).Round(time.Millisecond), last.reason)
	if !strings.Contains(last.reason, "no checkpoint completed for") || last.committed != n {
		t.Errorf("while storage is down: reason %q, committed %v; want the age and what is retried, %d committed", last.reason, last.committed, n)
	}
	coordinator := ""
	for _, ts := range last.tasks {
		if ts.Label() == "coordinator" {
			coordinator = ts.State
		}
	}
	t.Logf("while storage is down: coordinator: %s; records polled %v, lag %v, records buffered in the Kafka client %v", coordinator, last.records, last.lag, last.kafkaBuf)
	if !held.MatchString(coordinator) {
		t.Errorf("/debug/tasks while storage is down: coordinator %q, want what it retries: %+v", coordinator, last.tasks)
	}
	// More records while the pipeline is held: nothing polls them; the
	// consumer's client fetched them (its buffered records, kprom), and
	// lakestream_partition_lag counts them from the reader's own listing
	// of the end offsets (every source.DefaultLagRefresh, 5s).
	if err := k.Produce(ctx, recs[n+m/2:]); err != nil {
		t.Fatal(err)
	}
	// The lag counts at least the first held batch (produced seconds
	// before); the client's buffer is only logged: whether franz-go has
	// fetched the held records yet depends on its fetch timing (once, under
	// make test's load, it had fetched none within 20s).
	waitScrape("the held records counted in the lag", 20*time.Second, func(s scrape) bool {
		return s.lag >= float64(m/2)
	})
	t.Logf("held, %d more records produced: records polled %v, lag %v, lakestream_kafka_buffered_fetch_records_total %v", m-m/2, last.records, last.lag, last.kafkaBuf)

	// 3. Storage back: ready again, everything committed.
	proxy.setDown(false)
	upAt := time.Now()
	waitScrape("ready again with N+M read and committed", 30*time.Second, func(s scrape) bool {
		return s.ready && s.records == n+m && s.committed == n+m && s.lag == 0 && s.retrying == 0
	})
	t.Logf("ready again %v after storage came back; %d scrapes in %v", time.Since(upAt).Round(time.Millisecond), scrapes, time.Since(start).Round(time.Millisecond))
	if err := proc.Stop(30 * time.Second); err != nil {
		t.Errorf("stop ingestd: %v", err)
	}
}

// adminClient reads the admin endpoint without keeping connections.
var adminClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

func adminGet(addr, path string) ([]byte, error) {
	resp, err := adminClient.Get("http://" + addr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", path, resp.Status)
	}
	return b, err
}

// sumOf adds the values of every series of name whose labels include
// labels.
func sumOf(f metricstest.Families, name string, labels map[string]string) float64 {
	var sum float64
	for _, mt := range f[name].GetMetric() {
		have := map[string]string{}
		for _, lp := range mt.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		ok := true
		for k, v := range labels {
			ok = ok && have[k] == v
		}
		if !ok {
			continue
		}
		switch {
		case mt.Counter != nil:
			sum += mt.GetCounter().GetValue()
		case mt.Gauge != nil:
			sum += mt.GetGauge().GetValue()
		case mt.Untyped != nil:
			sum += mt.GetUntyped().GetValue()
		}
	}
	return sum
}

// flakyProxy forwards TCP connections to target until it is set down:
// then it cuts every open connection and closes every new one at once, as
// storage that is unreachable.
type flakyProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func startFlakyProxy(t *testing.T, target string) *flakyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *flakyProxy) addr() string { return p.ln.Addr().String() }

func (p *flakyProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			continue
		}
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			// One side ended: end both.
			p.untrack(dst, src)
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// track registers a connection pair, unless the proxy went down meanwhile
// (then it closes them).
func (p *flakyProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *flakyProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

// setDown cuts the storage off (every open connection closed, new ones
// refused) or lets it through again.
func (p *flakyProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
			delete(p.conns, c)
		}
	}
}

func (p *flakyProxy) close() {
	p.ln.Close()
	p.setDown(true)
	p.wg.Wait()
}
