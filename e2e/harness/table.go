package harness

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// Committed reports whether the table's offsets have reached want for every
// partition of topic.
func Committed(ctx context.Context, b objstore.Store, topic string, want map[int32]int64) (bool, error) {
	t, err := hudi.Open(ctx, b)
	if err != nil {
		return false, nil // not created yet
	}
	cps, err := t.Checkpoints(ctx)
	if err != nil {
		return false, err
	}
	for p, end := range want {
		if end == 0 {
			continue
		}
		pos, ok := cps.Next(topic, p)
		if !ok || pos.Next < end {
			return false, nil
		}
	}
	return true, nil
}

// DuckDB opens an in-memory DuckDB with a view named view over the
// table's snapshot, as a user would: the snapshot's files (copied to dir
// first when the table is not on the local filesystem) read with
// read_parquet, without hive partitioning: what the files hold, partition
// columns included.
func DuckDB(ctx context.Context, b objstore.Store, dir, view string) (*sql.DB, []hudi.BaseFile, error) {
	t, err := hudi.Open(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	snap, err := t.Snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	var paths []string
	for _, f := range snap.Files {
		local, err := localPath(ctx, b, dir, f.Path)
		if err != nil {
			return nil, nil, err
		}
		paths = append(paths, "'"+strings.ReplaceAll(local, "'", "''")+"'")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	q := fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM read_parquet([%s], hive_partitioning = false)", view, strings.Join(paths, ","))
	if len(paths) == 0 {
		q = fmt.Sprintf("CREATE VIEW %s AS SELECT NULL AS nothing WHERE false", view)
	}
	if _, err := db.ExecContext(ctx, q); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("duckdb: %w", err)
	}
	return db, snap.Files, nil
}

func localPath(ctx context.Context, b objstore.Store, dir, key string) (string, error) {
	if fs, ok := b.(*objstore.Filesystem); ok {
		return filepath.Join(fs.Root(), filepath.FromSlash(key)), nil
	}
	dst := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	rc, err := b.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return "", err
	}
	return dst, f.Close()
}
