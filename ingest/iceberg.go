package ingest

import (
	"context"
	"fmt"

	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi"
)

// openIceberg makes the Iceberg publisher of the table (Options.Iceberg)
// and catches it up with every completed instant (the previous run's
// commits it did not publish, a crash between a commit and its publish).
// A failed catch-up is logged: the Hudi table is the truth, and every
// Publish catches up again.
func (e *Engine) openIceberg(ctx context.Context) error {
	o := e.opts
	opts := append([]iceberg.Option{iceberg.WithLogger(o.Logger)}, o.Iceberg.Options...)
	p, err := iceberg.New(e.table, o.Iceberg.Location, opts...)
	if err != nil {
		return err
	}
	e.iceberg = p
	if p.Enabled() {
		e.sidecars = newSidecars(e.table.Bucket(), o.Logger)
	}
	res, err := p.CatchUp(ctx)
	if err != nil {
		o.Logger.Warn("iceberg catch-up failed: the Hudi table stands, the next commit catches up", "location", o.Iceberg.Location, "err", err)
		return nil
	}
	if len(res.Published) > 0 {
		o.Logger.Info("iceberg caught up", "location", o.Iceberg.Location, "instants", len(res.Published))
	}
	return nil
}

// icebergTable is the table the coordinator commits to when Iceberg
// publishing is on.
//
// Each transaction writes the stats sidecar of its instant before its
// commit decision (sidecarTxn; sc nil: none, publishing is switched off),
// from the metrics the writers recorded of the files they uploaded, so
// that the publisher reads no Parquet footer. A sidecar that cannot be
// written is logged and the commit goes on: the publisher then reads the
// footers of that instant.
//
// Before each archival of the timeline (the coordinator's maintenance),
// the publisher expires the Iceberg snapshots through the newest instant
// the archival will archive, and the archival archives no further, so
// that no unexpired snapshot references a file the archival deletes (the
// file groups an archived replacecommit retired). If the expiry fails,
// the archival does not run: the next maintenance round tries both again.
type icebergTable struct {
	table.Table
	hudi *hudi.Table
	pub  *iceberg.Publisher
	sc   *sidecars
}

// Begin opens a transaction that writes its stats sidecar.
func (t icebergTable) Begin(ctx context.Context, o table.BeginOptions) (table.Txn, error) {
	x, err := t.Table.Begin(ctx, o)
	if err != nil || t.sc == nil {
		return x, err
	}
	return sidecarTxn{Txn: x, sc: t.sc}, nil
}

// Archive plans the archival from one read of the timeline, expires the
// Iceberg snapshots through the newest instant it archives, then archives
// through that instant and no further (hudi.ArchiveOptions.Through): a
// commit that completes in between would otherwise move the cut of
// keepCompleted one instant past what was expired. Nothing to archive:
// nothing is done.
func (t icebergTable) Archive(ctx context.Context, keepCompleted int) (table.Archived, error) {
	tl, err := t.hudi.Timeline(ctx)
	if err != nil {
		return table.Archived{}, err
	}
	through := tl.ArchiveThrough(keepCompleted)
	if through == "" {
		return table.Archived{}, nil
	}
	if _, err := t.pub.Expire(ctx, through); err != nil {
		return table.Archived{}, fmt.Errorf("expire iceberg snapshots before archiving through %s: %w", through, err)
	}
	res, err := t.hudi.Archive(ctx, hudi.ArchiveOptions{KeepCompleted: keepCompleted, Through: through})
	if err != nil {
		return table.Archived{}, err
	}
	return table.Archived{Instants: res.Archived, File: res.File, FilesRemoved: res.FilesRemoved}, nil
}
