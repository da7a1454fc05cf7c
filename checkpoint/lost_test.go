package checkpoint_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/schemas"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupSource serves records per partition as source.Reader does for a
// consumer group: partitions start where the coordinator's StartOffsets
// says, and once lose is called (from Poll, as franz-go reports a lost
// session between polls) every partition is lost (Revoked, lost=true),
// then assigned again and resumed from the table's offsets.
type groupSource struct {
	coord *checkpoint.Coordinator
	parts map[int32][]*kgo.Record // by partition, offset = index
	batch int

	mu       sync.Mutex
	pos      map[int32]int64 // next offset to serve; nil: not assigned
	loseAt   func() bool     // checked at every Poll: lose everything now
	losses   int
	done     func()
	assigned bool
}

func newGroupSource(recs []*kgo.Record, batch int) *groupSource {
	s := &groupSource{parts: map[int32][]*kgo.Record{}, batch: batch}
	for _, r := range recs {
		s.parts[r.Partition] = append(s.parts[r.Partition], r)
	}
	return s
}

func (s *groupSource) partitions() []int32 {
	var ps []int32
	for p := range s.parts {
		ps = append(ps, p)
	}
	return ps
}

// assign runs StartOffsets for every partition, as the reader's
// adjustOffsets does, and positions them.
func (s *groupSource) assign(ctx context.Context) error {
	ps := s.partitions()
	starts, err := s.coord.StartOffsets(ctx, "pageviews", ps)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.pos = map[int32]int64{}
	for _, p := range ps {
		s.pos[p] = starts[p] // 0 when the table has none
	}
	s.assigned = true
	s.mu.Unlock()
	return nil
}

func (s *groupSource) Poll(ctx context.Context) ([]*kgo.Record, error) {
	s.mu.Lock()
	lose := s.assigned && s.loseAt != nil && s.loseAt()
	s.mu.Unlock()
	if lose {
		s.mu.Lock()
		s.pos, s.assigned = nil, false
		s.losses++
		s.mu.Unlock()
		s.coord.Revoked(ctx, s.partitions(), true)
	}
	s.mu.Lock()
	assigned := s.assigned
	s.mu.Unlock()
	if !assigned {
		if err := s.assign(ctx); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	var out []*kgo.Record
	for p, recs := range s.parts {
		at := s.pos[p]
		end := min(at+int64(s.batch), int64(len(recs)))
		out = append(out, recs[at:end]...)
		s.pos[p] = end
	}
	s.mu.Unlock()
	if len(out) > 0 {
		time.Sleep(20 * time.Millisecond) // several checkpoints over the run
		return out, nil
	}
	if s.done != nil {
		s.done()
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *groupSource) AllowRebalance()                   {}
func (s *groupSource) QueueGroupOffsets(map[int32]int64) {}

func (s *groupSource) Positions() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	pos := map[int32]int64{}
	for p, at := range s.pos {
		pos[p] = at
	}
	return pos
}

// TestLostPartitionsResumeFromTable: when the group session ends on an
// error (a broker restart: franz-go reports every partition lost), the
// coordinator abandons the open checkpoint and keeps running; the
// partitions, assigned again, resume from the table's offsets, and the
// table ends with every record exactly once. Before, Run stopped with
// "partitions lost to another member: restart to resume from the table".
func TestLostPartitionsResumeFromTable(t *testing.T) {
	root := t.TempDir()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	const n = 16000
	recs := pageviewRecords(n, time.Now().UTC())
	p := newPipeline(t, b, 2, recs, checkpoint.WithInterval(40*time.Millisecond), checkpoint.WithBatchRows(256))
	src := newGroupSource(recs, 50)
	src.coord = p.coord
	// Lose everything three times: mid-checkpoint (rows taken in since
	// the last commit, an instant open) after the first and second
	// commits, and once more right after a commit.
	polls := 0
	src.loseAt = func() bool {
		polls++
		cps := p.coord.Stats().Checkpoints
		switch {
		case src.losses == 0 && cps >= 1 && polls%3 == 0:
			return true
		case src.losses == 1 && cps >= 3 && polls%5 == 0:
			return true
		case src.losses == 2 && cps >= 5:
			return true
		}
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src.done = cancel
	errc := make(chan error, 1)
	go func() { errc <- p.coord.Run(ctx, src) }()
	select {
	case err = <-errc:
	case <-time.After(2 * time.Minute):
		t.Fatal("Run did not finish")
	}
	if cerr := p.coord.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatalf("Run: %v (losses so far: %d)", err, src.losses)
	}
	if src.losses != 3 {
		t.Fatalf("%d losses, want 3", src.losses)
	}
	if got := p.coord.Stats().PartitionsLost; got != 3 {
		t.Fatalf("Stats().PartitionsLost = %d, want 3", got)
	}

	tbl := openTable(t, b)
	bg := context.Background()
	tl, err := tbl.Timeline(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Pending()) != 0 {
		t.Fatalf("pending instants left: %v", tl.Pending())
	}
	cps, err := tbl.Checkpoints(bg)
	if err != nil {
		t.Fatal(err)
	}
	for part := range int32(8) {
		if pos, ok := cps.Next("pageviews", part); !ok || pos.Next != n/8 {
			t.Fatalf("partition %d: next %v, want %d", part, pos, n/8)
		}
	}
	snap, err := tbl.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range snap.Files {
		files = append(files, "'"+filepath.Join(root, f.Path)+"'")
	}
	// No file of an abandoned checkpoint is left beside the committed ones.
	if stored := storedParquetFiles(b); stored != len(files) {
		t.Fatalf("%d Parquet files stored, %d committed", stored, len(files))
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct int64
	q := fmt.Sprintf(`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM read_parquet([%s])`, strings.Join(files, ","))
	if err := db.QueryRow(q).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != n || distinct != n {
		t.Fatalf("rows %d, distinct %d, want %d each", rows, distinct, n)
	}
}

// registryDownDecoder fails every value holding "poison" as the Avro
// decoder does while the schema registry is unreachable (retryable), and
// decodes the others with next.
type registryDownDecoder struct {
	next    schemas.Decoder
	stuck   chan struct{}
	stuckMu sync.Once
}

func (d *registryDownDecoder) Decode(value []byte, rec *schemas.Record) error {
	if bytes.Contains(value, []byte("poison")) {
		d.stuckMu.Do(func() { close(d.stuck) })
		return &schemas.DecodeError{Reason: schemas.ReasonRegistryUnavailable, Err: errors.New("schema registry unreachable")}
	}
	return d.next.Decode(value, rec)
}

// TestShutdownDuringDecodeRetry: a SIGTERM while a record's decode is
// retried (the schema registry is down) stops the retry at once, and the
// final checkpoint commits the records taken in before it; the record and
// those after it are read again at the next start. Before, the shutdown
// waited for the whole grace period and then committed nothing.
func TestShutdownDuringDecodeRetry(t *testing.T) {
	root := t.TempDir()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	const n, poison = 8000, 5000 // record 5000: partition 0, offset 625
	recs := pageviewRecords(n, time.Now().UTC())
	recs[poison] = &kgo.Record{Topic: "pageviews", Partition: recs[poison].Partition, Offset: recs[poison].Offset, Value: []byte(`{"poison":1}`), Timestamp: recs[poison].Timestamp}
	p := newPipeline(t, b, 2, recs, checkpoint.WithInterval(time.Hour), checkpoint.WithShutdownGrace(time.Minute), checkpoint.WithRetry(10*time.Millisecond, 50*time.Millisecond))
	dec := &registryDownDecoder{stuck: make(chan struct{})}
	p.coord.WrapDecoder(func(d schemas.Decoder) schemas.Decoder { dec.next = d; return dec })
	p.src.batch = 1000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- p.coord.Run(ctx, p.src) }()
	select {
	case <-dec.stuck:
	case <-time.After(time.Minute):
		t.Fatal("the poisoned record was not reached")
	}
	time.Sleep(200 * time.Millisecond) // retrying
	start := time.Now()
	cancel()
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of its context (the grace period is 1m)")
	}
	took := time.Since(start)
	if cerr := p.coord.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took > 10*time.Second {
		t.Errorf("the shutdown took %v", took)
	}
	cps, err := openTable(t, b).Checkpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Records 0..4999 were taken in: offsets 0..624 of every partition.
	for part := range int32(8) {
		if pos, ok := cps.Next("pageviews", part); !ok || pos.Next != poison/8 {
			t.Errorf("partition %d: next %v, want %d", part, pos, poison/8)
		}
	}
	tl, _ := openTable(t, b).Timeline(context.Background())
	if rows := committedRows(t, openTable(t, b), tl.Completed()); rows != poison {
		t.Errorf("%d rows committed, want %d", rows, poison)
	}
}
