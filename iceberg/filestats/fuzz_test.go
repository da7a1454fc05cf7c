package filestats

import (
	"bytes"
	"context"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/lakestream/lakestream/internal/objstore"
)

// FuzzFooterFromTail: any tail, a file cut or damaged anywhere, is a
// footer and its Iceberg metrics or an error, never a panic.
func FuzzFooterFromTail(f *testing.F) {
	type row struct {
		ID   int64   `parquet:"id"`
		Name *string `parquet:"name,optional"`
		Tags []byte  `parquet:"tags"`
	}
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, parquet.SchemaOf(row{}))
	name := "x"
	for i := range 5 {
		if err := w.Write(row{ID: int64(i), Name: &name, Tags: []byte{byte(i)}}); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	whole := buf.Bytes()
	f.Add(whole[4:])
	f.Add(whole[len(whole)-40:])
	f.Add([]byte("PAR1"))
	f.Fuzz(func(t *testing.T, tail []byte) {
		md, err := FooterFromTail(tail)
		if err != nil {
			return
		}
		_, _, _ = FromFooter(md)
	})
}

// FuzzReadSidecar: any object under a sidecar's key is an instant's stats
// or an error naming the key, never a panic.
func FuzzReadSidecar(f *testing.F) {
	ctx := context.Background()
	b := objstore.NewMemory()
	st := &Instant{Schema: []byte(`{"type":"struct","fields":[]}`), Files: []File{{Path: "dt=a/f.parquet"}}}
	if err := WriteSidecar(ctx, b, "20261207000000000", st); err != nil {
		f.Fatal(err)
	}
	rc, err := b.Get(ctx, SidecarKey("20261207000000000"))
	if err != nil {
		f.Fatal(err)
	}
	var seed bytes.Buffer
	_, _ = seed.ReadFrom(rc)
	rc.Close()
	f.Add(seed.Bytes())
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := objstore.NewMemory()
		if err := b.Put(ctx, SidecarKey("20261207000000000"), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		_, _ = ReadSidecar(ctx, b, "20261207000000000")
	})
}
