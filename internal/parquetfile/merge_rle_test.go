package parquetfile

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/rle"
)

// refDecodeIndexes decodes the first n dictionary indexes of src (a bit
// width byte, then the RLE/bit-packed hybrid) bit by bit: the test's own
// reading of the format (parquet-go's decoder panics on some malformed
// input).
func refDecodeIndexes(src []byte, n int) ([]int32, bool) {
	if len(src) == 0 || src[0] > 32 {
		return nil, n == 0 && len(src) == 0
	}
	width := int(src[0])
	src = src[1:]
	var out []int32
	for len(out) < n {
		h, k := binary.Uvarint(src)
		if k <= 0 {
			return nil, false
		}
		src = src[k:]
		if h&1 == 0 {
			nb := (width + 7) / 8
			if len(src) < nb {
				return nil, false
			}
			var v int32
			for i := range nb {
				v |= int32(src[i]) << (8 * i)
			}
			src = src[nb:]
			for c := uint64(0); c < h>>1 && len(out) < n; c++ {
				out = append(out, v)
			}
			continue
		}
		groups := h >> 1
		if width > 0 && groups > uint64(len(src)/width) {
			return nil, false
		}
		for g := uint64(0); g < groups && len(out) < n; g++ {
			for i := range 8 {
				var v int32
				for b := range width {
					bit := i*width + b
					v |= int32(src[bit/8]>>(bit%8)&1) << b
				}
				out = append(out, v)
			}
			src = src[width:]
		}
	}
	return out[:n], true
}

// genIndexes makes n dictionary indexes below size: runs (which the
// encoder writes as RLE runs) and noise (bit-packed), a mix of both.
func genIndexes(r *rand.Rand, n, size int) []int32 {
	idx := make([]int32, 0, n)
	for len(idx) < n {
		v := int32(r.IntN(size))
		k := 1 + r.IntN(40)
		if r.IntN(3) == 0 {
			k = 1
		}
		for range min(k, n-len(idx)) {
			idx = append(idx, v)
		}
	}
	return idx
}

// checkRemap remaps src (parquet-go's encoding of idx) and checks that
// parquet-go decodes the result as idx remapped.
func checkRemap(t *testing.T, src []byte, idx, remap []int32) {
	t.Helper()
	out, err := remapIndexes(nil, src, len(idx), remap, bitWidth(remap))
	if err != nil {
		t.Fatalf("remap: %v", err)
	}
	got, err := (&rle.DictionaryEncoding{}).DecodeInt32(nil, out)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(got) < len(idx) {
		t.Fatalf("%d indexes, want %d", len(got), len(idx))
	}
	for i, v := range idx {
		if got[i] != remap[v] {
			t.Fatalf("index %d: %d remapped to %d, want %d", i, v, got[i], remap[v])
		}
	}
	if int(out[0]) != bitWidth(remap) {
		t.Fatalf("bit width %d, want %d", out[0], bitWidth(remap))
	}
}

// TestRemapIndexes: dictionary indexes as parquet-go encodes them (RLE and
// bit-packed runs, every bit width from 0 to 20) remapped to every bit
// width read back by parquet-go as the remapped indexes.
func TestRemapIndexes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 3, 7, 8, 9, 255, 256, 257, 2000, 70000, 1 << 20} {
		for range 20 {
			n := r.IntN(3000)
			idx := genIndexes(r, n, size)
			src, err := (&rle.DictionaryEncoding{}).EncodeInt32(nil, idx)
			if err != nil {
				t.Fatal(err)
			}
			// To a larger dictionary (the merged one), or a smaller one.
			newSize := []int{1, size, 2 * size, size + 1000, 1 << 22}[r.IntN(5)]
			remap := make([]int32, size)
			for i := range remap {
				remap[i] = int32(r.IntN(newSize))
			}
			checkRemap(t, src, idx, remap)
		}
	}
}

// TestRemapIndexesRejectsBadInput: an index past the dictionary, and data
// that ends early, are errors, not panics or wrong pages.
func TestRemapIndexesRejectsBadInput(t *testing.T) {
	src, _ := (&rle.DictionaryEncoding{}).EncodeInt32(nil, []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3})
	if _, err := remapIndexes(nil, src, 11, make([]int32, 9), 4); err == nil {
		t.Error("index 9 of a dictionary of 9: no error")
	}
	if _, err := remapIndexes(nil, src[:len(src)-2], 11, make([]int32, 10), 4); err == nil {
		t.Error("truncated: no error")
	}
	rleRun, _ := (&rle.DictionaryEncoding{}).EncodeInt32(nil, []int32{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5})
	if _, err := remapIndexes(nil, rleRun, 18, make([]int32, 5), 4); err == nil {
		t.Error("RLE run of index 5 of a dictionary of 5: no error")
	}
	if _, err := remapIndexes(nil, []byte{33, 2, 0}, 1, make([]int32, 5), 4); err == nil {
		t.Error("bit width 33: no error")
	}
}

// TestCountLevels counts definition levels parquet-go encodes.
func TestCountLevels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		maxDef := byte(1 + r.IntN(4))
		levels := make([]byte, r.IntN(5000))
		for i := range levels {
			if r.IntN(3) > 0 {
				levels[i] = maxDef
			} else {
				levels[i] = byte(r.IntN(int(maxDef) + 1))
			}
			if i > 0 && r.IntN(2) == 0 {
				levels[i] = levels[i-1]
			}
		}
		width := bits.Len8(maxDef)
		src, err := (&rle.Encoding{BitWidth: width}).EncodeLevels(nil, levels)
		if err != nil {
			t.Fatal(err)
		}
		for level := range maxDef + 1 {
			got, err := countLevels(src, width, len(levels), level)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, l := range levels {
				if l == level {
					want++
				}
			}
			if got != want {
				t.Fatalf("%d levels %d of %d, want %d", got, level, len(levels), want)
			}
		}
	}
}

// FuzzRemapIndexes: on any bytes, remapIndexes errs or writes indexes
// that parquet-go decodes as parquet-go's decoding of the input, remapped.
func FuzzRemapIndexes(f *testing.F) {
	src, _ := (&rle.DictionaryEncoding{}).EncodeInt32(nil, []int32{0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 0})
	f.Add(src, 14, 4, uint64(1))
	f.Fuzz(func(t *testing.T, src []byte, n, size int, seed uint64) {
		if n < 0 || n > 1<<16 || size <= 0 || size > 1<<16 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 5))
		remap := make([]int32, size)
		for i := range remap {
			remap[i] = int32(r.IntN(1 << 20))
		}
		out, err := remapIndexes(nil, src, n, remap, bitWidth(remap))
		if err != nil {
			return
		}
		in, ok := refDecodeIndexes(src, n)
		if !ok {
			t.Fatalf("remapped %x, which the reference decoder rejects", src)
		}
		got, err := (&rle.DictionaryEncoding{}).DecodeInt32(nil, out)
		if err != nil {
			t.Fatalf("decode the remapped indexes: %v", err)
		}
		if len(got) < n {
			t.Fatalf("%d indexes, want %d", len(got), n)
		}
		want := make([]int32, n)
		for i, v := range in[:n] {
			want[i] = remap[v]
		}
		if !slices.Equal(got[:n], want) {
			t.Fatalf("remapped %v, want %v", got[:n], want)
		}
	})
}

// BenchmarkRemapIndexes remaps pages of 12,800 bit-packed indexes (a
// column of a 256 KiB file) into a larger dictionary: 2,000 values into
// 2,500 (11 bits to 12, the pageview URLs), 30 into 40 (5 to 6 bits, the
// user agents); and into a dictionary of the same bit width, as the
// pageview merge's are (2,000 URLs, 200 referrers, 30 user agents, 8
// countries). One op is one index.
func BenchmarkRemapIndexes(b *testing.B) {
	for _, c := range []struct{ from, to int }{{2000, 2500}, {30, 40}, {2000, 2000}, {200, 200}, {30, 30}, {8, 8}} {
		b.Run(fmt.Sprintf("%d-to-%d", bits.Len(uint(c.from-1)), bits.Len(uint(c.to-1))), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			idx := make([]int32, 12800)
			for i := range idx {
				idx[i] = int32(r.IntN(c.from))
			}
			src, _ := (&rle.DictionaryEncoding{}).EncodeInt32(nil, idx)
			remap := make([]int32, c.from)
			for i := range remap {
				remap[i] = int32(r.IntN(c.to))
			}
			remap[0] = int32(c.to - 1)
			var dst []byte
			var tab remapTable // kept for the pages of a remap, as the merge keeps it
			b.ResetTimer()
			for done := 0; done < b.N; done += len(idx) {
				var err error
				if dst, err = remapIndexesWith(dst[:0], src, len(idx), remap, bitWidth(remap), &tab); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRemapIndexesTable: long bit-packed runs (the table path: unpacked at
// once, looked up in a padded table, packed 8, 4 or 2 at a time) at every
// input bit width to 20 and every output bit width to 31, one remapTable
// reused for the pages of a remap and made again for the next remap, read
// back by parquet-go; an index past the dictionary in the middle of a run
// is an error.
func TestRemapIndexesTable(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var tab remapTable
	for from := 1; from <= 20; from++ {
		for to := 0; to <= 32; to++ {
			size := 1<<(from-1) + 1 + r.IntN(1<<(from-1))
			if from == 1 {
				size = 2
			}
			remap := make([]int32, size)
			for i := range remap {
				if to > 0 {
					remap[i] = int32(r.Uint32() & (1<<min(to, 31) - 1))
				}
			}
			if to > 0 {
				remap[r.IntN(size)] = int32(1<<min(to, 31) - 1)
			}
			if to == 32 {
				continue // remapped indexes are int32s
			}
			for page := range 3 {
				n := 100 + r.IntN(3000)
				idx := make([]int32, n)
				for i := range idx {
					idx[i] = int32(r.IntN(size))
				}
				idx[0] = int32(size - 1) // the page's bit width is from
				src, err := (&rle.DictionaryEncoding{}).EncodeInt32(nil, idx)
				if err != nil {
					t.Fatal(err)
				}
				if int(src[0]) != from {
					t.Fatalf("parquet-go wrote bit width %d, want %d", src[0], from)
				}
				out, err := remapIndexesWith([]byte{0xAA}, src, n, remap, bitWidth(remap), &tab)
				if err != nil {
					t.Fatalf("from %d to %d page %d: %v", from, to, page, err)
				}
				if out[0] != 0xAA {
					t.Fatal("dst's bytes overwritten")
				}
				got, err := (&rle.DictionaryEncoding{}).DecodeInt32(nil, out[1:])
				if err != nil {
					t.Fatalf("from %d to %d: decode: %v", from, to, err)
				}
				for i, v := range idx {
					if got[i] != remap[v] {
						t.Fatalf("from %d to %d page %d: index %d: %d remapped to %d, want %d", from, to, page, i, v, got[i], remap[v])
					}
				}
				if from < 20 && page == 2 {
					// An index past the dictionary, mid-run.
					idx[n/2] = int32(size + r.IntN(1<<from-size+1))
					if idx[n/2] >= 1<<from {
						continue
					}
					src, _ := (&rle.DictionaryEncoding{}).EncodeInt32(nil, idx)
					if _, err := remapIndexesWith(nil, src, n, remap, bitWidth(remap), &tab); err == nil {
						t.Fatalf("from %d to %d: index %d of a dictionary of %d: no error", from, to, idx[n/2], size)
					}
				}
			}
		}
	}
}
