package checkpoint_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/schemas"
)

// panickyDecoder panics on a record holding the marker: a stand-in for a
// bug anywhere under the intake.
type panickyDecoder struct{ schemas.Decoder }

func (d panickyDecoder) Decode(value []byte, rec *schemas.Record) error {
	if bytes.Contains(value, []byte("PANIC")) {
		panic("decoder bug")
	}
	return d.Decoder.Decode(value, rec)
}

// TestPanicInIntakePropagates: a panic under the coordinator's lock
// unwinds out of Run (the process crashes and a restart resumes from the
// table) instead of deadlocking on Run's deferred lock.
func TestPanicInIntakePropagates(t *testing.T) {
	recs := pageviewRecords(100, time.Now().UTC())
	recs[50].Value = []byte(`{"PANIC":1}`)
	p := newPipeline(t, objstore.NewMemory(), 1, recs, checkpoint.WithInterval(time.Hour))
	p.coord.WrapDecoder(func(d schemas.Decoder) schemas.Decoder { return panickyDecoder{d} })
	got := make(chan any, 1)
	go func() {
		defer func() { got <- recover() }()
		p.run(t)
	}()
	select {
	case v := <-got:
		if v != "decoder bug" {
			t.Fatalf("Run ended with %v, want the decoder's panic", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s after a panic in the intake: deadlocked")
	}
	if err := p.coord.Close(); err != nil {
		t.Log(err)
	}
}
