package iceberg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/redact"
)

// ErrForeignMetadata is the error of a publish whose table holds Iceberg
// metadata written for another location: the table was copied or moved
// with it (docs/operations.md, "Moving a table").
var ErrForeignMetadata = errors.New("iceberg: metadata of another location")

// Where the Iceberg metadata lives, relative to the table root.
const (
	MetadataDir = "metadata"
	// VersionHintKey holds the newest metadata version N, in decimal, for
	// readers that find metadata/v<N>.metadata.json through it.
	VersionHintKey = MetadataDir + "/version-hint.text"
)

// MetadataKey is the key of metadata version n.
func MetadataKey(n int) string { return fmt.Sprintf("%s/v%d.metadata.json", MetadataDir, n) }

// parseMetadataKey returns n of metadata/v<n>.metadata.json.
func parseMetadataKey(key string) (int, bool) {
	name, ok := strings.CutPrefix(key, MetadataDir+"/v")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(name, ".metadata.json")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || strconv.Itoa(n) != num {
		return 0, false
	}
	return n, true
}

// errConflict is returned when another publisher took the next metadata
// version first.
var errConflict = errors.New("another publisher committed the next metadata version first")

// session is iceberg-go's catalog for one operation of a Publisher: it
// loads the newest metadata version and commits the next one with
// put-if-absent, which is the compare-and-swap that serialises publishers.
// Its file IO is bound to the operation's context.
type session struct {
	p    *Publisher
	ctx  context.Context
	io   *bucketIO
	hint int // the version hint the last load read (0: none or damaged)
}

var _ table.CatalogIO = (*session)(nil)

func (p *Publisher) newSession(ctx context.Context) *session {
	return &session{p: p, ctx: ctx, io: &bucketIO{bucket: p.bucket, location: p.location, ctx: ctx}}
}

func (s *session) fsF(context.Context) (icebergio.IO, error) { return s.io, nil }

func (s *session) ident() table.Identifier { return table.Identifier{s.p.name} }

// LoadTable loads the newest metadata version; an error if there is none.
func (s *session) LoadTable(ctx context.Context, _ table.Identifier) (*table.Table, error) {
	t, _, err := s.load()
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("no Iceberg metadata in %s/%s", s.p.location, MetadataDir)
	}
	return t, nil
}

// load returns the newest metadata version and the table it describes
// (nil, 0 if there is none): from the highest version this process has
// seen and the version hint, it probes v<N+1>, v<N+2>... until one is
// missing; without either it lists metadata/.
func (s *session) load() (*table.Table, int, error) {
	b := s.p.bucket
	v := s.p.lastVersion()
	hint, err := s.readHint()
	if err != nil {
		return nil, 0, err
	}
	s.hint = hint
	v = max(v, hint)
	if v == 0 {
		var err error
		if v, err = s.listNewest(); err != nil || v == 0 {
			return nil, 0, err
		}
	}
	for {
		_, err := b.Stat(s.ctx, MetadataKey(v+1))
		if errors.Is(err, objstore.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("load iceberg metadata: %w", err)
		}
		v++
	}
	// The version's size and modification time, taken before it is read:
	// a version this process wrote or parsed is used as is if it is the
	// same object, and the one read is cached with them.
	info, err := b.Stat(s.ctx, MetadataKey(v))
	if err != nil && !errors.Is(err, objstore.ErrNotExist) {
		return nil, 0, fmt.Errorf("load iceberg metadata: %w", err)
	}
	known := err == nil
	if known {
		if meta, ok := s.p.cachedVersion(v, info); ok {
			s.p.noteVersion(v)
			return table.New(s.ident(), meta, s.p.location+"/"+MetadataKey(v), s.fsF, s), v, nil
		}
	}
	data, err := objstore.ReadAll(s.ctx, b, MetadataKey(v))
	if errors.Is(err, objstore.ErrNotExist) {
		// The hint or this process's memory points at a version that is
		// gone (deleted as too old) and nothing newer follows it: find
		// the newest by listing.
		if v, err = s.listNewest(); err != nil || v == 0 {
			return nil, 0, err
		}
		known = false
		data, err = objstore.ReadAll(s.ctx, b, MetadataKey(v))
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load iceberg metadata: %w", err)
	}
	meta, err := table.ParseMetadataBytes(data)
	if err != nil {
		return nil, 0, fmt.Errorf("load iceberg metadata %s: %w", MetadataKey(v), err)
	}
	if loc := strings.TrimSuffix(meta.Location(), "/"); loc != s.p.location {
		// Every path in Iceberg metadata is absolute: metadata copied
		// with a table names the files of the original, which may change
		// or go away. Building on it would publish a table that reads
		// another one's manifests.
		return nil, 0, fmt.Errorf("%w: %s names the table at %s, not %s: the table was copied or moved with its Iceberg metadata; remove %s/ (and %s) under the new location, and the next start publishes the table again from its Hudi timeline",
			ErrForeignMetadata, MetadataKey(v), redact.URL(loc), redact.URL(s.p.location), MetadataDir, VersionHintKey)
	}
	s.p.noteVersion(v)
	if known && info.Size == int64(len(data)) {
		s.p.cacheVersion(v, info.Size, info.ModTime, meta)
	}
	return table.New(s.ident(), meta, s.p.location+"/"+MetadataKey(v), s.fsF, s), v, nil
}

func (s *session) readHint() (int, error) {
	data, err := objstore.ReadAll(s.ctx, s.p.bucket, VersionHintKey)
	if errors.Is(err, objstore.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", VersionHintKey, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || n < 0 {
		// A damaged hint is only a hint: list instead.
		s.p.opts.logger.Warn("iceberg version hint is not a number; listing metadata", "key", VersionHintKey)
		return 0, nil
	}
	return n, nil
}

func (s *session) listNewest() (int, error) {
	newest := 0
	err := s.p.bucket.List(s.ctx, MetadataDir+"/v", func(info objstore.ObjectInfo) error {
		if n, ok := parseMetadataKey(info.Key); ok && n > newest {
			newest = n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list iceberg metadata: %w", err)
	}
	return newest, nil
}

// putVersion creates metadata version n with put-if-absent, then points
// the version hint at it. ErrExists (errConflict) means another publisher
// took n, unless what is there is what this put wrote: a put whose
// response was lost and that the S3 client retried finds its own object.
func (s *session) putVersion(n int, meta table.Metadata) error {
	data, err := encodeMetadata(meta)
	if err != nil {
		return fmt.Errorf("encode iceberg metadata: %w", err)
	}
	key := MetadataKey(n)
	err = s.p.bucket.PutIfAbsent(s.ctx, key, bytes.NewReader(data))
	if errors.Is(err, objstore.ErrExists) {
		there, rerr := objstore.ReadAll(s.ctx, s.p.bucket, key)
		if rerr != nil && !errors.Is(rerr, objstore.ErrNotExist) {
			// Not known whose it is: neither a lost race (whose
			// manifests the caller deletes) nor a success.
			return fmt.Errorf("create %s: exists, and reading it: %w", key, rerr)
		}
		if rerr != nil || !bytes.Equal(there, data) {
			return errConflict
		}
		s.p.opts.logger.Info("iceberg metadata version found created by this publisher's own retried put", "version", n)
		err = nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	s.p.noteVersion(n)
	// Cached with the time the store gives it; without one it is not.
	if info, err := s.p.bucket.Stat(s.ctx, key); err == nil && info.Size == int64(len(data)) {
		s.p.cacheVersion(n, info.Size, info.ModTime, meta)
	}
	s.writeHint(n)
	return nil
}

// encodeMetadata is json.Marshal(meta) without its second pass over the
// output (encoding/json compacts and checks what a Marshaler returns; the
// metadata's MarshalJSON returns what json.Marshal made): a third of the
// encoding's cost for metadata with hundreds of snapshots.
func encodeMetadata(meta table.Metadata) ([]byte, error) {
	if m, ok := meta.(json.Marshaler); ok {
		return m.MarshalJSON()
	}
	return json.Marshal(meta)
}

// hintTimeout bounds writeHint, which outlives the operation's context.
const hintTimeout = 30 * time.Second

// writeHint points the version hint at n. Two publishers may put their
// hints in either order; a hint found behind a newer version is put again,
// so that it ends at the newest one seen. It runs to the end (hintTimeout
// at most) even if the operation's context is cancelled: the version is
// created, and a hint left behind it stays behind until the next publish.
// A failure is only logged: the hint is an optimisation for readers, never
// the truth.
func (s *session) writeHint(n int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), hintTimeout)
	defer cancel()
	for range 8 {
		if err := s.p.bucket.Put(ctx, VersionHintKey, strings.NewReader(strconv.Itoa(n))); err != nil {
			s.p.opts.logger.Warn("write iceberg version hint", "version", n, "err", err)
			return
		}
		newest := n
		for {
			if _, err := s.p.bucket.Stat(ctx, MetadataKey(newest+1)); err != nil {
				break
			}
			newest++
		}
		if newest == n {
			return
		}
		n = newest
	}
}

// CommitTable checks the requirements against the newest metadata and
// commits the updated metadata as the next version. A failed requirement
// or a lost race is table.ErrCommitFailed (wrapping errConflict for the
// race).
func (s *session) CommitTable(_ context.Context, _ table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	return s.commitAt(0, reqs, updates)
}

// commitAt is CommitTable on metadata version base: a lost race
// (errConflict) if the newest version is another one. 0 means on the
// newest.
func (s *session) commitAt(base int, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	cur, v, err := s.load()
	if err != nil {
		return nil, "", err
	}
	if cur == nil {
		return nil, "", fmt.Errorf("%w: the Iceberg table does not exist", table.ErrCommitFailed)
	}
	if base != 0 && v != base {
		return nil, "", fmt.Errorf("%w: %w: version %d is newer than %d", table.ErrCommitFailed, errConflict, v, base)
	}
	for _, r := range reqs {
		if err := r.Validate(cur.Metadata()); err != nil {
			return nil, "", fmt.Errorf("%w: %w: %v", table.ErrCommitFailed, errConflict, err)
		}
	}
	updated, err := table.UpdateTableMetadata(cur.Metadata(), updates, cur.MetadataLocation())
	if err != nil {
		return nil, "", fmt.Errorf("apply iceberg metadata updates: %w", err)
	}
	if err := s.putVersion(v+1, updated); err != nil {
		if errors.Is(err, errConflict) {
			return nil, "", fmt.Errorf("%w: %w", table.ErrCommitFailed, errConflict)
		}
		return nil, "", err
	}
	return updated, s.p.location + "/" + MetadataKey(v+1), nil
}

// create writes metadata version 1: the schema with the files' field IDs
// (no reassignment), the spec, no snapshot. If another publisher created
// the table first, theirs stands.
func (s *session) create(schema *iceberg.Schema, spec iceberg.PartitionSpec) error {
	b, err := table.NewMetadataBuilder(2)
	if err != nil {
		return err
	}
	steps := []func() error{
		func() error { return b.SetUUID(uuid.New()) },
		func() error { return b.AddSchema(schema) },
		func() error { return b.SetCurrentSchemaID(-1) },
		func() error { return b.AddSortOrder(&table.UnsortedSortOrder) },
		func() error { return b.SetDefaultSortOrderID(-1) },
		func() error { return b.AddPartitionSpec(&spec, true) },
		func() error { return b.SetDefaultSpecID(-1) },
		func() error { return b.SetLoc(s.p.location) },
		func() error { return b.SetProperties(s.p.tableProperties()) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("create iceberg metadata: %w", err)
		}
	}
	meta, err := b.Build()
	if err != nil {
		return fmt.Errorf("create iceberg metadata: %w", err)
	}
	if err := s.putVersion(1, meta); err != nil && !errors.Is(err, errConflict) {
		return err
	}
	return nil
}
