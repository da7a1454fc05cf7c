package hudi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// archivePrefix names lakestream's archive files in .hoodie/archived/. Hudi's
// own archived timeline reads only ".commits_.archive*" files, so it ignores
// them.
const archivePrefix = ArchiveDir + "/lakestream.archive."

// archiveVersion is the version of the archive files Archive writes:
// version 2 puts the checkpoints before the instants, so that a reader of
// the checkpoints stops early; version 1 (checkpoints last) is read too.
const archiveVersion = 2

// archivedInstant is an instant of an archive file; Metadata, the body of
// its completed file, is copied from the timeline as it is read, never
// held whole.
type archivedInstant struct {
	Instant string
	Action  string
	// Metadata is the key of the completed file whose body is the
	// instant's metadata; "" for instants that write no data.
	Metadata string
}

// ArchiveOptions bound the active timeline.
type ArchiveOptions struct {
	// KeepCompleted is how many completed commits and replacecommits stay on
	// the active timeline (at least 1). Default 30.
	KeepCompleted int
	// ReplacedRetention: a replacecommit completed less than this ago whose
	// replaced files still exist stays on the active timeline, and so do
	// the instants after it (see holdReplaced). Default 1h
	// (DefaultReplacedRetention).
	ReplacedRetention time.Duration
	// Through, if set, bounds the archival: no instant after it is
	// archived. An archival planned from an earlier read of the timeline
	// (Timeline.ArchiveThrough, through which the Iceberg snapshots were
	// expired first) then archives no more than planned, whatever
	// completed meanwhile (which moves the cut of KeepCompleted). Default
	// "": no bound.
	Through string
}

// ArchiveResult says what Archive did.
type ArchiveResult struct {
	Archived     []string
	File         string
	FilesRemoved int
}

// Archive moves the oldest completed instants off the active timeline,
// keeping opts.KeepCompleted completed commits and never passing a pending
// instant. Before it does, it removes what would otherwise become visible
// once the instants are gone (Hudi treats base files older than the active
// timeline as committed): base files of failed instants, and file groups
// retired by an archived replacecommit. The checkpoint and offsets of every
// writer and partition are carried in the archive file, so Checkpoints
// returns the same answer before and after.
func (t *Table) Archive(ctx context.Context, opts ArchiveOptions) (*ArchiveResult, error) {
	if opts.KeepCompleted == 0 {
		opts.KeepCompleted = 30
	}
	if opts.KeepCompleted < 1 {
		return nil, fmt.Errorf("archive: keep %d completed instants: must be at least 1", opts.KeepCompleted)
	}
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	res := &ArchiveResult{}
	if res.FilesRemoved, err = t.SweepRolledBack(ctx); err != nil {
		return nil, err
	}
	cut := archiveCut(tl, opts.KeepCompleted)
	if cut, err = t.holdReplaced(ctx, tl, cut, opts.ReplacedRetention); err != nil {
		return nil, err
	}
	for opts.Through != "" && cut > 0 && tl.Entries[cut-1].Time > opts.Through {
		cut--
	}
	if cut == 0 {
		return res, nil
	}
	archived := tl.Entries[:cut]
	last := archived[len(archived)-1].Time

	summary, err := t.archivedCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	var instants []archivedInstant
	retire := map[string]string{} // partition\x00fileId -> replace instant
	for _, e := range archived {
		ai := archivedInstant{Instant: e.Time, Action: e.Action}
		if writesData(e.Action) {
			name := MetaDir + "/" + e.FileName()
			// Only the checkpoint and the replaced file groups are needed
			// here: the write stats are read and dropped.
			m, err := t.readMetadataSkippingStats(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("archive: %w", err)
			}
			if err := summary.observe(e.Time, m.ExtraMetadata, name); err != nil {
				return nil, err
			}
			for part, ids := range m.PartitionToReplaceFileIDs {
				for _, id := range ids {
					retire[part+"\x00"+id] = e.Time
				}
			}
			ai.Metadata = name
		}
		instants = append(instants, ai)
	}

	// Remove what must not resurface once these instants leave the timeline.
	files, err := t.listBaseFiles(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := t.snapshotOf(ctx, tl, files)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, f := range snap.Files {
		live[f.Path] = true
	}
	completed := map[string]bool{}
	for _, e := range tl.Completed() {
		completed[e.Time] = true
	}
	for _, f := range files {
		if f.Instant > last {
			continue
		}
		replacedAt, replaced := retire[f.Partition+"\x00"+f.FileID]
		failed := !completed[f.Instant] && f.Instant >= tl.Entries[0].Time
		if (replaced && f.Instant <= replacedAt && !live[f.Path]) || failed {
			if err := t.bucket.Delete(ctx, f.Path); err != nil {
				return nil, fmt.Errorf("archive: remove %s: %w", f.Path, err)
			}
			res.FilesRemoved++
		}
	}

	res.File = archivePrefix + last + ".json"
	err = putStreamed(ctx, t.bucket.PutIfAbsent, res.File, func(w io.Writer) error {
		return t.writeArchive(ctx, w, summary, instants)
	})
	if err != nil && !errors.Is(err, objstore.ErrExists) {
		return nil, fmt.Errorf("archive: write %s: %w", res.File, err)
	}
	// Oldest instant first and, within one, its completed file last: a crash
	// part way leaves a timeline that is still a valid suffix.
	for _, e := range archived {
		for _, name := range e.Files {
			if err := t.bucket.Delete(ctx, MetaDir+"/"+name); err != nil {
				return nil, fmt.Errorf("archive: delete %s: %w", name, err)
			}
		}
		for _, key := range []string{decisionKey(e.Time), HeartbeatDir + "/" + e.Time, instantClaimKey(e.Time)} {
			if err := t.bucket.Delete(ctx, key); err != nil {
				return nil, fmt.Errorf("archive: delete %s: %w", key, err)
			}
		}
		res.Archived = append(res.Archived, e.Time)
	}
	if err := t.sweepInstantClaims(ctx, last); err != nil {
		return nil, err
	}
	t.opts.logger.Info("archived instants", "count", len(res.Archived), "through", last, "file", res.File)
	return res, nil
}

// sweepInstantClaims deletes the instant claims of times at or before
// through (the newest archived instant) that are older than the heartbeat
// expiry: those of rolled-back instants, and those no instant used (a
// writer died between its claim and its requested file). Begin issues no
// such time again: it issues times after the newest instant it listed,
// and a rolled-back time keeps its decision. The age spares a Begin that
// claimed a time of its own just now.
func (t *Table) sweepInstantClaims(ctx context.Context, through string) error {
	now := t.opts.now()
	var stale []string
	err := t.bucket.List(ctx, InstantClaimDir+"/", func(info objstore.ObjectInfo) error {
		ts := strings.TrimPrefix(info.Key, InstantClaimDir+"/")
		if ts <= through && now.Sub(info.ModTime) >= t.opts.heartbeatExpiry() {
			stale = append(stale, info.Key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive: list instant claims: %w", err)
	}
	for _, key := range stale {
		if err := t.bucket.Delete(ctx, key); err != nil {
			return fmt.Errorf("archive: delete %s: %w", key, err)
		}
	}
	return nil
}

// archiveCut returns how many leading timeline entries to archive: all of
// them completed, leaving keep completed data instants.
func archiveCut(tl *Timeline, keep int) int {
	total := len(tl.Completed())
	if total <= keep {
		return 0
	}
	// Stop at the first kept completed data instant or the first pending
	// instant, whichever comes first.
	n := 0
	for i, e := range tl.Entries {
		if e.State != StateCompleted {
			return i
		}
		if writesData(e.Action) {
			if n == total-keep {
				return i
			}
			n++
		}
	}
	return len(tl.Entries)
}

// archivedCheckpoints returns the checkpoint summary of the newest archive
// file, or an empty one.
func (t *Table) archivedCheckpoints(ctx context.Context) (*Checkpoints, error) {
	newest := ""
	err := t.bucket.List(ctx, archivePrefix, func(info objstore.ObjectInfo) error {
		if strings.HasSuffix(info.Key, ".json") && info.Key > newest {
			newest = info.Key
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list archive: %w", err)
	}
	if newest == "" {
		return newCheckpoints(), nil
	}
	c, err := t.readArchivedCheckpoints(ctx, newest)
	if err != nil {
		return nil, err
	}
	if c == nil {
		c = newCheckpoints()
	}
	if c.Writers == nil {
		c.Writers = map[string]WriterCheckpoint{}
	}
	if c.Partitions == nil {
		c.Partitions = map[string]map[int32]PartitionPosition{}
	}
	return c, nil
}

// writeArchive writes an archive file (docs/format/table.md): the
// checkpoint summary, then each instant with the body of its completed
// file copied from the store as it is read.
func (t *Table) writeArchive(ctx context.Context, w io.Writer, summary *Checkpoints, instants []archivedInstant) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	sum, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "{\"version\":%d,\n\"checkpoints\":%s,\n\"instants\":[", archiveVersion, sum)
	for i, ai := range instants {
		if i > 0 {
			bw.WriteString(",")
		}
		head, err := json.Marshal(struct {
			Instant string `json:"instant"`
			Action  string `json:"action"`
		}{ai.Instant, ai.Action})
		if err != nil {
			return err
		}
		bw.WriteString("\n")
		if ai.Metadata == "" {
			bw.Write(head)
			continue
		}
		bw.Write(head[:len(head)-1])
		bw.WriteString(`,"metadata":`)
		if err := t.copyObject(ctx, bw, ai.Metadata); err != nil {
			return err
		}
		bw.WriteString("}")
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// copyObject copies the object at key to w.
func (t *Table) copyObject(ctx context.Context, w io.Writer, key string) error {
	rc, err := t.bucket.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("copy %s: %w", key, err)
	}
	return nil
}

// readMetadataSkippingStats reads the commit file at name for its
// extraMetadata and partitionToReplaceFileIds, dropping the write stats.
func (t *Table) readMetadataSkippingStats(ctx context.Context, name string) (*CommitMetadata, error) {
	rc, err := t.bucket.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer rc.Close()
	return decodeCommitMetadata(name, rc, true, true)
}

// readArchivedCheckpoints reads the checkpoint summary of the archive
// file at key, token by token: it stops at the summary, and skips the
// instants (of a version 1 file, where they come first) without holding
// them. nil if the file has none.
func (t *Table) readArchivedCheckpoints(ctx context.Context, key string) (*Checkpoints, error) {
	rc, err := t.bucket.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	er := &errReader{r: rc}
	c, err := decodeArchivedCheckpoints(json.NewDecoder(er))
	if er.err != nil {
		return nil, fmt.Errorf("read %s: %w", key, er.err)
	}
	if err != nil {
		return nil, &FileError{Path: key, Problem: "corrupt archive", Err: err}
	}
	return c, nil
}

func decodeArchivedCheckpoints(dec *json.Decoder) (*Checkpoints, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if tok == "checkpoints" {
			var c *Checkpoints
			if err := dec.Decode(&c); err != nil {
				return nil, err
			}
			return c, nil
		}
		if err := skipValue(dec); err != nil {
			return nil, err
		}
	}
	return nil, expectDelim(dec, '}')
}

// readArchivedInstants calls fn for each instant of the archive file at
// key, oldest first, with its metadata (nil for instants that write no
// data), decoded token by token.
func (t *Table) readArchivedInstants(ctx context.Context, key string, fn func(ts, action string, m *CommitMetadata) error) error {
	rc, err := t.bucket.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	er := &errReader{r: rc}
	dec := json.NewDecoder(er)
	var fnErr error
	err = decodeArchivedInstants(dec, func(ts, action string, m *CommitMetadata) error {
		fnErr = fn(ts, action, m)
		return fnErr
	})
	switch {
	case fnErr != nil:
		return fnErr
	case er.err != nil:
		return fmt.Errorf("read %s: %w", key, er.err)
	case err != nil:
		return &FileError{Path: key, Problem: "corrupt archive", Err: err}
	}
	return nil
}

func decodeArchivedInstants(dec *json.Decoder, fn func(ts, action string, m *CommitMetadata) error) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok != "instants" {
			if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		if err := expectDelim(dec, '['); err != nil {
			return err
		}
		for dec.More() {
			if err := expectDelim(dec, '{'); err != nil {
				return err
			}
			var ts, action string
			var m *CommitMetadata
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return err
				}
				switch tok {
				case "instant":
					err = dec.Decode(&ts)
				case "action":
					err = dec.Decode(&action)
				case "metadata":
					m, err = decodeMetadata(dec, false, nil)
				default:
					err = skipValue(dec)
				}
				if err != nil {
					return fmt.Errorf("instant %s: %w", ts, err)
				}
			}
			if err := expectDelim(dec, '}'); err != nil {
				return err
			}
			if m != nil {
				if err := validateMetadata(fmt.Sprintf("archived instant %s", ts), m); err != nil {
					return err
				}
			}
			if err := fn(ts, action, m); err != nil {
				return err
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}')
}
