package hudi

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/lakestream/lakestream/internal/objstore"
)

// Read-only views of archiving for the Iceberg publisher (package iceberg),
// which expires its snapshots with Hudi's archival and catches up with
// instants archived before it published them.

// ArchiveThrough returns the newest instant Archive with KeepCompleted keep
// would archive from this timeline ("" if none): the publisher expires its
// snapshots through it before the archival removes any file.
func (tl *Timeline) ArchiveThrough(keep int) string {
	if keep == 0 {
		keep = 30
	}
	if keep < 1 {
		return ""
	}
	cut := archiveCut(tl, keep)
	if cut == 0 {
		return ""
	}
	return tl.Entries[cut-1].Time
}

// ArchivedInstants calls fn, oldest first and once each, for every data
// instant of lakestream's archive files newer than after, with its commit
// metadata. Only archive files whose newest instant is after after are
// read, each decoded as a stream.
func (t *Table) ArchivedInstants(ctx context.Context, after string, fn func(ts, action string, m *CommitMetadata) error) error {
	var keys []string
	err := t.bucket.List(ctx, archivePrefix, func(info objstore.ObjectInfo) error {
		name := strings.TrimPrefix(info.Key, archivePrefix)
		last, ok := strings.CutSuffix(name, ".json")
		if ok && last > after {
			keys = append(keys, info.Key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list archive: %w", err)
	}
	sort.Strings(keys)
	newest := after
	for _, key := range keys {
		err := t.readArchivedInstants(ctx, key, func(ts, action string, m *CommitMetadata) error {
			// A re-run archival may hold an instant in two files: the
			// instants of all files, in name order, only move forward.
			if ts <= newest || m == nil || !writesData(action) {
				return nil
			}
			newest = ts
			return fn(ts, action, m)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
