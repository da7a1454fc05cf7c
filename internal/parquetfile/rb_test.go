package parquetfile

import (
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/rle"
)

func BenchmarkRemapTab(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	idx := make([]int32, 12800)
	for i := range idx {
		idx[i] = int32(r.IntN(2000))
	}
	src, _ := (&rle.DictionaryEncoding{}).EncodeInt32(nil, idx)
	remap := make([]int32, 2000)
	for i := range remap {
		remap[i] = int32(r.IntN(2500))
	}
	remap[0] = 2499
	var dst []byte
	var tab remapTable
	b.ResetTimer()
	for done := 0; done < b.N; done += len(idx) {
		var err error
		if dst, err = remapIndexesWith(dst[:0], src, len(idx), remap, bitWidth(remap), &tab); err != nil {
			b.Fatal(err)
		}
	}
}
