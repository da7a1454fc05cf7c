package source

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The buffer is a plain data structure; its records are built in memory.
func recs(p int32, from, to int64) []*kgo.Record {
	var out []*kgo.Record
	for o := from; o < to; o++ {
		out = append(out, &kgo.Record{Partition: p, Offset: o})
	}
	return out
}

// ctrl is a control record (a transaction commit marker) at offset off,
// decoded by franz-go from a control batch built on the wire format, as a
// fetch with KeepControlRecords returns it.
func ctrl(p int32, off int64) *kgo.Record {
	rec := kmsg.Record{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}} // version 0, type 1 (commit)
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)                               // everything after the 1-byte varint length
	batch := kmsg.RecordBatch{
		FirstOffset: off, Magic: 2, Attributes: 0x30, // transactional | control
		ProducerID: 1, FirstSequence: -1, NumRecords: 1, Records: rec.AppendTo(nil),
	}
	raw := batch.AppendTo(nil)
	batch.Length = int32(len(raw) - 12)
	raw = batch.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{KeepControlRecords: true, Topic: "t", Partition: p, Offset: off},
		&kmsg.FetchResponseTopicPartition{Partition: p, HighWatermark: off + 1, LastStableOffset: off + 1, RecordBatches: raw},
		kgo.DefaultDecompressor(), nil)
	if fp.Err != nil || len(fp.Records) != 1 || !fp.Records[0].Attrs.IsControl() || fp.Records[0].Offset != off {
		panic(fmt.Sprintf("building a control record: %v %v", fp.Err, fp.Records))
	}
	return fp.Records[0]
}

func shape(out []*kgo.Record) string {
	s := ""
	for i, r := range out {
		if i == 0 || out[i-1].Partition != r.Partition {
			s += fmt.Sprintf(" p%d@%d", r.Partition, r.Offset)
		}
	}
	return s
}

func TestRRBufferDrainsRoundRobinInChunks(t *testing.T) {
	b := newRRBuffer()
	for p := range int32(4) {
		b.assign(p, 0)
	}
	b.push(0, recs(0, 0, 100))
	b.push(1, recs(1, 0, 100))
	b.push(2, recs(2, 0, 3)) // a small partition: the others share what it leaves
	if b.buffered() != 203 {
		t.Fatalf("buffered %d", b.buffered())
	}
	out := b.drain(60)
	// 3 active partitions: share 20 each, partition 2 gives only 3; the
	// second pass shares the 17 left between 0 and 1 (9, 8).
	if got, want := shape(out), " p0@0 p1@0 p2@0 p0@20 p1@20"; got != want {
		t.Errorf("shape %q, want %q", got, want)
	}
	if len(out) != 60 {
		t.Fatalf("%d records", len(out))
	}
	count := map[int32]int{}
	for _, r := range out {
		count[r.Partition]++
	}
	if count[0] != 29 || count[1] != 28 || count[2] != 3 {
		t.Errorf("counts %v", count)
	}
	// Partition 1 was cut short: it goes first next time.
	if got, want := shape(b.drain(10)), " p1@28 p0@29"; got != want {
		t.Errorf("next drain %q, want %q", got, want)
	}
	if b.position(0) != 34 || b.position(1) != 33 || b.position(2) != 3 || b.position(3) != 0 {
		t.Errorf("positions %d %d %d %d", b.position(0), b.position(1), b.position(2), b.position(3))
	}
}

func TestRRBufferPreservesPartitionOrderAndCounts(t *testing.T) {
	b := newRRBuffer()
	next := map[int32]int64{}
	for round := range 5 {
		for p := range int32(7) {
			b.push(p, recs(p, int64(round*50), int64(round*50+50)))
		}
		for b.buffered() > 0 {
			for _, r := range b.drain(33) {
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
				}
				next[r.Partition]++
			}
		}
	}
	for p := range int32(7) {
		if next[p] != 250 || b.queued(p) != 0 || b.position(p) != 250 {
			t.Errorf("partition %d: read %d queued %d position %d", p, next[p], b.queued(p), b.position(p))
		}
	}
}

func TestRRBufferControlRecordsMovePositionOnly(t *testing.T) {
	b := newRRBuffer()
	b.assign(0, 10)
	// data 10, 11, commit marker 12, data 13, abort marker 14 (aborted data
	// 13.. would have been filtered by franz-go; here 13 is committed data).
	b.push(0, []*kgo.Record{recs(0, 10, 11)[0], recs(0, 11, 12)[0], ctrl(0, 12), recs(0, 13, 14)[0], ctrl(0, 14)})
	if b.buffered() != 3 {
		t.Fatalf("buffered %d, want 3 data records", b.buffered())
	}
	if out := b.drain(2); len(out) != 2 || out[1].Offset != 11 || b.position(0) != 13 {
		t.Fatalf("drain 2: %v position %d, want up to 11 and position 13 (past the marker)", len(out), b.position(0))
	}
	out := b.drain(10)
	if len(out) != 1 || out[0].Offset != 13 || b.position(0) != 15 || b.buffered() != 0 {
		t.Fatalf("drain: %d records position %d buffered %d", len(out), b.position(0), b.buffered())
	}
	// A fetch of markers only moves the position at once.
	b.push(0, []*kgo.Record{ctrl(0, 15), ctrl(0, 16)})
	if b.position(0) != 17 || b.buffered() != 0 || b.drain(5) != nil {
		t.Errorf("position %d buffered %d", b.position(0), b.buffered())
	}
}

func TestRRBufferDiscardAndDrop(t *testing.T) {
	b := newRRBuffer()
	b.assign(0, 0)
	b.assign(1, 0)
	b.push(0, recs(0, 0, 10))
	b.push(1, recs(1, 0, 10))
	b.drain(4)
	b.discard(0)
	if b.buffered() != 10-2 || b.position(0) != 2 {
		t.Errorf("after discard: buffered %d position %d", b.buffered(), b.position(0))
	}
	b.drop(1)
	if b.buffered() != 0 || b.position(1) != -1 || !slices.Equal(b.sorted, []int32{0}) {
		t.Errorf("after drop: buffered %d position %d sorted %v", b.buffered(), b.position(1), b.sorted)
	}
	b.push(0, recs(0, 10, 12))
	if out := b.drain(5); len(out) != 2 || out[0].Offset != 10 {
		t.Errorf("after discard, new records: %v", out)
	}
}

// sized builds records of partition p, offsets [from, to), each value size
// bytes.
func sized(p int32, from, to int64, size int) []*kgo.Record {
	out := recs(p, from, to)
	for _, r := range out {
		r.Value = make([]byte, size)
	}
	return out
}

func TestRRBufferQuotas(t *testing.T) {
	b := newRRBuffer()
	b.setQuotas(5, 1000)
	b.push(0, sized(0, 0, 100, 10))  // the record quota binds: 5 per drain
	b.push(1, sized(1, 0, 100, 300)) // the byte quota binds: 3 per drain (900 bytes)
	b.push(2, sized(2, 0, 3, 5000))  // larger than the byte quota: one per drain
	for i := range 3 {
		out := b.drain(100)
		count, bytes := map[int32]int{}, map[int32]int{}
		for _, r := range out {
			count[r.Partition]++
			bytes[r.Partition] += recordSize(r)
		}
		if count[0] != 5 || count[1] != 3 || count[2] != 1 || bytes[1] != 900 {
			t.Fatalf("drain %d: counts %v bytes %v", i, count, bytes)
		}
		if got := shape(out); got != fmt.Sprintf(" p0@%d p1@%d p2@%d", 5*i, 3*i, i) {
			t.Errorf("drain %d: shape %q", i, got)
		}
	}
	// The overall limit still applies, and the partition it cut short goes
	// first next time.
	if got, want := shape(b.drain(7)), " p0@15 p1@9"; got != want {
		t.Errorf("limited drain %q, want %q", got, want)
	}
	if got, want := shape(b.drain(100)), " p1@12 p0@19"; got != want {
		t.Errorf("next drain %q, want %q", got, want)
	}
	if b.queuedBytes(1) != (100-15)*300 || b.queuedBytes(2) != 0 {
		t.Errorf("queued bytes %d %d", b.queuedBytes(1), b.queuedBytes(2))
	}
	q := b.queues[1]
	if q.readRecs != 15 || q.readBytes != 15*300 {
		t.Errorf("read %d records %d bytes", q.readRecs, q.readBytes)
	}
}

func TestRRBufferHoldAndRewind(t *testing.T) {
	b := newRRBuffer()
	b.assign(0, 0)
	b.assign(1, 0)
	b.push(0, recs(0, 0, 10))
	b.push(1, recs(1, 0, 10))
	b.hold(0, true)
	if b.drainable() != 10 || b.buffered() != 20 {
		t.Fatalf("drainable %d buffered %d", b.drainable(), b.buffered())
	}
	if got := shape(b.drain(100)); got != " p1@0" {
		t.Errorf("held drain %q", got)
	}
	if rewound := b.push(0, recs(0, 10, 12)); rewound != 0 {
		t.Errorf("a contiguous fetch counted %d rewound", rewound)
	}
	b.hold(0, false)
	if got := shape(b.drain(100)); got != " p0@0" || b.position(0) != 12 || b.buffered() != 0 {
		t.Errorf("released drain %q position %d", got, b.position(0))
	}
	// A fetch that went back (franz-go reset the offset after a leader
	// change) is counted and dropped up to where reading had got: no
	// offset is handed out twice.
	if b.position(1) != 10 {
		t.Fatalf("position %d, want 10", b.position(1))
	}
	if rewound := b.push(1, recs(1, 0, 12)); rewound != 10 || b.queued(1) != 2 {
		t.Errorf("rewound %d queued %d, want 10 and 2", rewound, b.queued(1))
	}
	if out := b.drain(100); len(out) != 2 || out[0].Offset != 10 || b.position(1) != 12 {
		t.Errorf("after a rewind: %s position %d", shape(out), b.position(1))
	}
}
