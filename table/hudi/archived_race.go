package hudi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// Another process may archive the timeline between a listing of it and the
// read of a completed instant the listing returned: the read then fails
// with objstore.ErrNotExist (seen in the torture runs as "read
// .hoodie/<t>.replacecommit: object does not exist"). Archive writes the
// archive file before it deletes any instant's files, so the instant is
// then in the archive, and a new listing no longer has it. The readers
// here either read again from a new listing (readAgainIfArchived) or read
// the instant from the archive (ReadCompletedMetadata).

// maxArchivedReads bounds the reads of readAgainIfArchived when instants
// keep being archived under it (5 reads were not always enough in a
// torture run on S3 with three replicas archiving every few seconds).
const maxArchivedReads = 20

// readAgainIfArchived calls read until it returns something other than an
// error matching objstore.ErrNotExist, at most maxArchivedReads times,
// waiting a little longer (with jitter) each time: replicas that archive
// often can do it again under the next read.
func readAgainIfArchived[T any](ctx context.Context, read func() (T, error)) (T, error) {
	backoff := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := read()
		if err == nil || !errors.Is(err, objstore.ErrNotExist) || attempt == maxArchivedReads {
			return v, err
		}
		select {
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// ReadCompletedMetadata is ReadCommitMetadata of the completed data
// instant e, read from lakestream's archive files if e was archived since
// the timeline was listed (by another process: archival deletes an
// instant's files only once the archive file holding it is written).
// Readers that list the timeline and then read its instants use it.
func (t *Table) ReadCompletedMetadata(ctx context.Context, e TimelineEntry) (*CommitMetadata, error) {
	m, err := t.ReadCommitMetadata(ctx, e)
	if err == nil || !errors.Is(err, objstore.ErrNotExist) {
		return m, err
	}
	am, found, aerr := t.readArchivedMetadata(ctx, e.Time, e.Action)
	switch {
	case aerr != nil:
		return nil, errors.Join(err, aerr)
	case !found:
		return nil, fmt.Errorf("%w (and instant %s is not in the archive)", err, e.Time)
	}
	return am, nil
}

// errArchivedFound stops the read of an archive file at the instant sought.
var errArchivedFound = errors.New("archived instant found")

// readArchivedMetadata reads the metadata of data instant ts (of action)
// from lakestream's archive files. An archive file is named for its newest
// instant, so only files named at or after ts are read, oldest first,
// until one has it (usually the first).
func (t *Table) readArchivedMetadata(ctx context.Context, ts, action string) (*CommitMetadata, bool, error) {
	var keys []string
	err := t.bucket.List(ctx, archivePrefix, func(info objstore.ObjectInfo) error {
		last, ok := strings.CutSuffix(strings.TrimPrefix(info.Key, archivePrefix), ".json")
		if ok && last >= ts {
			keys = append(keys, info.Key)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("list archive: %w", err)
	}
	sort.Strings(keys)
	for _, key := range keys {
		var out *CommitMetadata
		err := t.readArchivedInstants(ctx, key, func(its, iaction string, m *CommitMetadata) error {
			if its == ts && iaction == action && m != nil {
				out = m
				return errArchivedFound
			}
			return nil
		})
		if errors.Is(err, errArchivedFound) {
			return out, true, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
	return nil, false, nil
}
