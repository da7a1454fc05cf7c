package fence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/lakestream/lakestream/internal/objstore"
)

// claimsKept is how many claims per partition Claim leaves behind.
const claimsKept = 3

// Claim is one owner claim.
type Claim struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Seq       int64  `json:"seq"`
	WriterID  string `json:"writerId"`
}

// Claims are the owner claims of Kafka partitions, kept in Bucket under
// Dir as <Dir>/<topic>/<partition>/<sequence>. The claim with the highest
// sequence owns the partition; a commit carrying offsets for a partition
// its writer no longer owns is fenced (Check).
type Claims struct {
	Bucket objstore.Store
	Dir    string
	Logger *slog.Logger
}

// Key is the object key of a claim.
func (c Claims) Key(topic string, p int32, seq int64) string {
	return fmt.Sprintf("%s/%s/%d/%020d", c.Dir, topic, p, seq)
}

// Owners returns the newest claim of every claimed partition of topic.
func (c Claims) Owners(ctx context.Context, topic string) (map[int32]Claim, error) {
	all, err := c.List(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]Claim{}
	for p, seqs := range all {
		newest := seqs[len(seqs)-1]
		data, err := objstore.ReadAll(ctx, c.Bucket, c.Key(topic, p, newest))
		if err != nil {
			return nil, fmt.Errorf("read claim: %w", err)
		}
		var cl Claim
		if err := json.Unmarshal(data, &cl); err != nil {
			return nil, &FileError{Path: c.Key(topic, p, newest), Problem: "corrupt claim", Err: err}
		}
		out[p] = cl
	}
	return out, nil
}

// List lists the claim sequences of every partition of topic, ascending.
func (c Claims) List(ctx context.Context, topic string) (map[int32][]int64, error) {
	prefix := c.Dir + "/" + topic + "/"
	out := map[int32][]int64{}
	err := c.Bucket.List(ctx, prefix, func(info objstore.ObjectInfo) error {
		ps, ss, ok := strings.Cut(strings.TrimPrefix(info.Key, prefix), "/")
		p, perr := strconv.ParseInt(ps, 10, 32)
		seq, serr := strconv.ParseInt(ss, 10, 64)
		if !ok || perr != nil || serr != nil {
			return &FileError{Path: info.Key, Problem: "not an owner claim"}
		}
		out[int32(p)] = append(out[int32(p)], seq)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list owner claims: %w", err)
	}
	for p := range out {
		slices.Sort(out[p])
	}
	return out, nil
}

// Claim makes writerID the owner of partitions of topic: for each, a claim
// with a sequence above every earlier one, created with put-if-absent so
// that two claimants never share one. It returns the sequence held per
// partition, to be checked at each commit (Check). Claims older than the
// newest few are pruned.
func (c Claims) Claim(ctx context.Context, writerID, topic string, partitions []int32) (map[int32]int64, error) {
	if err := ValidateTopic(topic); err != nil {
		return nil, err
	}
	existing, err := c.List(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, p := range partitions {
		seqs := existing[p]
		seq := int64(1)
		if len(seqs) > 0 {
			seq = seqs[len(seqs)-1] + 1
		}
		for {
			cl, _ := json.Marshal(Claim{Topic: topic, Partition: p, Seq: seq, WriterID: writerID})
			err := c.Bucket.PutIfAbsent(ctx, c.Key(topic, p, seq), bytes.NewReader(cl))
			if err == nil {
				break
			}
			if !errors.Is(err, objstore.ErrExists) {
				return nil, fmt.Errorf("claim %s/%d: %w", topic, p, err)
			}
			seq++
		}
		out[p] = seq
		for _, old := range seqs {
			if old <= seq-claimsKept {
				if err := c.Bucket.Delete(ctx, c.Key(topic, p, old)); err != nil {
					c.Logger.Warn("prune owner claim", "topic", topic, "partition", p, "seq", old, "err", err)
				}
			}
		}
	}
	c.Logger.Info("claimed partitions", "writer", writerID, "topic", topic, "claims", out)
	return out, nil
}

// Check verifies that the claims held (sequence by partition, from Claim)
// are still the newest of every partition in offsets: a *FencedError
// (ErrFenced) names the first that is not.
func (c Claims) Check(ctx context.Context, topic string, offsets map[int32]int64, held map[int32]int64) error {
	all, err := c.List(ctx, topic)
	if err != nil {
		return err
	}
	for p := range offsets {
		seq, ok := held[p]
		if !ok {
			return &FencedError{Reason: fmt.Sprintf("no owner claim held for %s/%d", topic, p)}
		}
		seqs := all[p]
		if len(seqs) == 0 || seqs[len(seqs)-1] != seq {
			newest := int64(0)
			if len(seqs) > 0 {
				newest = seqs[len(seqs)-1]
			}
			return &FencedError{Reason: fmt.Sprintf("partition %s/%d: claim %d held, the newest is %d (another writer owns it now)", topic, p, seq, newest)}
		}
	}
	return nil
}
