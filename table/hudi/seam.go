package hudi

import (
	"context"

	"github.com/lakestream/lakestream/table"
)

// AsTable returns t as the table seam the ingest engine uses
// (table.Table): the same operations, with the seam's types.
func AsTable(t *Table) table.Table { return seam{t} }

// Unwrap returns the *Table behind a table.Table made by AsTable, or nil.
func Unwrap(tt table.Table) *Table {
	if s, ok := tt.(seam); ok {
		return s.t
	}
	return nil
}

type seam struct{ t *Table }

func (s seam) LastCheckpoint(ctx context.Context, writerID string) (int64, error) {
	cps, err := s.t.Checkpoints(ctx)
	if err != nil {
		return 0, err
	}
	return cps.Writers[writerID].CheckpointID, nil
}

func (s seam) NextOffsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	cps, err := s.t.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, p := range partitions {
		if pos, ok := cps.Next(topic, p); ok {
			out[p] = pos.Next
		}
	}
	return out, nil
}

func (s seam) Acquire(ctx context.Context, writerID, topic string, partitions []int32) (map[int32]int64, []table.Settled, error) {
	held, err := s.t.Claim(ctx, writerID, topic, partitions)
	if err != nil {
		return nil, nil, err
	}
	fenced, err := s.t.FenceOthers(ctx, writerID, topic, partitions)
	if err != nil {
		return nil, nil, err
	}
	return held, settled(fenced), nil
}

func (s seam) Begin(ctx context.Context, o table.BeginOptions) (table.Txn, error) {
	x, err := s.t.Begin(ctx, BeginOptions{WriterID: o.WriterID, Topic: o.Topic, Partitions: o.Partitions})
	if err != nil {
		return nil, err
	}
	return seamTxn{x}, nil
}

func (s seam) RollbackFailed(ctx context.Context, by string) ([]table.Settled, error) {
	res, err := s.t.RollbackFailed(ctx, by)
	return settled(res), err
}

func (s seam) Archive(ctx context.Context, keepCompleted int) (table.Archived, error) {
	res, err := s.t.Archive(ctx, ArchiveOptions{KeepCompleted: keepCompleted})
	if err != nil || res == nil {
		return table.Archived{}, err
	}
	return table.Archived{Instants: res.Archived, File: res.File, FilesRemoved: res.FilesRemoved}, nil
}

func (s seam) RollbackInstant(ctx context.Context, instant, by string, files []string) (table.Settled, error) {
	r, err := s.t.RollbackInstant(ctx, instant, by, files)
	return table.Settled(r), err
}

func (s seam) Recover(ctx context.Context, writerID string) ([]table.Settled, error) {
	res, err := s.t.Recover(ctx, writerID)
	return settled(res), err
}

func settled(res []RollbackResult) []table.Settled {
	if res == nil {
		return nil
	}
	out := make([]table.Settled, len(res))
	for i, r := range res {
		out[i] = table.Settled(r)
	}
	return out
}

// seamTxn is a Txn as a table.Txn.
type seamTxn struct{ x *Txn }

func (s seamTxn) Instant() string { return s.x.Instant() }

// Commit commits the checkpoint: the schema recorded is the rows' Avro
// schema named after the table, as Hudi's writers name it.
func (s seamTxn) Commit(ctx context.Context, req table.CommitRequest) error {
	r := CommitRequest{
		Files:      req.Files,
		Checkpoint: &Checkpoint{ID: req.CheckpointID, Offsets: Offsets{Topic: req.Topic, Next: req.Next}},
		Claims:     req.Claims,
	}
	if req.Schema != nil {
		name := s.x.table.Config().Name
		r.Schema = req.Schema.Avro(name+"_record", "hoodie."+name)
	}
	_, err := s.x.Commit(ctx, r)
	return err
}

func (s seamTxn) Abort(ctx context.Context) error { return s.x.Abort(ctx) }
func (s seamTxn) Close() error                    { return s.x.Close() }
