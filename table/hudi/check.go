package hudi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/lakestream/lakestream/internal/objstore"
)

// CheckOptions says how deep Table.Check looks.
type CheckOptions struct {
	// Archived also checks the files recorded by instants lakestream
	// archived (read from every archive file in .hoodie/archived/), not
	// only those of the active timeline. Default false.
	Archived bool
	// Footers reads every committed file's Parquet footer and compares its
	// row count with the commit's numWrites. Default false: only presence
	// and size are checked, from one listing.
	Footers bool
}

// Kinds of FileProblem.
const (
	ProblemMissing    = "missing"    // recorded by a commit, absent from storage
	ProblemHidden     = "hidden"     // present, but its partition has no .hoodie_partition_metadata
	ProblemShadowed   = "shadowed"   // readers see another base file of its file group
	ProblemSize       = "size"       // size differs from the commit's fileSizeInBytes
	ProblemUnreadable = "unreadable" // not a readable Parquet file (truncated, corrupt footer)
	ProblemRows       = "row-count"  // footer row count differs from the commit's numWrites
)

// FileProblem is one committed base file that readers cannot read as its
// commit recorded it.
type FileProblem struct {
	Path    string `json:"path"`
	Instant string `json:"instant"`
	Kind    string `json:"kind"`
	Detail  string `json:"detail"`
}

func (p FileProblem) String() string {
	return fmt.Sprintf("%s (instant %s): %s: %s", p.Path, p.Instant, p.Kind, p.Detail)
}

// CheckReport is what Table.Check found.
type CheckReport struct {
	// Snapshot is what a reader sees, from the same listing.
	Snapshot *Snapshot `json:"-"`
	// Files is the number of committed files checked; Rows and Bytes are
	// what their commits recorded.
	Files int   `json:"files"`
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// FootersRead is the number of footers read (CheckOptions.Footers).
	FootersRead int `json:"footersRead"`
	// Unverified lists the snapshot's files that no checked commit records:
	// files of instants archived by Hudi (or, without
	// CheckOptions.Archived, by lakestream). Their presence is all that is
	// known.
	Unverified []string `json:"unverified"`
	// Problems are sorted by path.
	Problems []FileProblem `json:"problems"`
}

// committedFile is the newest base file of a file group as the commit
// metadata records it.
type committedFile struct {
	path, partition, fileID, instant string
	rows, size                       int64
}

// Check compares the base files the commit metadata says a reader sees
// (the newest file of every file group written by a completed, not rolled
// back instant, without the groups a completed replacecommit replaced) with
// the table's storage, and reports every file that is missing, invisible
// to readers (its partition lost .hoodie_partition_metadata), shadowed by a
// file no commit records, of another size than recorded, or (with
// opts.Footers) unreadable as Parquet or holding another number of rows.
//
// It only reads: the timeline, the commit metadata (and with opts.Archived
// the archive files), one listing of the table, and with opts.Footers the
// last bytes of every committed file. An error means the check could not
// be made; problems found are in the report.
func (t *Table) Check(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	// A completed instant listed, then gone, was archived by another
	// process in between: read again.
	return readAgainIfArchived(ctx, func() (*CheckReport, error) { return t.checkOnce(ctx, opts) })
}

func (t *Table) checkOnce(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	dead, err := t.rolledBack(ctx)
	if err != nil {
		return nil, err
	}
	type instantMeta struct {
		ts string
		m  *CommitMetadata
	}
	var metas []instantMeta
	seen := map[string]bool{}
	if opts.Archived {
		archived, err := t.archivedMetadata(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range archived {
			if !seen[a.ts] {
				seen[a.ts] = true
				metas = append(metas, instantMeta{a.ts, a.m})
			}
		}
	}
	completed := tl.Completed()
	active, err := t.readAllMetadata(ctx, completed, false)
	if err != nil {
		return nil, err
	}
	for i, e := range completed {
		if !seen[e.Time] {
			seen[e.Time] = true
			metas = append(metas, instantMeta{e.Time, active[i]})
		}
	}
	sort.SliceStable(metas, func(i, j int) bool { return metas[i].ts < metas[j].ts })

	expected := map[string]committedFile{} // partition\x00fileId
	replaced := map[string]bool{}
	for _, im := range metas {
		if dead[im.ts] {
			continue
		}
		for part, stats := range im.m.PartitionToWriteStats {
			for _, st := range stats {
				if st.Path == nil {
					continue // ParseCommitMetadata refuses this for completed instants
				}
				key := part + "\x00" + st.FileID
				f := committedFile{path: *st.Path, partition: part, fileID: st.FileID, instant: im.ts, rows: st.NumWrites, size: st.FileSizeInBytes}
				if cur, ok := expected[key]; !ok || f.instant > cur.instant || (f.instant == cur.instant && f.path > cur.path) {
					expected[key] = f
				}
			}
		}
		for part, ids := range im.m.PartitionToReplaceFileIDs {
			for _, id := range ids {
				replaced[part+"\x00"+id] = true
			}
		}
	}

	// One listing: every object outside .hoodie/, and the partitions.
	objects := map[string]int64{}
	partitions := map[string]bool{}
	var bases []BaseFile
	err = t.bucket.List(ctx, "", func(info objstore.ObjectInfo) error {
		if info.Key == MetaDir || strings.HasPrefix(info.Key, MetaDir+"/") || strings.Contains(info.Key, "/"+MetaDir+"/") {
			return nil
		}
		objects[info.Key] = info.Size
		dir, name := splitTablePath(info.Key)
		if name == PartitionMetadataFile || strings.HasPrefix(name, PartitionMetadataFile+".") {
			partitions[dir] = true
			return nil
		}
		if fileID, token, ts, ok := ParseBaseFileName(name); ok && !dead[ts] {
			bases = append(bases, BaseFile{Path: info.Key, FileID: fileID, Partition: dir, Instant: ts, WriteToken: token, SizeBytes: info.Size})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list table: %w", err)
	}
	visible := bases[:0]
	for _, f := range bases {
		if partitions[f.Partition] {
			visible = append(visible, f)
		}
	}
	snap, err := t.snapshotOf(ctx, tl, visible)
	if err != nil {
		return nil, err
	}
	inSnapshot := map[string]BaseFile{} // partition\x00fileId
	for _, f := range snap.Files {
		inSnapshot[f.Partition+"\x00"+f.FileID] = f
	}

	rep := &CheckReport{Snapshot: snap, Unverified: []string{}, Problems: []FileProblem{}}
	var present []committedFile
	for key, f := range expected {
		if replaced[key] {
			continue
		}
		rep.Files++
		rep.Rows += f.rows
		rep.Bytes += f.size
		problem := func(kind, format string, args ...any) {
			rep.Problems = append(rep.Problems, FileProblem{Path: f.path, Instant: f.instant, Kind: kind, Detail: fmt.Sprintf(format, args...)})
		}
		size, ok := objects[f.path]
		switch {
		case !ok:
			problem(ProblemMissing, "recorded with %d rows and %d bytes; the file is not in storage", f.rows, f.size)
			continue
		case !partitions[f.partition]:
			problem(ProblemHidden, "partition %q has no %s: readers skip its files", f.partition, PartitionMetadataFile)
		case inSnapshot[key].Path == "":
			problem(ProblemShadowed, "readers do not see it")
		case inSnapshot[key].Path != f.path:
			problem(ProblemShadowed, "readers see %s instead, which no checked commit records", inSnapshot[key].Path)
		}
		if f.size > 0 && size != f.size {
			problem(ProblemSize, "%d bytes, the commit recorded %d", size, f.size)
		}
		present = append(present, f)
	}
	for key, f := range inSnapshot {
		if _, ok := expected[key]; !ok || replaced[key] {
			rep.Unverified = append(rep.Unverified, f.Path)
		}
	}
	if opts.Footers {
		rep.FootersRead = len(present)
		rep.Problems = append(rep.Problems, t.checkFooters(ctx, present, objects)...)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	sort.Strings(rep.Unverified)
	sort.Slice(rep.Problems, func(i, j int) bool {
		if rep.Problems[i].Path != rep.Problems[j].Path {
			return rep.Problems[i].Path < rep.Problems[j].Path
		}
		return rep.Problems[i].Kind < rep.Problems[j].Kind
	})
	return rep, nil
}

type archivedMeta struct {
	ts string
	m  *CommitMetadata
}

// archivedMetadata reads the commit metadata of every data instant in
// lakestream's archive files.
func (t *Table) archivedMetadata(ctx context.Context) ([]archivedMeta, error) {
	var names []string
	err := t.bucket.List(ctx, archivePrefix, func(info objstore.ObjectInfo) error {
		if strings.HasSuffix(info.Key, ".json") {
			names = append(names, info.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list archive: %w", err)
	}
	var out []archivedMeta
	for _, name := range names {
		err := t.readArchivedInstants(ctx, name, func(ts, action string, m *CommitMetadata) error {
			if writesData(action) && m != nil {
				out = append(out, archivedMeta{ts, m})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkFooters reads the footer of every file, t.opts.readConcurrency at a
// time.
func (t *Table) checkFooters(ctx context.Context, files []committedFile, sizes map[string]int64) []FileProblem {
	var (
		mu       sync.Mutex
		problems []FileProblem
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, t.opts.readConcurrency)
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rows, err := ReadFooterRows(ctx, t.bucket, f.path, sizes[f.path])
			var p *FileProblem
			switch {
			case err != nil && ctx.Err() != nil:
			case err != nil:
				p = &FileProblem{Path: f.path, Instant: f.instant, Kind: ProblemUnreadable, Detail: err.Error()}
			case rows != f.rows:
				p = &FileProblem{Path: f.path, Instant: f.instant, Kind: ProblemRows, Detail: fmt.Sprintf("the footer holds %d rows, the commit recorded %d", rows, f.rows)}
			}
			if p != nil {
				mu.Lock()
				problems = append(problems, *p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return problems
}

// MaxFooterBytes bounds the Parquet footer ReadFooterRows reads: a footer
// claiming more is reported as corrupt, not allocated.
const MaxFooterBytes = 64 << 20

// parquetMagic starts and ends every Parquet file.
const parquetMagic = "PAR1"

// ReadFooterRows reads the Parquet footer of the object at key, whose size
// is size, and returns its row count. It checks both magic numbers, that
// the footer fits in the file, and that the row groups add up to the
// file's row count. The footer is walked without decoding it into
// structures, so a hostile one allocates nothing beyond its own bytes
// (at most MaxFooterBytes).
func ReadFooterRows(ctx context.Context, b objstore.Store, key string, size int64) (int64, error) {
	if size < int64(2*len(parquetMagic)+4) {
		return 0, fmt.Errorf("%d bytes: too short for a Parquet file", size)
	}
	head, err := readRange(ctx, b, key, 0, int64(len(parquetMagic)))
	if err != nil {
		return 0, err
	}
	if string(head) != parquetMagic {
		return 0, fmt.Errorf("does not start with %s: not a Parquet file", parquetMagic)
	}
	tail, err := readRange(ctx, b, key, size-8, 8)
	if err != nil {
		return 0, err
	}
	if string(tail[4:]) != parquetMagic {
		return 0, fmt.Errorf("does not end with %s: truncated or not a Parquet file", parquetMagic)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n == 0 || n > size-12 || n > MaxFooterBytes {
		return 0, fmt.Errorf("footer length %d does not fit the file's %d bytes: truncated or corrupt", n, size)
	}
	footer, err := readRange(ctx, b, key, size-8-n, n)
	if err != nil {
		return 0, err
	}
	rows, err := footerRows(footer)
	if err != nil {
		return 0, fmt.Errorf("corrupt footer: %w", err)
	}
	return rows, nil
}

// readRange reads exactly n bytes at off.
func readRange(ctx context.Context, b objstore.Store, key string, off, n int64) ([]byte, error) {
	rc, err := b.GetRange(ctx, key, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("read %d bytes at %d: %w", n, off, err)
	}
	return buf, nil
}

// footerRows walks a Thrift compact-encoded FileMetaData and returns its
// num_rows (field 3), after checking that the num_rows (field 3) of its
// row groups (field 4) add up to it.
func footerRows(b []byte) (int64, error) {
	r := &thriftReader{b: b}
	var rows, groupRows int64
	var hasRows bool
	err := r.structFields(0, func(id int16, typ byte) error {
		switch {
		case id == 3 && typ == tI64:
			v, err := r.varint()
			rows, hasRows = v, true
			return err
		case id == 4 && typ == tList:
			elem, n, err := r.listHeader()
			if err != nil {
				return err
			}
			if elem != tStruct {
				return fmt.Errorf("row groups: list of type %d, want structs", elem)
			}
			for range n {
				err := r.structFields(1, func(id int16, typ byte) error {
					if id == 3 && typ == tI64 {
						v, err := r.varint()
						if err != nil {
							return err
						}
						if v < 0 || v > math.MaxInt64-groupRows {
							return fmt.Errorf("row group with %d rows", v)
						}
						groupRows += v
						return nil
					}
					return r.skip(typ, 2)
				})
				if err != nil {
					return err
				}
			}
			return nil
		}
		return r.skip(typ, 1)
	})
	if err != nil {
		return 0, err
	}
	if r.off != len(r.b) {
		return 0, fmt.Errorf("%d bytes after the file metadata", len(r.b)-r.off)
	}
	if !hasRows || rows < 0 {
		return 0, errors.New("no row count")
	}
	if groupRows != rows {
		return 0, fmt.Errorf("row groups hold %d rows, the file metadata says %d", groupRows, rows)
	}
	return rows, nil
}

// Thrift compact protocol types.
const (
	tStop   = 0
	tTrue   = 1
	tFalse  = 2
	tByte   = 3
	tI16    = 4
	tI32    = 5
	tI64    = 6
	tDouble = 7
	tBinary = 8
	tList   = 9
	tSet    = 10
	tMap    = 11
	tStruct = 12
	tUUID   = 13
)

// maxThriftDepth bounds the nesting a footer may use (Parquet's is about 6).
const maxThriftDepth = 32

// thriftReader walks Thrift compact protocol bytes without allocating.
type thriftReader struct {
	b   []byte
	off int
}

var errShort = errors.New("unexpected end of footer")

func (r *thriftReader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errShort
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *thriftReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, errShort
	}
	r.off += n
	return v, nil
}

// varint reads a zigzag varint (i16, i32, i64).
func (r *thriftReader) varint() (int64, error) {
	u, err := r.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

func (r *thriftReader) advance(n uint64) error {
	if n > uint64(len(r.b)-r.off) {
		return errShort
	}
	r.off += int(n)
	return nil
}

// listHeader reads a list or set header: element type and count. Each
// element takes at least one byte, so a count above the bytes left is
// corrupt.
func (r *thriftReader) listHeader() (elem byte, n int, err error) {
	h, err := r.byte()
	if err != nil {
		return 0, 0, err
	}
	size := uint64(h >> 4)
	if size == 15 {
		if size, err = r.uvarint(); err != nil {
			return 0, 0, err
		}
	}
	if size > uint64(len(r.b)-r.off) {
		return 0, 0, fmt.Errorf("list of %d elements in %d bytes", size, len(r.b)-r.off)
	}
	return h & 0x0f, int(size), nil
}

// structFields calls fn for every field of a struct up to its stop byte;
// fn must consume the field's value.
func (r *thriftReader) structFields(depth int, fn func(id int16, typ byte) error) error {
	if depth > maxThriftDepth {
		return errors.New("nested too deep")
	}
	var id int16
	for {
		h, err := r.byte()
		if err != nil {
			return err
		}
		typ := h & 0x0f
		if typ == tStop {
			return nil
		}
		if delta := int16(h >> 4); delta != 0 {
			id += delta
		} else {
			v, err := r.varint()
			if err != nil {
				return err
			}
			id = int16(v)
		}
		if err := fn(id, typ); err != nil {
			return err
		}
	}
}

// skip consumes one value of type typ.
func (r *thriftReader) skip(typ byte, depth int) error {
	if depth > maxThriftDepth {
		return errors.New("nested too deep")
	}
	switch typ {
	case tTrue, tFalse:
		return nil // a field's value is in its type
	case tByte:
		_, err := r.byte()
		return err
	case tI16, tI32, tI64:
		_, err := r.uvarint()
		return err
	case tDouble:
		return r.advance(8)
	case tUUID:
		return r.advance(16)
	case tBinary:
		n, err := r.uvarint()
		if err != nil {
			return err
		}
		return r.advance(n)
	case tList, tSet:
		elem, n, err := r.listHeader()
		if err != nil {
			return err
		}
		for range n {
			if err := r.skipElem(elem, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tMap:
		n, err := r.uvarint()
		if err != nil || n == 0 {
			return err
		}
		if n > uint64(len(r.b)-r.off) {
			return fmt.Errorf("map of %d entries in %d bytes", n, len(r.b)-r.off)
		}
		kv, err := r.byte()
		if err != nil {
			return err
		}
		for range n {
			if err := r.skipElem(kv>>4, depth+1); err != nil {
				return err
			}
			if err := r.skipElem(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tStruct:
		return r.structFields(depth+1, func(_ int16, typ byte) error { return r.skip(typ, depth+1) })
	}
	return fmt.Errorf("unknown thrift type %d", typ)
}

// skipElem consumes one element of a list, set or map: booleans take a
// byte there.
func (r *thriftReader) skipElem(typ byte, depth int) error {
	if typ == tTrue || typ == tFalse {
		_, err := r.byte()
		return err
	}
	return r.skip(typ, depth)
}
