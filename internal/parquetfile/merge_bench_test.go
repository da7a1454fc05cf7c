package parquetfile

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// The compaction benchmark of issue 15: 512 files of about 256 KiB of
// pageview rows in one partition, written as the pipeline writes them
// (package writer's encoder options, meta columns made by the encoder, one
// worker's Shared), merged into one file.

const (
	pageviewFiles    = 512
	pageviewFileSize = 256 << 10
)

// pageviewMergeSchema is package writer's pageview benchmark table (the
// five Hudi meta columns with the encodings writer gives them, nine data
// columns, three Kafka columns).
func pageviewMergeSchema() *parquet.Schema {
	str := func(id int) parquet.Node { return parquet.FieldID(parquet.Optional(parquet.String()), id) }
	names := []string{"_hoodie_commit_time", "_hoodie_commit_seqno", "_hoodie_record_key", "_hoodie_partition_path", "_hoodie_file_name",
		"userId", "sessionNumber", "pageNumber", "url", "referrer", "userAgent", "country", "eventTime",
		"_kafka_partition", "_kafka_offset", "_kafka_timestamp"}
	nodes := []parquet.Node{
		parquet.Encoded(str(1), &parquet.RLEDictionary), parquet.Encoded(str(2), &parquet.Plain), parquet.Encoded(str(3), &parquet.Plain),
		parquet.Encoded(str(4), &parquet.RLEDictionary), parquet.Encoded(str(5), &parquet.RLEDictionary),
		parquet.FieldID(parquet.Int(64), 6), parquet.FieldID(parquet.Int(32), 7), parquet.FieldID(parquet.Int(32), 8),
		parquet.FieldID(parquet.String(), 9), str(10), str(11), str(12),
		parquet.FieldID(parquet.Timestamp(parquet.Microsecond), 13), parquet.FieldID(parquet.Int(32), 14),
		parquet.FieldID(parquet.Int(64), 15), parquet.FieldID(parquet.Timestamp(parquet.Millisecond), 16),
	}
	return parquet.NewSchema("pageview", newOrderedGroup(names, nodes))
}

// pageviewSource makes pageview rows as package writer's benchmark does.
type pageviewSource struct {
	rng                          *rand.Rand
	urls, referrers, agents, cty [][]byte
	offset, eventTime            int64
	key                          []byte
}

func newPageviewSource() *pageviewSource {
	g := &pageviewSource{rng: rand.New(rand.NewPCG(1, 2)), eventTime: 1_700_000_000_000_000}
	for i := range 2000 {
		g.urls = append(g.urls, fmt.Appendf(nil, "https://shop.example.com/catalog/%d/item/%d?utm_source=news", i%40, i))
	}
	for i := range 200 {
		g.referrers = append(g.referrers, fmt.Appendf(nil, "https://www.search%d.example/q?k=%d", i%7, i))
	}
	for i := range 30 {
		g.agents = append(g.agents, fmt.Appendf(nil, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/%d.0 Safari/537.36", 100+i))
	}
	for _, c := range []string{"US", "DE", "FR", "JP", "BR", "IN", "GB", "NL"} {
		g.cty = append(g.cty, []byte(c))
	}
	return g
}

// fill appends n rows to cols (the generated meta columns left nil) and
// returns the smallest and largest record key.
func (g *pageviewSource) fill(cols [][]parquet.Value, n int, minKey, maxKey string) (string, string) {
	r := g.rng
	for c := range cols {
		cols[c] = cols[c][:0]
	}
	for range n {
		user := r.Int64N(1_000_000)
		g.offset++
		g.eventTime += r.Int64N(2000)
		g.key = strconv.AppendInt(append(g.key[:0], "user-"...), user, 10)
		g.key = append(g.key, '-')
		g.key = strconv.AppendInt(g.key, g.offset, 10)
		if k := string(g.key); minKey == "" || k < minKey {
			minKey = k
		}
		if k := string(g.key); k > maxKey {
			maxKey = k
		}
		cols[2] = append(cols[2], parquet.ByteArrayValue([]byte(string(g.key))).Level(0, 1, 2))
		cols[5] = append(cols[5], parquet.Int64Value(user).Level(0, 0, 5))
		cols[6] = append(cols[6], parquet.Int32Value(int32(r.IntN(50))).Level(0, 0, 6))
		cols[7] = append(cols[7], parquet.Int32Value(int32(r.IntN(20))).Level(0, 0, 7))
		cols[8] = append(cols[8], parquet.ByteArrayValue(g.urls[r.IntN(len(g.urls))]).Level(0, 0, 8))
		if r.IntN(4) == 0 {
			cols[9] = append(cols[9], parquet.NullValue().Level(0, 0, 9))
		} else {
			cols[9] = append(cols[9], parquet.ByteArrayValue(g.referrers[r.IntN(len(g.referrers))]).Level(0, 1, 9))
		}
		cols[10] = append(cols[10], parquet.ByteArrayValue(g.agents[r.IntN(len(g.agents))]).Level(0, 1, 10))
		cols[11] = append(cols[11], parquet.ByteArrayValue(g.cty[r.IntN(len(g.cty))]).Level(0, 1, 11))
		cols[12] = append(cols[12], parquet.Int64Value(g.eventTime).Level(0, 0, 12))
		cols[13] = append(cols[13], parquet.Int32Value(3).Level(0, 0, 13))
		cols[14] = append(cols[14], parquet.Int64Value(g.offset).Level(0, 0, 14))
		cols[15] = append(cols[15], parquet.Int64Value(g.eventTime/1000+5).Level(0, 0, 15))
	}
	for _, c := range []int{0, 1, 3, 4} {
		cols[c] = nil
	}
	return minKey, maxKey
}

// writePageviewFiles writes the benchmark's files into dir: files of rows
// rows each, as one worker of the pipeline writes them (writer.Set's
// encoder options, one Shared), 8 files per commit.
func writePageviewFiles(dir string, files, rows int) error {
	shared := NewShared()
	w, err := NewWriter(pageviewMergeSchema(), WithCodec(NewZstd(ZstdDefault)), WithPageBufferSize(1<<20),
		WithDictionaryMaxBytes(1<<20), WithDictionary(parquet.ByteArray),
		WithCreatedBy("lakestream version bench (build x)"), WithShared(shared), WithValidatedValues())
	if err != nil {
		return err
	}
	g := newPageviewSource()
	cols := make([][]parquet.Value, w.NumColumns())
	for i := range files {
		instant := fmt.Sprintf("202612051%05d000", i/8)
		name := fmt.Sprintf("f%07d-0000-0000-0000-000000000000-0_0-%d-%d_%s.parquet", i, i/8, i%8, instant)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w.Reset(f)
		str := func(s string, c int) parquet.Value { return parquet.ByteArrayValue([]byte(s)).Level(0, 1, c) }
		for _, c := range []struct {
			col int
			v   string
		}{{0, instant}, {3, "dt=2026-12-05"}, {4, name}} {
			if err := w.SetConstant(c.col, str(c.v, c.col)); err != nil {
				return err
			}
		}
		if err := w.SetSequence(1, []byte(instant+"_0_"), 0); err != nil {
			return err
		}
		var lo, hi string
		for done := 0; done < rows; done += 1024 {
			lo, hi = g.fill(cols, min(1024, rows-done), lo, hi)
			if err := w.WriteColumns(cols); err != nil {
				return err
			}
		}
		w.SetKeyValueMetadata(HudiMinRecordKey, lo)
		w.SetKeyValueMetadata(HudiMaxRecordKey, hi)
		if err := w.Close(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// pageviewDir returns the directory of the benchmark's files, written once
// (kept in the temporary directory between runs: remove it to write them
// again).
func pageviewDir(b *testing.B) (dir string, paths []string, total int64) {
	b.Helper()
	dir = filepath.Join(os.TempDir(), fmt.Sprintf("lakestream-merge-bench-v1-%d-%d", pageviewFiles, pageviewFileSize))
	if _, err := os.Stat(filepath.Join(dir, "done")); err != nil {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		// Rows per file: from a file of 50,000 rows.
		probe := b.TempDir()
		if err := writePageviewFiles(probe, 1, 50000); err != nil {
			b.Fatal(err)
		}
		m, _ := filepath.Glob(filepath.Join(probe, "*.parquet"))
		st, err := os.Stat(m[0])
		if err != nil {
			b.Fatal(err)
		}
		rows := int(int64(50000) * pageviewFileSize / st.Size())
		if err := writePageviewFiles(dir, pageviewFiles, rows); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	paths, _ = filepath.Glob(filepath.Join(dir, "*.parquet"))
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		total += st.Size()
	}
	return dir, paths, total
}

// fileInputs returns the MergeInputs of files.
func fileInputs(paths []string) []MergeInput {
	inputs := make([]MergeInput, len(paths))
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			panic(err)
		}
		inputs[i] = MergeInput{Key: filepath.Base(p), Size: st.Size(), Open: func(context.Context) (io.ReaderAt, error) { return os.Open(p) }}
	}
	return inputs
}

// BenchmarkMergePageviews: 512 files of about 256 KiB of pageview rows in
// one partition, merged into one file on the local filesystem by Merge
// (with and without VerifyMerge), re-encoded by parquet-go and by DuckDB
// (COPY ... TO ... (FORMAT parquet)), and copied by cat (the physical
// limit). MB/s is of the input files' bytes. query/ are DuckDB queries
// over the partition before (the 512 files) and after (the merged file):
// an aggregate by country with a distinct count, and a filtered scan.
//
//	go test -run '^$' -bench BenchmarkMergePageviews -benchtime 3x ./internal/parquetfile
func BenchmarkMergePageviews(b *testing.B) {
	_, paths, total := pageviewDir(b)
	out := filepath.Join(b.TempDir(), "merged.parquet")
	merge := func(b *testing.B, verify bool, opts ...MergeOption) *MergeResult {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		res, err := Merge(context.Background(), fileInputs(paths), f, append([]MergeOption{MergeHudi("merged.parquet")}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		if verify {
			if err := VerifyMerge(context.Background(), f, res.Bytes, res); err != nil {
				b.Fatal(err)
			}
		}
		return res
	}
	report := func(b *testing.B, res *MergeResult) {
		var sizes []string
		for _, rg := range res.RowGroups {
			sizes = append(sizes, fmt.Sprintf("%.1f", float64(rg.Bytes)/(1<<20)))
		}
		b.Logf("%d input bytes, %d rows -> %d bytes in %d row groups of %s MiB; chunks: %d copied, %d remapped, %d constant, %d re-encoded; pages %d copied, %d rewritten",
			total, res.Rows, res.Bytes, len(res.RowGroups), strings.Join(sizes, ", "), res.ChunksCopied, res.ChunksRemapped, res.ChunksConstant, res.ChunksReencoded, res.PagesCopied, res.PagesRewritten)
	}
	b.Run("merge", func(b *testing.B) {
		b.SetBytes(total)
		var res *MergeResult
		for range b.N {
			res = merge(b, false)
		}
		report(b, res)
	})
	b.Run("merge-concurrency-2", func(b *testing.B) {
		b.SetBytes(total)
		var res *MergeResult
		for range b.N {
			res = merge(b, false, MergeConcurrency(2))
		}
		report(b, res)
	})
	b.Run("merge-128MiB-row-groups", func(b *testing.B) {
		b.SetBytes(total)
		var res *MergeResult
		for range b.N {
			res = merge(b, false, MergeRowGroupBytes(128<<20))
		}
		report(b, res)
	})
	b.Run("merge+verify", func(b *testing.B) {
		b.SetBytes(total)
		for range b.N {
			merge(b, true)
		}
	})
	b.Run("parquet-go", func(b *testing.B) {
		b.SetBytes(total)
		for range b.N {
			if err := parquetGoReencode(paths, out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("duckdb", func(b *testing.B) {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.SetBytes(total)
		for range b.N {
			if _, err := db.Exec(fmt.Sprintf(`COPY (SELECT * FROM read_parquet(%s)) TO '%s' (FORMAT parquet, COMPRESSION zstd)`, sqlList(paths), out)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cat", func(b *testing.B) {
		b.SetBytes(total)
		for range b.N {
			cmd := exec.Command("sh", append([]string{"-c", `cat "$@" > "$0"`, out}, paths...)...)
			if msg, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, msg)
			}
		}
	})
	b.Run("query", func(b *testing.B) {
		dir := b.TempDir()
		merged, merged128 := filepath.Join(dir, "merged.parquet"), filepath.Join(dir, "merged128.parquet")
		for _, m := range []struct {
			path string
			opts []MergeOption
		}{{merged, nil}, {merged128, []MergeOption{MergeRowGroupBytes(128 << 20)}}} {
			f, err := os.Create(m.path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Merge(context.Background(), fileInputs(paths), f, append(m.opts, MergeHudi("merged.parquet"))...); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		queries := map[string]string{
			// Compute-bound: a distinct count per group.
			"group-by": `SELECT country, count(*), count(DISTINCT userId), avg(sessionNumber), max(eventTime) FROM read_parquet(%s) GROUP BY country ORDER BY country`,
			// Light per row: the files' own cost shows.
			"scan": `SELECT count(*), sum(sessionNumber), max(eventTime) FROM read_parquet(%s) WHERE country = 'DE'`,
		}
		for _, c := range []struct {
			name  string
			files string
		}{
			{"group-by/before", sqlList(paths)}, {"group-by/after", "'" + merged + "'"}, {"group-by/after-128MiB-row-groups", "'" + merged128 + "'"},
			{"scan/before", sqlList(paths)}, {"scan/after", "'" + merged + "'"}, {"scan/after-128MiB-row-groups", "'" + merged128 + "'"},
		} {
			q := queries[strings.Split(c.name, "/")[0]]
			b.Run(c.name, func(b *testing.B) {
				for range b.N {
					rows, err := db.Query(fmt.Sprintf(q, c.files))
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					if err := rows.Err(); err != nil {
						b.Fatal(err)
					}
					rows.Close()
				}
			})
		}
	})
}

// sqlList is a DuckDB list of the paths.
func sqlList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + p + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// parquetGoReencode writes the rows of the files to out with parquet-go,
// configured as package writer configures it (zstd, data page v1,
// dictionaries for byte arrays).
func parquetGoReencode(paths []string, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	var pw *parquet.Writer
	buf := make([]parquet.Row, 1024)
	var flushed int64
	for _, p := range paths {
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		st, _ := in.Stat()
		pf, err := parquet.OpenFile(in, st.Size())
		if err != nil {
			return err
		}
		if pw == nil {
			pw = parquet.NewWriter(f, pf.Schema(), parquet.Compression(&parquet.Zstd), parquet.DataPageVersion(1),
				parquet.DataPageStatistics(false), parquet.DictionaryMaxBytes(1<<20),
				parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary))
		}
		for _, rg := range pf.RowGroups() {
			rows := rg.Rows()
			for {
				n, err := rows.ReadRows(buf)
				if _, werr := pw.WriteRows(buf[:n]); werr != nil {
					return werr
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
			}
			rows.Close()
			if pw.Size()-flushed >= DefaultMergeRowGroupBytes {
				if err := pw.Flush(); err != nil {
					return err
				}
				flushed = pw.Size()
			}
		}
		in.Close()
	}
	return pw.Close()
}
