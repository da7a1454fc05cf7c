package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	// Right after a leader election a broker answers OFFSET_NOT_AVAILABLE
	// (and other retriable errors) until the new leader's high watermark
	// caught up: ask again for up to half a minute.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := endOffsetsOnce(ctx, cl, topic)
		if err == nil || !kerr.IsRetriable(err) || time.Now().After(deadline) {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func endOffsetsOnce(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	out := map[int32]int64{}
	var ferr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = o.Err
		}
		out[o.Partition] = o.Offset
	})
	return out, ferr
}
