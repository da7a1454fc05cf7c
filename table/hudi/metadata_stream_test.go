package hudi

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// WriteTo renders exactly what Marshal does (json.MarshalIndent), for
// metadata of every shape: empty and nil maps and slices, replaced file
// groups, characters JSON escapes.
func TestWriteToMatchesMarshal(t *testing.T) {
	str := func(s string) *string { return &s }
	i64 := func(v int64) *int64 { return &v }
	cases := []*CommitMetadata{
		{},
		{PartitionToWriteStats: map[string][]WriteStat{}, ExtraMetadata: map[string]string{}},
		{PartitionToWriteStats: map[string][]WriteStat{"a": nil, "b": {}}, OperationType: OperationInsert},
		{PartitionToReplaceFileIDs: map[string][]string{"dt=1": {"x", "y"}, "": nil}, OperationType: OperationCluster, Compacted: true},
		{PartitionToReplaceFileIDs: map[string][]string{}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 20 {
		m := &CommitMetadata{PartitionToWriteStats: map[string][]WriteStat{}, ExtraMetadata: map[string]string{}, OperationType: OperationInsert}
		for p := range rng.IntN(5) {
			part := fmt.Sprintf("dt=2026-12-0%d/hr=<%d>&\"\\é\u2028", p, n)
			for range rng.IntN(4) {
				st := WriteStat{FileID: fmt.Sprint(rng.Int64()), Path: str(part + "/f.parquet"), PartitionPath: str(part),
					PrevCommit: NoPrevCommit, NumWrites: rng.Int64N(1e9), RuntimeStats: &RuntimeStats{}}
				if rng.IntN(2) == 0 {
					st.MinEventTime, st.MaxEventTime = i64(rng.Int64()), i64(-rng.Int64())
				}
				m.PartitionToWriteStats[part] = append(m.PartitionToWriteStats[part], st)
			}
		}
		for k := range rng.IntN(4) {
			m.ExtraMetadata[fmt.Sprintf("key%d<", k)] = fmt.Sprintf("{\"v\":%d}\n", rng.Int())
		}
		cases = append(cases, m)
	}
	for i, m := range cases {
		want, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		n, err := m.WriteTo(&got)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(got.Len()) || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("case %d: WriteTo (%d bytes, said %d):\n%s\nMarshal:\n%s", i, got.Len(), n, got.Bytes(), want)
		}
	}
}
