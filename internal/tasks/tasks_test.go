package tasks

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 12, 7, 12, 1, 2, 123e6, time.UTC)}
}

func TestSnapshotSortedWithSince(t *testing.T) {
	clock := newClock()
	r := New(WithClock(clock.now))
	p10 := r.Register("partition", "10")
	p2 := r.Register("partition", "2")
	coord := r.Register("coordinator", "")
	w := r.Register("worker", "0")
	p10.Set("fetching")
	p2.Set("fetching")
	start := clock.now()
	clock.add(time.Second)
	coord.Set("checkpoint 42: upload")
	phase := clock.now()
	clock.add(500 * time.Millisecond)
	p2.Set("fetching") // unchanged: since stays
	w.Set("writing 10 rows")
	clock.add(250 * time.Millisecond)

	got := r.Snapshot()
	want := []struct {
		label, state string
		since        time.Time
		forText      string
	}{
		{"coordinator", "checkpoint 42: upload", phase, "750ms"},
		{"partition 2", "fetching", start, "1.75s"},
		{"partition 10", "fetching", start, "1.75s"},
		{"worker 0", "writing 10 rows", start.Add(1500 * time.Millisecond), "250ms"},
	}
	if len(got) != len(want) {
		t.Fatalf("snapshot %+v: want %d tasks", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Label() != w.label || g.State != w.state || !g.Since.Equal(w.since) || g.For != w.forText || !g.Started.Equal(start) {
			t.Errorf("task %d = %s %q since %v for %s started %v; want %s %q since %v for %s started %v",
				i, g.Label(), g.State, g.Since, g.For, g.Started, w.label, w.state, w.since, w.forText, start)
		}
	}

	var b strings.Builder
	if err := WriteText(&b, got); err != nil {
		t.Fatal(err)
	}
	wantText := "coordinator: checkpoint 42: upload since 12:01:03.123 (750ms)\n" +
		"partition 2: fetching since 12:01:02.123 (1.75s)\n" +
		"partition 10: fetching since 12:01:02.123 (1.75s)\n" +
		"worker 0: writing 10 rows since 12:01:03.623 (250ms)\n"
	if b.String() != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), wantText)
	}

	p10.Done()
	p10.Done() // idempotent
	if got := r.Snapshot(); len(got) != 3 || got[1].Label() != "partition 2" || got[2].Label() != "worker 0" {
		t.Errorf("after Done: %+v", got)
	}
	p10.Set("ignored") // a finished task stays out
	if got := r.Snapshot(); len(got) != 3 {
		t.Errorf("Set after Done brought the task back: %+v", got)
	}
}

func TestDuplicateNamesAndNames(t *testing.T) {
	r := New()
	a := r.Register("partition", "3")
	b := r.Register("partition", "3") // re-assigned before the old one ended
	r.Register("g", "b")
	r.Register("g", "a")
	r.Register("g", "7")
	a.Set("old")
	b.Set("new")
	got := r.Snapshot()
	var labels []string
	for _, s := range got {
		labels = append(labels, s.Label()+"="+s.State)
	}
	want := "g 7=started,g a=started,g b=started,partition 3=old,partition 3=new"
	if strings.Join(labels, ",") != want {
		t.Errorf("snapshot %v; want %s", labels, want)
	}
}

func TestNilSafe(t *testing.T) {
	var r *Registry
	task := r.Register("worker", "0")
	if task != nil {
		t.Fatal("a nil registry registered a task")
	}
	task.Set("x")
	task.Done()
	if got := r.Snapshot(); got == nil || len(got) != 0 {
		t.Errorf("nil registry snapshot %#v; want empty, not nil", got)
	}
	var b strings.Builder
	WriteText(&b, r.Snapshot())
	if b.String() != "no tasks\n" {
		t.Errorf("text %q", b.String())
	}
}

func TestConcurrent(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				task := r.Register("g", string(rune('a'+i)))
				task.Set("s")
				if j%3 == 0 {
					r.Snapshot()
				}
				task.Done()
			}
		})
	}
	wg.Wait()
	if n := len(r.Snapshot()); n != 0 {
		t.Errorf("%d tasks left", n)
	}
}

func TestHandler(t *testing.T) {
	clock := newClock()
	r := New(WithClock(clock.now))
	r.Register("partition", "3").Set("fetching")
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || body != "partition 3: fetching since 12:01:02.123 (0s)\n" {
		t.Errorf("text: %s %q", ct, body)
	}
	for _, get := range []func() (*http.Response, error){
		func() (*http.Response, error) { return http.Get(srv.URL + "?format=json") },
		func() (*http.Response, error) {
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("Accept", "application/json")
			return http.DefaultClient.Do(req)
		},
	} {
		resp, err := get()
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Tasks []State `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(readAll(t, resp)), &out); err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Type") != "application/json" || len(out.Tasks) != 1 || out.Tasks[0].Group != "partition" ||
			out.Tasks[0].Name != "3" || out.Tasks[0].State != "fetching" || !out.Tasks[0].Since.Equal(clock.now()) {
			t.Errorf("json: %s %+v", resp.Header.Get("Content-Type"), out)
		}
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
