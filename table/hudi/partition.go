package hudi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
)

// ensurePartition writes the partition's .hoodie_partition_metadata unless
// it exists (Hudi recognises only directories holding it as partitions).
func (t *Table) ensurePartition(ctx context.Context, partition, ts string) error {
	if err := table.ValidatePartitionPath(partition); err != nil {
		return err
	}
	t.mu.Lock()
	known := t.partitions[partition]
	t.mu.Unlock()
	if known {
		return nil
	}
	key := BaseFilePath(partition, PartitionMetadataFile)
	err := t.bucket.PutIfAbsent(ctx, key, bytes.NewReader(partitionMetadata(ts, partitionDepth(partition), t.opts.now())))
	if err != nil && !errors.Is(err, objstore.ErrExists) {
		return fmt.Errorf("write %s: %w", key, err)
	}
	t.mu.Lock()
	t.partitions[partition] = true
	t.mu.Unlock()
	return nil
}

// partitionMetadata is the text of .hoodie_partition_metadata as Hudi writes
// it: a properties file with commitTime and partitionDepth.
func partitionMetadata(ts string, depth int, now time.Time) []byte {
	return []byte(fmt.Sprintf("#partition metadata\n#%s\ncommitTime=%s\npartitionDepth=%d\n",
		now.UTC().Format("Mon Jan 02 15:04:05 UTC 2006"), ts, depth))
}
