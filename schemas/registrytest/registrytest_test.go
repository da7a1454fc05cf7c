package registrytest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/schemas/registrytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEncodeConfluent(t *testing.T) {
	for _, c := range []struct {
		name, schema string
		value        map[string]any
		want         []byte
	}{
		{"ints", `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"int"}]}`,
			map[string]any{"a": 1, "b": -1}, []byte{0x02, 0x01}},
		{"big long", `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`,
			map[string]any{"a": 64}, []byte{0x80, 0x01}},
		{"string and union", `{"type":"record","name":"R","fields":[{"name":"s","type":["null","string"]},{"name":"n","type":["null","string"]}]}`,
			map[string]any{"s": "foo"}, []byte{0x02, 0x06, 'f', 'o', 'o', 0x00}},
		{"array and map", `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"int"}},{"name":"m","type":{"type":"map","values":"boolean"}}]}`,
			map[string]any{"a": []any{3, 27}, "m": map[string]any{"k": true}}, []byte{0x04, 0x06, 0x36, 0x00, 0x02, 0x02, 'k', 0x01, 0x00}},
		{"decimal bytes", `{"type":"record","name":"R","fields":[{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":5,"scale":2}}]}`,
			map[string]any{"d": "-1.28"}, []byte{0x02, 0x80}},
		{"decimal fixed", `{"type":"record","name":"R","fields":[{"name":"d","type":{"type":"fixed","name":"F","size":3,"logicalType":"decimal","precision":5,"scale":1}}]}`,
			map[string]any{"d": "-0.1"}, []byte{0xff, 0xff, 0xff}},
		{"timestamp and enum", `{"type":"record","name":"R","fields":[{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}]}`,
			map[string]any{"t": time.UnixMilli(1), "e": "B"}, []byte{0x02, 0x02}},
		{"named reference", `{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":{"type":"fixed","name":"F","size":1}},{"name":"b","type":"n.F"}]}`,
			map[string]any{"a": []byte{7}, "b": []byte{8}}, []byte{7, 8}},
	} {
		got, err := registrytest.EncodeConfluent(0x01020304, c.schema, c.value)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		want := append([]byte{0, 1, 2, 3, 4}, c.want...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: % x, want % x", c.name, got, want)
		}
	}
	if _, err := registrytest.EncodeConfluent(1, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, map[string]any{"a": "x"}); err == nil {
		t.Error("a string for an int: no error")
	}
}

func TestServer(t *testing.T) {
	srv := registrytest.NewServer(t)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s", srv.URL)
	}
	body, _ := json.Marshal(map[string]string{"schema": `"string"`})
	resp, err := http.Post(srv.URL+"/subjects/s-value/versions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ ID uint32 }
	if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if again := srv.Register("other", `"string"`); again != reg.ID {
		t.Errorf("same schema, ids %d and %d", reg.ID, again)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := get("/schemas/ids/1"); code != 200 || !strings.Contains(b, `"schema":"\"string\""`) {
		t.Errorf("GET: %d %s", code, b)
	}
	if code, b := get("/schemas/ids/77"); code != 404 || !strings.Contains(b, "40403") {
		t.Errorf("GET unknown: %d %s", code, b)
	}
	srv.FailWith(503)
	if code, _ := get("/schemas/ids/1"); code != 503 {
		t.Errorf("FailWith: %d", code)
	}
	if srv.Lookups() != 3 {
		t.Errorf("lookups %d", srv.Lookups())
	}
	http.DefaultClient.CloseIdleConnections()
}
