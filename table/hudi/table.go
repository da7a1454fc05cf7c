package hudi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
)

// Paths inside a table, relative to its root.
const (
	MetaDir        = ".hoodie"
	PropertiesPath = MetaDir + "/hoodie.properties"
	HeartbeatDir   = MetaDir + "/.heartbeat"
	ArchiveDir     = MetaDir + "/" + DefaultArchiveFolder
	// DecisionDir holds lakestream's commit-or-rollback decision per
	// instant (see docs/format/table.md, "Fencing").
	DecisionDir = MetaDir + "/.lakestream/decisions"
	// RolledBackDir holds an empty marker per rolled-back instant, so that
	// readers and archival can skip files a zombie writes after the
	// rollback without reading every decision.
	RolledBackDir = MetaDir + "/.lakestream/rolledback"
	// InstantClaimDir holds the claim of each instant time Begin issued:
	// whoever creates <InstantClaimDir>/<t> with put-if-absent owns time t,
	// whatever its action (the requested file's name depends on the action,
	// so it cannot make a time unique on its own).
	InstantClaimDir = MetaDir + "/.lakestream/instants"
	// PartitionMetadataFile marks a directory as a partition.
	PartitionMetadataFile = ".hoodie_partition_metadata"
)

// Table is an open table on a bucket whose root is the table root.
type Table struct {
	bucket objstore.Store
	props  Properties
	cfg    Config
	opts   options

	mu          sync.Mutex
	lastInstant string            // the newest instant time this process has seen or issued
	partitions  map[string]bool   // partitions known to have partition metadata
	opened      map[string]string // writer ID by instant this Table opened and has not closed (opened.go)
}

// Open opens the table at the root of bucket. It fails with an error
// matching ErrNotTable when there is no table, and with a *FileError for
// properties lakestream does not support.
func Open(ctx context.Context, bucket objstore.Store, opts ...Option) (*Table, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("open table: %w", err)
	}
	data, err := objstore.ReadAll(ctx, bucket, PropertiesPath)
	if errors.Is(err, objstore.ErrNotExist) {
		return nil, &FileError{Path: PropertiesPath, Problem: "missing", Err: ErrNotTable}
	}
	if err != nil {
		return nil, fmt.Errorf("open table: read %s: %w", PropertiesPath, err)
	}
	props, err := ParseProperties(data)
	if err != nil {
		return nil, &FileError{Path: PropertiesPath, Problem: "malformed properties", Err: err}
	}
	if err := checkProperties(PropertiesPath, props); err != nil {
		return nil, err
	}
	return &Table{
		bucket:     bucket,
		props:      props,
		cfg:        configFromProperties(props),
		opts:       o,
		partitions: map[string]bool{},
		opened:     map[string]string{},
	}, nil
}

// Create creates the table at the root of bucket, or opens it if it exists
// with the same configuration. An existing table with another name, key or
// partitioning is a *ConfigMismatchError: it is never rewritten.
func Create(ctx context.Context, bucket objstore.Store, cfg Config, opts ...Option) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("create table: %w", err)
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	props := cfg.properties()
	err := bucket.PutIfAbsent(ctx, PropertiesPath, bytes.NewReader(props.Marshal(o.now())))
	if err != nil && !errors.Is(err, objstore.ErrExists) {
		return nil, fmt.Errorf("create table: %w", err)
	}
	t, err := Open(ctx, bucket, opts...)
	if err != nil {
		return nil, err
	}
	if diffs := diffConfig(t.cfg, cfg); len(diffs) > 0 {
		return nil, &ConfigMismatchError{Diffs: diffs}
	}
	return t, nil
}

// Config returns the configuration the table was created with.
func (t *Table) Config() Config { return t.cfg }

// Properties returns a copy of hoodie.properties.
func (t *Table) Properties() Properties {
	p := make(Properties, len(t.props))
	for k, v := range t.props {
		p[k] = v
	}
	return p
}

// Bucket returns the bucket the table lives in.
func (t *Table) Bucket() objstore.Store { return t.bucket }

// Failpoints returns the failpoints the table was opened with
// (WithFailpoints; nil: none), for the parts that act on its commits
// (the Iceberg publisher's hook hits failpoint.AfterCommitBeforePublish).
func (t *Table) Failpoints() *failpoint.Set { return t.opts.failpoints }

// noteInstant remembers the newest instant time seen, so that instants this
// process issues only move forward.
func (t *Table) noteInstant(ts string) {
	t.mu.Lock()
	if ts > t.lastInstant {
		t.lastInstant = ts
	}
	t.mu.Unlock()
}
