package hudi

import (
	"context"
	"io"

	"github.com/lakestream/lakestream/table/fence"
)

// A decision is the single object that settles the fate of an instant
// (fence.Decision): the writer completing it and anyone rolling it back
// both create it with put-if-absent, so exactly one of them wins. A commit
// decision carries the whole commit metadata so that a crash between the
// decision and the completed timeline file is finished forward by the next
// recovery. The metadata is written last and streamed
// (CommitMetadata.WriteTo).
type decision = fence.Decision[CommitMetadata]

const (
	decisionCommit   = fence.DecisionCommit
	decisionRollback = fence.DecisionRollback
)

func decisionKey(ts string) string { return DecisionDir + "/" + ts }

// decide records d unless a decision for the instant exists; it returns the
// decision in force (d, or the one that was there).
func (t *Table) decide(ctx context.Context, d decision) (decision, error) {
	return fence.Decide(ctx, t.bucket, decisionKey(d.Instant), d)
}

func (t *Table) readDecision(ctx context.Context, ts string) (decision, bool, error) {
	return fence.ReadDecision[CommitMetadata](ctx, t.bucket, decisionKey(ts))
}

// putStreamed is fence.PutStreamed.
func putStreamed(ctx context.Context, put func(context.Context, string, io.Reader) error, key string, write func(io.Writer) error) error {
	return fence.PutStreamed(ctx, put, key, write)
}
