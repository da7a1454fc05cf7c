package ingest

import (
	"errors"
	"testing"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/writer"
)

// TestValidateSettings: the settings' rules are ingest's and the writer's,
// every problem reported at once, each naming its field (or the writer's
// option); the per-worker memory rule applies only with the workers.
func TestValidateSettings(t *testing.T) {
	o := Options{Topic: "orders", Format: "xml", MaxRecordBytes: MaxRecordBytesLimit + 1, DeadLetterTopic: "orders",
		MemoryBudget: 2 << 20, SpoolDir: t.TempDir(), WriterOptions: []writer.Option{writer.WithMaxFileAge(-1)}}
	err := o.ValidateSettings(4)
	fields := map[string]bool{}
	for _, e := range joined(err) {
		var ie *OptionError
		var we *writer.OptionError
		switch {
		case errors.As(e, &ie):
			fields[ie.Field] = true
		case errors.As(e, &we):
			fields[we.Option] = true
		default:
			t.Errorf("a problem without its field: %v", e)
		}
	}
	for _, f := range []string{"Format", "MaxRecordBytes", "DeadLetterTopic", "MemoryBudget", "WithMaxFileAge"} {
		if !fields[f] {
			t.Errorf("%s: no problem reported:\n%v", f, err)
		}
	}
	if !errors.Is(err, ErrDeadLettersReadAgain) {
		t.Errorf("the dead-letter topic's problem is not ErrDeadLettersReadAgain: %v", err)
	}
	// Without the workers (Open), 2 MiB is a valid budget.
	o = Options{Format: "avro", MemoryBudget: 2 << 20}
	err = o.ValidateSettings(0)
	if fields := joined(err); len(fields) != 1 {
		t.Errorf("want only the missing registry, got:\n%v", err)
	}
	o.Registry = "http://registry:8081"
	if err := o.ValidateSettings(0); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
}

// TestMemoryBudgetSplit: each worker's writers get half of the worker's
// share of Options.MemoryBudget for their open writers (as ingestd gave
// them by hand): with a schema that parquet-go encodes, fewer files open.
func TestMemoryBudgetSplit(t *testing.T) {
	opt := func(b bool) *bool { return &b }
	user, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{{Name: "id", Type: "int64", Optional: opt(false)}, {Name: "tags", Type: "list<string>"}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := bucketing.ParseTemplate(bucketing.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := schemas.NewTableSchema(user, schemas.TableOptions{PartitionColumns: tmpl.ColumnFields()})
	if err != nil {
		t.Fatal(err)
	}
	router, err := bucketing.NewRouter(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Bucket: objstore.NewMemory(), Schema: ts, Template: tmpl, Router: router, SpoolDir: t.TempDir(),
		WriterOptions: []writer.Option{writer.WithMaxOpenFiles(64)}}
	open := func(o Options) int {
		set, err := (&Engine{opts: o}).newWriterSet(0)
		if err != nil {
			t.Fatal(err)
		}
		defer set.Close()
		return set.MaxOpenFiles()
	}
	if n := open(o); n != 64 {
		t.Fatalf("without a budget: %d open files, want 64", n)
	}
	const budget = 64 << 20
	want, err := writer.NewSet(o.Bucket, ts.Parquet(), 0, writer.WithMaxOpenFiles(64), writer.WithSpoolDir(o.SpoolDir),
		writer.WithPartitionColumns(ts.PartitionColumns(), tmpl.ColumnValues), writer.WithWriterMemory(budget/2/2))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	o.MemoryBudget = budget
	if n := open(o); n != want.MaxOpenFiles() || n >= 64 {
		t.Errorf("with a budget of 64 MiB over 2 workers: %d open files, want %d (16 MiB of writer memory)", n, want.MaxOpenFiles())
	}
	o.MemoryBudget = NoMemoryBudget
	if n := open(o); n != 64 {
		t.Errorf("with the budget off: %d open files, want 64", n)
	}
}
