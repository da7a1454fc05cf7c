package hudifixtures

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Names lists the fixture tables.
var Names = []string{
	"v6_empty",
	"v6_nonpartitioned",
	"v6_simplekeygen_hivestyle_no_metafields",
	"v6_simplekeygen_nonhivestyle",
	"v6_simplekeygen_nonhivestyle_overwritetable",
}

// Dir is the fixtures directory: $LAKESTREAM_FIXTURES, or shared/fixtures/hudi
// beside the repository root.
func Dir() string {
	if d := os.Getenv("LAKESTREAM_FIXTURES"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	return filepath.Join(repo, "..", "shared", "fixtures", "hudi")
}

// Unpack extracts fixture name into a temporary directory and returns the
// table root. The fixtures themselves are never modified.
func Unpack(t testing.TB, name string) string {
	t.Helper()
	zipPath := filepath.Join(Dir(), name+".zip")
	dest := t.TempDir()
	if err := unzip(zipPath, dest); err != nil {
		t.Fatalf("unpack fixture %s: %v", name, err)
	}
	root := filepath.Join(dest, name)
	if _, err := os.Stat(filepath.Join(root, ".hoodie", "hoodie.properties")); err != nil {
		t.Fatalf("fixture %s: no table at %s: %v", name, root, err)
	}
	return root
}

func unzip(zipPath, dest string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "__MACOSX/") || strings.HasSuffix(f.Name, "/") {
			continue
		}
		target := filepath.Join(dest, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(target, filepath.Clean(dest)+string(os.PathSeparator)) {
			return fmt.Errorf("entry %q escapes the destination", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := extract(f, target); err != nil {
			return fmt.Errorf("entry %s: %w", f.Name, err)
		}
	}
	return nil
}

func extract(f *zip.File, target string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.Create(target)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
