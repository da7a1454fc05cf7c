package iceberg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// Snapshot summary keys: every snapshot says which Hudi instant it
// publishes.
const (
	SummaryInstant      = "lakestream.hudi.instant"
	SummaryAction       = "lakestream.hudi.action"
	SummaryCheckpointID = "lakestream.checkpoint.id"
	SummaryWriterID     = "lakestream.writer.id"
)

// Table properties the publisher sets.
const (
	// PropExpiredThrough is the newest Hudi instant whose snapshot may
	// have been expired: every completed instant up to it was published.
	PropExpiredThrough = "lakestream.expired-through"
	// PropExpiredAfter lists, comma-separated and sorted, the instants
	// newer than PropExpiredThrough whose snapshots were expired: they
	// were published before an older instant that completed late, and the
	// expiry through that one removed them with every snapshot committed
	// before its own. They count as published. An expiry drops the
	// instants its new PropExpiredThrough covers; absent when empty.
	PropExpiredAfter = "lakestream.expired-after"
	// PropHudiTable names the Hudi table (hoodie.table.name).
	PropHudiTable = "lakestream.hudi.table"
)

// Publisher publishes a lakestream Hudi table as an Iceberg v2 table
// beside it: one snapshot per completed Hudi commit or replacecommit, in
// timeline order, never one twice, none skipped. It owns no goroutine:
// its methods do their work before they return. Its methods are safe for
// concurrent use (this process's calls take turns); publishers in other
// processes serialise through the put-if-absent of the next metadata
// version.
type Publisher struct {
	table      *hudi.Table
	bucket     objstore.Store
	location   string
	name       string
	partFields []string
	hive       bool
	opts       options

	mu      sync.Mutex // one operation at a time in this process
	vmu     sync.Mutex
	version int        // newest metadata version this process has seen
	cached  cachedMeta // the newest metadata version this process wrote or parsed
}

// cachedMeta is a metadata version this process wrote or parsed. The
// versions are immutable (created with put-if-absent, never rewritten), so
// a load that finds version n still there, with the same size and
// modification time, uses it instead of reading and parsing it again,
// which was most of the cost of a commit (docs/benchmarks.md, "The
// Iceberg catch-up"). The size and time are the store's, taken by a Stat
// after this process's put or before its read; they tell the version
// apart from one of the same number written after the metadata was
// removed (to the store's time resolution: a second on S3).
type cachedMeta struct {
	version int
	size    int64
	modTime time.Time
	meta    table.Metadata
}

// New returns a Publisher of t, whose Iceberg location (the table root as
// readers name it, TableLocation) is location. It reads nothing yet.
func New(t *hudi.Table, location string, opts ...Option) (*Publisher, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if err := o.validate(); err != nil {
		errs = append(errs, err)
	}
	if t == nil {
		errs = append(errs, errors.New("nil table"))
	}
	if err := checkLocation(location); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("iceberg publisher: %w", err)
	}
	cfg := t.Config()
	if o.stats == nil {
		o.stats = SidecarStats(t.Bucket(), FooterStats(t.Bucket(), o.footerConcurrency))
	}
	return &Publisher{
		table:      t,
		bucket:     t.Bucket(),
		location:   location,
		name:       cfg.Name,
		partFields: slices.Clone(cfg.PartitionFields),
		hive:       cfg.HiveStylePartitioning != nil && *cfg.HiveStylePartitioning,
		opts:       o,
	}, nil
}

// Enabled reports whether the Publisher publishes (WithEnabled).
func (p *Publisher) Enabled() bool { return p.opts.enabled }

// Location returns the Iceberg table location.
func (p *Publisher) Location() string { return p.location }

// Close releases nothing: the Publisher owns no goroutine or connection
// (the bucket is the caller's). It is idempotent.
func (p *Publisher) Close() error { return nil }

func (p *Publisher) lastVersion() int {
	p.vmu.Lock()
	defer p.vmu.Unlock()
	return p.version
}

// cachedVersion returns the parsed metadata version n if this process
// wrote or parsed it and info (a Stat of it) describes the same object.
func (p *Publisher) cachedVersion(n int, info objstore.ObjectInfo) (table.Metadata, bool) {
	p.vmu.Lock()
	defer p.vmu.Unlock()
	c := p.cached
	if c.meta == nil || c.version != n || c.size != info.Size || !c.modTime.Equal(info.ModTime) {
		return nil, false
	}
	return c.meta, true
}

// cacheVersion remembers metadata version n (the newest, just read or
// written), of size bytes and modification time modTime, in place of the
// one cached.
func (p *Publisher) cacheVersion(n int, size int64, modTime time.Time, meta table.Metadata) {
	p.vmu.Lock()
	p.cached = cachedMeta{version: n, size: size, modTime: modTime, meta: meta}
	p.vmu.Unlock()
}

func (p *Publisher) noteVersion(n int) {
	p.vmu.Lock()
	if n > p.version {
		p.version = n
	}
	p.vmu.Unlock()
}

func (p *Publisher) tableProperties() iceberg.Properties {
	return iceberg.Properties{
		PropHudiTable: p.name,
		// Hudi owns the data files: an engine's snapshot expiry or orphan
		// removal must never delete them.
		"gc.enabled": "false",
		// Conflicts are the publisher's to resolve (it re-reads the Hudi
		// timeline and the published instants), not iceberg-go's.
		"commit.retry.num-retries": "0",
		// Merge the small manifests of appends (one per commit), as Java
		// Iceberg does by default: without it the current snapshot lists
		// a manifest for every commit the table ever had, and a reader's
		// planning opens them all. iceberg-go's default is off.
		"commit.manifest-merge.enabled":              "true",
		"commit.manifest.min-count-to-merge":         fmt.Sprint(p.opts.mergeCount),
		"write.metadata.delete-after-commit.enabled": "true",
		"write.metadata.previous-versions-max":       fmt.Sprint(p.opts.keepMetadata),
	}
}

// Table loads the newest Iceberg metadata as an iceberg-go table whose file
// IO reads through the table's bucket with ctx (for scans). nil if the
// Iceberg table does not exist yet.
func (p *Publisher) Table(ctx context.Context) (*table.Table, error) {
	t, _, err := p.newSession(ctx).load()
	return t, err
}

// Result says what a CatchUp did.
type Result struct {
	// Published are the Hudi instants published, in order.
	Published []string
	// Conflicts counts the races for a metadata version lost to another
	// publisher (each retried).
	Conflicts int
	// Expired counts the snapshots removed.
	Expired int
}

// Publish makes sure the completed Hudi instant is published, and every
// completed instant before it in timeline order: it is CatchUp, called by
// the hook after every commit. An instant that is not completed is an
// error.
func (p *Publisher) Publish(ctx context.Context, instant string) (*Result, error) {
	res, err := p.CatchUp(ctx)
	if err != nil || !p.opts.enabled || slices.Contains(res.Published, instant) {
		return res, err
	}
	// Published by another publisher, or not a completed instant.
	s := p.newSession(ctx)
	st, err := s.state()
	if err != nil {
		return res, err
	}
	if !st.published[instant] && (st.watermark == "" || instant > st.watermark) {
		return res, fmt.Errorf("publish %s: not a completed commit or replacecommit of the timeline", instant)
	}
	return res, nil
}

// CatchUp publishes every completed Hudi instant that has no snapshot yet
// and is neither through PropExpiredThrough nor in PropExpiredAfter, in
// timeline order: instants of lakestream's archive files newer than
// PropExpiredThrough first (then expired at once: their files may be
// gone), then those of the active timeline. Run it at every start and
// after every commit. A lost race for the next metadata version is retried
// after re-reading what is published.
func (p *Publisher) CatchUp(ctx context.Context) (*Result, error) {
	res := &Result{}
	if !p.opts.enabled {
		return res, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.catchUp(ctx, p.newSession(ctx), res)
	return res, err
}

// pendingInstant is a completed instant to publish.
type pendingInstant struct {
	ts       string
	action   string
	entry    hudi.TimelineEntry // active timeline
	meta     *hudi.CommitMetadata
	archived bool
}

// state is what the Iceberg side has published.
type state struct {
	tbl       *table.Table // nil: no Iceberg table yet
	version   int          // tbl's metadata version
	published map[string]bool
	watermark string   // PropExpiredThrough
	after     []string // PropExpiredAfter, newer than watermark, sorted
}

func (s *session) state() (*state, error) {
	t, v, err := s.load()
	if err != nil {
		return nil, err
	}
	st := &state{tbl: t, version: v, published: map[string]bool{}}
	if t == nil {
		return st, nil
	}
	st.published, st.watermark, st.after = publishedBy(t.Metadata())
	return st, nil
}

// publishedBy returns the instants md's snapshots name or PropExpiredAfter
// lists, PropExpiredThrough, and PropExpiredAfter's instants.
func publishedBy(md table.Metadata) (published map[string]bool, watermark string, after []string) {
	published = map[string]bool{}
	watermark = md.Properties().Get(PropExpiredThrough, "")
	after = parseExpiredAfter(md.Properties().Get(PropExpiredAfter, ""), watermark)
	for _, ts := range after {
		published[ts] = true
	}
	for _, snap := range md.Snapshots() {
		if snap.Summary != nil {
			if ts := snap.Summary.Properties[SummaryInstant]; ts != "" {
				published[ts] = true
			}
		}
	}
	return published, watermark, after
}

// Published returns whether the Iceberg metadata md counts a Hudi instant
// as published: a snapshot names it, it is at or before
// PropExpiredThrough, or PropExpiredAfter lists it. It is CatchUp's rule:
// for checks that every completed instant is published (an instant whose
// snapshot was expired has none).
func Published(md table.Metadata) func(instant string) bool {
	published, watermark, _ := publishedBy(md)
	return func(instant string) bool {
		return published[instant] || (watermark != "" && instant <= watermark)
	}
}

// parseExpiredAfter returns the instants of a PropExpiredAfter value newer
// than watermark, sorted, without duplicates.
func parseExpiredAfter(v, watermark string) []string {
	var out []string
	for ts := range strings.SplitSeq(v, ",") {
		if ts = strings.TrimSpace(ts); ts != "" && ts > watermark {
			out = append(out, ts)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (p *Publisher) catchUp(ctx context.Context, s *session, res *Result) error {
	conflicts := 0
	for {
		st, err := s.state()
		if err != nil {
			return err
		}
		todo, err := p.unpublished(ctx, st)
		if err != nil {
			return err
		}
		if len(todo) == 0 {
			if st.tbl != nil && s.hint < st.version {
				// A publish whose put-if-absent landed but reported an
				// error (its context cancelled, a lost response) wrote
				// no hint; nothing may follow to write one.
				s.writeHint(st.version)
			}
			return nil
		}
		lost := false
		newestArchived := ""
		archivedSinceExpiry := 0
		for len(todo) > 0 {
			n, err := p.publishBatch(ctx, s, st, todo[:min(len(todo), p.opts.instantsPerCommit)])
			for _, in := range todo[:n] {
				res.Published = append(res.Published, in.ts)
				p.opts.logger.Debug("published hudi instant to iceberg", "instant", in.ts, "action", in.action)
				if in.archived {
					newestArchived = in.ts
					archivedSinceExpiry++
				}
			}
			todo = todo[n:]
			if errors.Is(err, errConflict) {
				conflicts++
				res.Conflicts++
				if conflicts > p.opts.maxConflicts {
					return fmt.Errorf("publish %s: %d races for the next metadata version lost in a row", todo[0].ts, conflicts)
				}
				lost = true
				break
			}
			if err != nil {
				return err
			}
			conflicts = 0
			if archivedSinceExpiry >= 50 {
				// Keep the metadata small while a long archived history
				// is published.
				if err := p.expire(ctx, s, newestArchived, res); err != nil {
					return err
				}
				if st, err = s.state(); err != nil {
					return err
				}
				archivedSinceExpiry = 0
			}
		}
		if newestArchived != "" {
			// Archived instants' files may be gone already: their
			// snapshots expire at once, as if the archival had expired them.
			if err := p.expire(ctx, s, newestArchived, res); err != nil {
				return err
			}
		}
		if !lost {
			// Everything completed when the timeline was read is
			// published; an instant completed since is its committer's
			// to publish (the hook), or the next CatchUp's.
			return nil
		}
		if err := p.backoff(ctx, conflicts); err != nil {
			return err
		}
	}
}

func (p *Publisher) backoff(ctx context.Context, attempt int) error {
	d := p.opts.backoffMin << min(attempt, 20)
	if d > p.opts.backoffMax || d <= 0 {
		d = p.opts.backoffMax
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// unpublished lists the completed instants st does not count as
// published (no snapshot, not through the watermark, not in
// PropExpiredAfter), oldest first.
func (p *Publisher) unpublished(ctx context.Context, st *state) ([]pendingInstant, error) {
	var todo []pendingInstant
	err := p.table.ArchivedInstants(ctx, st.watermark, func(ts, action string, m *hudi.CommitMetadata) error {
		if !st.published[ts] {
			todo = append(todo, pendingInstant{ts: ts, action: action, meta: m, archived: true})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	tl, err := p.table.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range tl.Completed() {
		if st.published[e.Time] || (st.watermark != "" && e.Time <= st.watermark) {
			continue
		}
		if e.Action != hudi.ActionCommit && e.Action != hudi.ActionReplaceCommit {
			return nil, fmt.Errorf("instant %s is a %s: the Iceberg publisher maps copy-on-write commits and replacecommits only", e.Time, e.Action)
		}
		if len(todo) > 0 && todo[len(todo)-1].ts >= e.Time {
			continue // also in an archive file (an archival part way)
		}
		todo = append(todo, pendingInstant{ts: e.Time, action: e.Action, entry: e})
	}
	return todo, nil
}

// publishOne commits the snapshot of one instant in a metadata version of
// its own: publishBatch of one.
func (p *Publisher) publishOne(ctx context.Context, s *session, st *state, in *pendingInstant) error {
	_, err := p.publishBatch(ctx, s, st, []pendingInstant{*in})
	return err
}

// publishBatch commits the snapshots of the first instants of todo, in
// order, in one metadata version: one snapshot per instant, as if each had
// been committed alone, but the metadata (which holds every snapshot) is
// written once, not once per instant. It returns how many instants the
// version publishes. The batch ends before an instant whose files have
// another schema than the table (a schema change is a version of its
// own, made before that instant's snapshot) and before an instant whose
// commit metadata or stats cannot be read; the error of that instant is
// returned with the count of the batch committed before it. errConflict
// (with 0) if another publisher committed the next metadata version
// first.
func (p *Publisher) publishBatch(ctx context.Context, s *session, st *state, todo []pendingInstant) (int, error) {
	var (
		tx   *table.Transaction
		view *table.Table // the table as tx leaves it; nil: to be staged
		n    int
		stop error // the error of the instant that ended the batch
	)
	for i := range todo {
		in := &todo[i]
		pi, err := p.prepare(ctx, in)
		if err != nil {
			if tx == nil {
				return 0, err
			}
			stop = err
			break
		}
		if tx == nil {
			if err := p.ensureSchema(s, st, pi.schema, in.ts); err != nil {
				return 0, err
			}
			if err := p.ensureProperties(s, st); err != nil {
				return 0, err
			}
			tx, view = st.tbl.NewTransaction(), st.tbl
		} else if pi.schema != nil && !pi.schema.Equals(st.tbl.Metadata().CurrentSchema()) {
			break
		}
		if st.published[in.ts] || (st.watermark != "" && in.ts <= st.watermark) {
			// ensureSchema or ensureProperties re-read the table
			// (another publisher created it first, or this one changed
			// its schema) and found this instant published meanwhile:
			// publishing it again would add its files twice. Start over
			// from what is published (after the batch before it).
			if n == 0 {
				return 0, fmt.Errorf("publish %s: %w", in.ts, errConflict)
			}
			break
		}
		if view == nil && pi.needScan {
			staged, err := tx.StagedTable()
			if err != nil {
				p.removeCreated(s)
				return 0, fmt.Errorf("publish %s: %w", in.ts, err)
			}
			view = staged.Table
		}
		if err := p.stage(ctx, s, st, tx, view, in, pi); err != nil {
			p.removeCreated(s)
			if n == 0 || errors.Is(err, errConflict) {
				return 0, err
			}
			// This instant cannot be published: publish the batch
			// before it, as if it had ended there, and report its error.
			done, perr := p.publishBatch(ctx, s, st, todo[:n])
			if perr != nil {
				return done, perr
			}
			return done, err
		}
		view = nil
		n++
	}
	last := todo[n-1].ts
	newTbl, err := tx.Commit(ctx)
	if err != nil {
		if errors.Is(err, table.ErrCommitFailed) {
			p.removeCreated(s)
			return 0, fmt.Errorf("publish %s: %w", last, errConflict)
		}
		if errors.Is(err, fs.ErrNotExist) {
			// A read of the commit's checks found an expired snapshot's
			// files gone. Whether the commit landed is not known here:
			// its files stay (the orphan sweep removes them if not), and
			// the re-read of a lost race shows what is published.
			s.io.takeCreated()
			return 0, p.readError(s, st.version, fmt.Errorf("publish %s: %w", last, err))
		}
		// The commit may or may not have landed: leave its files; the next
		// CatchUp reads which.
		s.io.takeCreated()
		return 0, fmt.Errorf("publish %s: %w", last, err)
	}
	s.io.takeCreated()
	st.tbl = newTbl
	if v, ok := parseMetadataKey(strings.TrimPrefix(newTbl.MetadataLocation(), p.location+"/")); ok {
		st.version = v
	}
	for _, in := range todo[:n] {
		st.published[in.ts] = true
	}
	return n, stop
}

// prepared is what publishing an instant needs besides the table: its
// write stats in path order, the files' stats and schema, the file groups
// it replaces and writes, and whether it supersedes published files (then
// the current snapshot's manifests are read).
type prepared struct {
	meta     *hudi.CommitMetadata
	stats    []hudi.WriteStat
	byPath   map[string]*filestats.File
	schema   *iceberg.Schema // nil: not known (no file)
	replaced map[string]bool // file groups ("partition\x00id") the instant retires
	written  map[string]bool // file groups it writes a slice of
	needScan bool
}

// prepare reads what publishing in needs: its commit metadata (unless
// the plan read it from the archive) and its files' stats.
func (p *Publisher) prepare(ctx context.Context, in *pendingInstant) (*prepared, error) {
	meta := in.meta
	if meta == nil {
		// Another replica may have archived it since the plan listed it.
		m, err := p.table.ReadCompletedMetadata(ctx, in.entry)
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", in.ts, err)
		}
		meta = m
	}
	pi := &prepared{meta: meta, replaced: map[string]bool{}, written: map[string]bool{}}
	for _, part := range slices.Sorted(mapsKeys(meta.PartitionToWriteStats)) {
		pi.stats = append(pi.stats, meta.PartitionToWriteStats[part]...)
	}
	sort.Slice(pi.stats, func(i, j int) bool { return *pi.stats[i].Path < *pi.stats[j].Path })
	fst, err := p.opts.stats.InstantStats(ctx, in.ts, pi.stats)
	if err != nil {
		return nil, fmt.Errorf("publish %s: stats: %w", in.ts, err)
	}
	if len(fst.Schema) > 0 {
		if pi.schema, err = parseSchema(fst.Schema); err != nil {
			return nil, fmt.Errorf("publish %s: %w", in.ts, err)
		}
	}
	pi.byPath = make(map[string]*filestats.File, len(fst.Files))
	for i := range fst.Files {
		pi.byPath[fst.Files[i].Path] = &fst.Files[i]
	}
	// The files this instant supersedes: replaced file groups, and earlier
	// slices of the file groups it writes.
	for part, ids := range meta.PartitionToReplaceFileIDs {
		for _, id := range ids {
			pi.replaced[part+"\x00"+id] = true
		}
	}
	pi.needScan = len(pi.replaced) > 0
	for _, ws := range pi.stats {
		g, _, ok := fileGroup(*ws.Path)
		if !ok {
			return nil, fmt.Errorf("publish %s: %s is not a base file name", in.ts, *ws.Path)
		}
		pi.written[g] = true
		if ws.PrevCommit != "" && ws.PrevCommit != hudi.NoPrevCommit {
			pi.needScan = true
		}
	}
	return pi, nil
}

// stage adds the snapshot of in to tx: an append for a commit that only
// adds file groups, a replace (a commit's new file slices, a
// replacecommit's retired file groups) otherwise. view is the table as tx
// leaves it, for the files in supersedes (nil if it supersedes none).
func (p *Publisher) stage(ctx context.Context, s *session, st *state, tx *table.Transaction, view *table.Table, in *pendingInstant, pi *prepared) error {
	md := st.tbl.Metadata()
	curSchema, spec := md.CurrentSchema(), md.PartitionSpec()
	var deletes []iceberg.DataFile
	newer := map[string]bool{} // file groups with a slice newer than this instant
	if pi.needScan && view.CurrentSnapshot() != nil {
		manifests, err := view.CurrentSnapshot().Manifests(s.io)
		if err != nil {
			return p.readError(s, st.version, fmt.Errorf("publish %s: read manifests: %w", in.ts, err))
		}
		for _, mf := range manifests {
			if mf.ManifestContent() != iceberg.ManifestContentData {
				continue
			}
			entries, err := mf.FetchEntries(s.io, true)
			if err != nil {
				return p.readError(s, st.version, fmt.Errorf("publish %s: read manifest: %w", in.ts, err))
			}
			for _, e := range entries {
				df := e.DataFile()
				rel := strings.TrimPrefix(df.FilePath(), p.location+"/")
				g, ts, ok := fileGroup(rel)
				if !ok {
					continue
				}
				switch {
				case pi.replaced[g]:
					deletes = append(deletes, df)
				case pi.written[g] && ts < in.ts:
					deletes = append(deletes, df)
				case pi.written[g] && ts > in.ts:
					newer[g] = true
				}
			}
		}
	}
	var adds []iceberg.DataFile
	for _, ws := range pi.stats {
		g, _, _ := fileGroup(*ws.Path)
		if newer[g] || pi.replaced[g] {
			// A newer slice of the group is published already (instants
			// completed out of order), or the instant retires the group
			// it writes: Hudi's snapshot does not show this file.
			continue
		}
		df, err := p.dataFile(spec, curSchema, ws, pi.byPath[*ws.Path])
		if err != nil {
			return fmt.Errorf("publish %s: %w", in.ts, err)
		}
		adds = append(adds, df)
	}

	props := iceberg.Properties{SummaryInstant: in.ts, SummaryAction: in.action}
	if v := pi.meta.ExtraMetadata[hudi.MetaWriterID]; v != "" {
		props[SummaryWriterID] = v
	}
	if v := pi.meta.ExtraMetadata[hudi.MetaCheckpointID]; v != "" {
		props[SummaryCheckpointID] = v
	}
	var err error
	switch {
	case len(deletes) == 0 && len(adds) == 0:
		err = tx.AddFiles(ctx, nil, props, false)
	case len(deletes) == 0:
		err = tx.AddDataFiles(ctx, adds, props, table.WithoutDuplicateCheck(), table.WithoutAutoNameMapping())
	case in.action == hudi.ActionReplaceCommit:
		rw := tx.NewRewrite(props)
		for _, d := range deletes {
			rw.DeleteFile(d)
		}
		for _, a := range adds {
			rw.AddDataFile(a)
		}
		err = rw.Commit(ctx)
	default:
		err = tx.ReplaceDataFilesWithDataFiles(ctx, deletes, adds, props, table.WithoutAutoNameMapping())
	}
	if err != nil {
		// iceberg-go reads the manifests of the snapshot it builds on:
		// another publisher's expiry may have deleted them.
		return p.readError(s, st.version, fmt.Errorf("publish %s: %w", in.ts, err))
	}
	return nil
}

// readError is err, a failed read of a manifest or manifest list of
// metadata version base, or errConflict if a newer version exists: another
// publisher's expiry may have removed the snapshot and deleted its files
// since base was read.
func (p *Publisher) readError(s *session, base int, err error) error {
	if _, v, lerr := s.load(); lerr == nil && v > base {
		p.opts.logger.Debug("iceberg metadata moved on while reading it", "version", base, "newest", v, "err", err)
		return errConflict
	}
	return err
}

// removeCreated deletes the manifests and manifest lists a commit that did
// not land wrote.
func (p *Publisher) removeCreated(s *session) {
	for _, key := range s.io.takeCreated() {
		if err := p.bucket.Delete(s.ctx, key); err != nil {
			p.opts.logger.Warn("remove manifest of a lost iceberg commit", "key", key, "err", err)
		}
	}
}

// ensureSchema creates the Iceberg table with the files' schema, or, when
// an instant's files have another schema than the table's current one,
// adds it (and a partition spec if the partition columns' IDs moved) as a
// metadata version of its own.
func (p *Publisher) ensureSchema(s *session, st *state, schema *iceberg.Schema, ts string) error {
	if st.tbl == nil {
		if schema == nil {
			return fmt.Errorf("publish %s: no schema for the Iceberg table: the instant has no file whose footer or stats sidecar could be read", ts)
		}
		spec, ok, reason := partitionSpec(schema, p.partFields, 0, partitionFieldIDStart)
		if !ok {
			p.opts.logger.Warn("iceberg table published unpartitioned", "reason", reason)
		}
		if err := s.create(schema, spec); err != nil {
			return fmt.Errorf("publish %s: %w", ts, err)
		}
		return p.reload(s, st)
	}
	md := st.tbl.Metadata()
	if schema == nil || schema.Equals(md.CurrentSchema()) {
		return nil
	}
	updates := []table.Update{table.NewAddSchemaUpdate(schema), table.NewSetCurrentSchemaUpdate(-1)}
	cur := md.PartitionSpec()
	last := partitionFieldIDStart - 1
	if id := md.LastPartitionSpecID(); id != nil {
		last = *id
	}
	maxSpec := 0
	for _, sp := range md.PartitionSpecs() {
		maxSpec = max(maxSpec, sp.ID())
	}
	spec, ok, reason := partitionSpec(schema, p.partFields, maxSpec+1, last+1)
	if !ok {
		p.opts.logger.Warn("iceberg schema change: table published unpartitioned from now on", "reason", reason)
	}
	if !sameSpecFields(spec, cur) {
		updates = append(updates, table.NewAddPartitionSpecUpdate(&spec, false), table.NewSetDefaultSpecUpdate(-1))
	}
	reqs := []table.Requirement{table.AssertTableUUID(md.TableUUID()), table.AssertCurrentSchemaID(md.CurrentSchema().ID)}
	if _, _, err := s.CommitTable(s.ctx, s.ident(), reqs, updates); err != nil {
		if errors.Is(err, errConflict) {
			return errConflict
		}
		return fmt.Errorf("publish %s: schema change: %w", ts, err)
	}
	p.opts.logger.Info("iceberg schema changed", "instant", ts)
	return p.reload(s, st)
}

// ensureProperties brings the table properties the publisher owns
// (tableProperties) up to date, as a metadata version of its own: on a
// table an older lakestream created, or whose properties an engine or an
// operator changed (gc.enabled must stay false: Hudi owns the files).
func (p *Publisher) ensureProperties(s *session, st *state) error {
	md := st.tbl.Metadata()
	set := iceberg.Properties{}
	for k, v := range p.tableProperties() {
		if got, ok := md.Properties()[k]; !ok || got != v {
			set[k] = v
		}
	}
	if len(set) == 0 {
		return nil
	}
	reqs := []table.Requirement{table.AssertTableUUID(md.TableUUID())}
	if _, _, err := s.commitAt(st.version, reqs, []table.Update{table.NewSetPropertiesUpdate(set)}); err != nil {
		if errors.Is(err, errConflict) {
			return errConflict
		}
		return fmt.Errorf("set iceberg table properties: %w", err)
	}
	p.opts.logger.Info("iceberg table properties updated", "properties", slices.Sorted(mapsKeys(set)))
	return p.reload(s, st)
}

func (p *Publisher) reload(s *session, st *state) error {
	fresh, err := s.state()
	if err != nil {
		return err
	}
	*st = *fresh
	if st.tbl == nil {
		return errors.New("iceberg metadata vanished after it was created")
	}
	return nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
