package parquetfile

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestZstdStored: the stored frames appendZstdStored writes, of every
// content size class (one byte of size, two, four; one raw block, several)
// decode to their content, by a decoder of default options and one as the
// merge makes it.
func TestZstdStored(t *testing.T) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	one, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 255, 256, 257, 1 << 10, 65791, 65792, 128 << 10, 128<<10 + 1, 3<<17 - 1, 1 << 20} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		frame := appendZstdStored([]byte("x"), src)
		if frame[0] != 'x' {
			t.Fatal("dst overwritten")
		}
		for _, d := range []*zstd.Decoder{dec, one} {
			got, err := d.DecodeAll(frame[1:], nil)
			if err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
			if !bytes.Equal(got, src) {
				t.Fatalf("%d bytes: decoded %d bytes, not the content", n, len(got))
			}
		}
		size := 4 // the content size
		switch {
		case n < 256:
			size = 1
		case n < 65792:
			size = 2
		}
		blocks := max((n+128<<10-1)/(128<<10), 1)
		if len(frame)-1 != 4+1+size+3*blocks+n { // magic, descriptor, size, block headers
			t.Errorf("%d bytes: a frame of %d", n, len(frame)-1)
		}
	}
}

// TestMergeStoredPages: pageview files (their index pages random, which
// zstd stores) merged: the remapped index pages are stored frames, and
// parquet-go and DuckDB read the merged file as the inputs' rows.
func TestMergeStoredPages(t *testing.T) {
	dir := t.TempDir()
	if err := writePageviewFiles(dir, 4, 3000); err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	out := filepath.Join(dir, "merged.out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Merge(context.Background(), fileInputs(paths), f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyMerge(context.Background(), bytes.NewReader(data), int64(len(data)), res); err != nil {
		t.Fatal(err)
	}
	// The url column's pages: the first input's copied, the others'
	// remapped and stored.
	md := mustFooter(t, data)
	stored := 0
	for _, g := range md.RowGroups {
		for _, page := range dataPages(t, data, g.Columns[8].MetaData) {
			if isStoredZstd(page) {
				stored++
			}
		}
	}
	if res.PagesRewritten == 0 || stored < 3 {
		t.Fatalf("%d pages rewritten, %d url pages stored: want the remapped url pages stored", res.PagesRewritten, stored)
	}
	var want []string
	for _, p := range paths {
		in, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range readAll(t, in) {
			want = append(want, fmt.Sprint(row))
		}
	}
	got := readAll(t, data)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, row := range got {
		if s := fmt.Sprint(row); s != want[i] {
			t.Fatalf("row %d: %s, want %s", i, s, want[i])
		}
	}
	db := openDuckDB(t)
	var n, onlyMerged, onlyInputs int64
	q := fmt.Sprintf(`SELECT (SELECT count(*) FROM read_parquet('%[1]s')),
		(SELECT count(*) FROM (SELECT * FROM read_parquet('%[1]s') EXCEPT ALL SELECT * FROM read_parquet(%[2]s))),
		(SELECT count(*) FROM (SELECT * FROM read_parquet(%[2]s) EXCEPT ALL SELECT * FROM read_parquet('%[1]s')))`, out, sqlList(paths))
	if err := db.QueryRow(q).Scan(&n, &onlyMerged, &onlyInputs); err != nil {
		t.Fatal(err)
	}
	if n != int64(len(want)) || onlyMerged != 0 || onlyInputs != 0 {
		t.Fatalf("DuckDB reads %d rows (want %d); %d only in the merged file, %d only in the inputs", n, len(want), onlyMerged, onlyInputs)
	}
}

// isStoredZstd reports whether a page (header and body) is a zstd frame of
// raw blocks.
func isStoredZstd(page []byte) bool {
	i := bytes.Index(page, []byte{0x28, 0xB5, 0x2F, 0xFD})
	if i < 0 || i+5 > len(page) {
		return false
	}
	fhd := page[i+4]
	at := i + 5 + map[byte]int{0: 1, 1: 2, 2: 4, 3: 8}[fhd>>6]
	if fhd&(1<<5) == 0 {
		at++
	}
	return at+3 <= len(page) && page[at]>>1&3 == 0
}

// TestZstdStoredContent: the content of a frame of one raw block is read
// where it is, as a decoder decodes it, whoever wrote the frame (the
// encoder's frames of random bytes, appendZstdStored's); other frames
// (compressed, several blocks, a checksum, bytes after the frame, cut
// short) are left to the decoder.
func TestZstdStoredContent(t *testing.T) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	r := rand.New(rand.NewPCG(2, 2))
	enc := NewZstd(ZstdDefault)
	crc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, n := range []int{0, 1, 100, 255, 256, 1000, 1024, 1025, 4000, 65791, 65792, 100000, 128 << 10, 128<<10 + 1, 300000} {
		random := make([]byte, n)
		for i := range random {
			random[i] = byte(r.Uint32())
		}
		zeros := make([]byte, n)
		own, _ := enc.Encode(nil, random)
		for _, frame := range [][]byte{own, appendZstdStored(nil, random), appendZstdStored(nil, zeros), crc.EncodeAll(random, nil), crc.EncodeAll(zeros, nil), mustEncode(enc, zeros)} {
			content, ok := zstdStoredContent(frame)
			want, err := dec.DecodeAll(frame, nil)
			if err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
			if ok {
				stored++
				if !bytes.Equal(content, want) {
					t.Fatalf("%d bytes: the stored content differs from the decoded frame", n)
				}
				// Cut short, or with a byte after it: not taken.
				if _, ok := zstdStoredContent(frame[:len(frame)-1]); ok && n > 0 {
					t.Fatalf("%d bytes: a frame cut short taken as stored", n)
				}
				if _, ok := zstdStoredContent(append(frame[:len(frame):len(frame)], 0)); ok {
					t.Fatalf("%d bytes: a frame and a byte taken as stored", n)
				}
			}
			if n > 128<<10 && ok {
				t.Fatalf("%d bytes: a frame of several blocks taken as stored", n)
			}
		}
	}
	if stored < 20 {
		t.Fatalf("%d stored frames read where they are: the encoder's and appendZstdStored's of random bytes up to 128 KiB are", stored)
	}
}

func mustEncode(z *Zstd, src []byte) []byte {
	b, _ := z.Encode(nil, src)
	return b
}

// FuzzZstdStoredContent: whatever the bytes, a frame taken as stored is
// one the decoder decodes to the same content.
func FuzzZstdStoredContent(f *testing.F) {
	f.Add(appendZstdStored(nil, []byte("a stored page")))
	f.Add(appendZstdStored(nil, make([]byte, 300)))
	f.Add(mustEncode(NewZstd(ZstdDefault), []byte("compressed compressed compressed")))
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		content, ok := zstdStoredContent(frame)
		if !ok {
			return
		}
		want, err := dec.DecodeAll(frame, nil)
		if err != nil {
			t.Fatalf("taken as stored, the decoder fails: %v", err)
		}
		if !bytes.Equal(content, want) {
			t.Fatalf("taken as stored: %x, decoded %x", content, want)
		}
	})
}
