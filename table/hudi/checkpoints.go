package hudi

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
)

// PartitionPosition is where reading of one Kafka partition resumes: the
// next offset recorded by the newest completed commit that covered it.
type PartitionPosition struct {
	Topic        string `json:"topic"`
	Partition    int32  `json:"partition"`
	Next         int64  `json:"next"`
	Instant      string `json:"instant"`
	WriterID     string `json:"writerId"`
	CheckpointID int64  `json:"checkpointId"`
}

// WriterCheckpoint is the newest completed checkpoint of one writer.
type WriterCheckpoint struct {
	WriterID     string `json:"writerId"`
	CheckpointID int64  `json:"checkpointId"`
	Instant      string `json:"instant"`
	// Offsets is the checkpoint key of that commit ("" if it had none).
	Offsets string `json:"offsets"`
}

// Checkpoints is the recovery state recorded in the table.
type Checkpoints struct {
	// Writers by writer ID.
	Writers map[string]WriterCheckpoint `json:"writers"`
	// Partitions by topic, then partition.
	Partitions map[string]map[int32]PartitionPosition `json:"partitions"`
}

// Next returns the position recorded for a partition.
func (c *Checkpoints) Next(topic string, partition int32) (PartitionPosition, bool) {
	p, ok := c.Partitions[topic][partition]
	return p, ok
}

// SortedPartitions lists every position by topic and partition.
func (c *Checkpoints) SortedPartitions() []PartitionPosition {
	var out []PartitionPosition
	for _, parts := range c.Partitions {
		for _, p := range parts {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// observe folds one commit into c unless c already holds something newer.
func (c *Checkpoints) observe(ts string, extra map[string]string, name string) error {
	writer := extra[MetaWriterID]
	var id int64
	if s, ok := extra[MetaCheckpointID]; ok {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return &FileError{Path: name, Problem: fmt.Sprintf("%s %q is not an integer", MetaCheckpointID, s)}
		}
		id = v
	}
	key, hasKey := extra[MetaCheckpointKey]
	if _, hasID := extra[MetaCheckpointID]; writer != "" && (hasID || hasKey) {
		if cur, ok := c.Writers[writer]; !ok || ts > cur.Instant {
			c.Writers[writer] = WriterCheckpoint{WriterID: writer, CheckpointID: id, Instant: ts, Offsets: key}
		}
	}
	if !hasKey {
		return nil
	}
	offs, err := ParseCheckpointKey(key)
	if err != nil {
		return &FileError{Path: name, Problem: "bad " + MetaCheckpointKey, Err: err}
	}
	parts := c.Partitions[offs.Topic]
	if parts == nil {
		parts = map[int32]PartitionPosition{}
		c.Partitions[offs.Topic] = parts
	}
	for p, next := range offs.Next {
		if cur, ok := parts[p]; !ok || ts > cur.Instant {
			parts[p] = PartitionPosition{Topic: offs.Topic, Partition: p, Next: next, Instant: ts, WriterID: writer, CheckpointID: id}
		}
	}
	return nil
}

// Checkpoints reads the checkpoint ID and offsets of every completed commit
// on the active timeline, over the summary the archive keeps of archived
// ones, and returns the newest per writer and per partition.
func (t *Table) Checkpoints(ctx context.Context) (*Checkpoints, error) {
	// A completed instant that is listed, then gone, was archived by
	// another process in between (Archive writes the archive before it
	// deletes the instant's files): read again, and the archive has it.
	return readAgainIfArchived(ctx, func() (*Checkpoints, error) { return t.checkpointsOnce(ctx) })
}

func (t *Table) checkpointsOnce(ctx context.Context) (*Checkpoints, error) {
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	c, err := t.archivedCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	metas, err := t.readAllMetadata(ctx, tl.Completed(), true)
	if err != nil {
		return nil, err
	}
	for i, e := range tl.Completed() {
		if err := c.observe(e.Time, metas[i].ExtraMetadata, MetaDir+"/"+e.FileName()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func newCheckpoints() *Checkpoints {
	return &Checkpoints{Writers: map[string]WriterCheckpoint{}, Partitions: map[string]map[int32]PartitionPosition{}}
}

// readAllMetadata reads the metadata of completed instants concurrently;
// with skipStats without their write stats (only extraMetadata and
// partitionToReplaceFileIds, the stats checked and dropped): a commit of
// 100,000 files then costs its reading time, not its size in memory.
func (t *Table) readAllMetadata(ctx context.Context, entries []TimelineEntry, skipStats bool) ([]*CommitMetadata, error) {
	out := make([]*CommitMetadata, len(entries))
	errs := make([]error, len(entries))
	sem := make(chan struct{}, t.opts.readConcurrency)
	var wg sync.WaitGroup
	for i, e := range entries {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if skipStats {
				out[i], errs[i] = t.readMetadataSkippingStats(ctx, MetaDir+"/"+e.FileName())
			} else {
				out[i], errs[i] = t.ReadCommitMetadata(ctx, e)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
