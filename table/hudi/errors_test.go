package hudi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/hudifixtures"
	"github.com/lakestream/lakestream/internal/objstore"
)

// TestBadTables checks that damaged or foreign tables give typed errors
// naming the file and the problem, and never panic.
func TestBadTables(t *testing.T) {
	ctx := context.Background()
	const fixture = "v6_simplekeygen_nonhivestyle"
	cases := []struct {
		name    string
		damage  func(root string) error
		op      string // open, timeline, snapshot, checkpoints
		is      error  // errors.Is target, or nil
		mention []string
	}{
		{
			name:    "not a table",
			damage:  func(root string) error { return os.Remove(filepath.Join(root, ".hoodie", "hoodie.properties")) },
			op:      "open",
			is:      ErrNotTable,
			mention: []string{".hoodie/hoodie.properties", "missing"},
		},
		{
			name:    "table version 8",
			damage:  editProps("hoodie.table.version=6", "hoodie.table.version=8"),
			op:      "open",
			is:      ErrUnsupported,
			mention: []string{"hoodie.properties", "table version 8"},
		},
		{
			name:    "merge on read",
			damage:  editProps("hoodie.table.type=COPY_ON_WRITE", "hoodie.table.type=MERGE_ON_READ"),
			op:      "open",
			is:      ErrUnsupported,
			mention: []string{"hoodie.properties", "MERGE_ON_READ"},
		},
		{
			name:    "wrong checksum",
			damage:  editProps("hoodie.table.checksum=616688896", "hoodie.table.checksum=1"),
			op:      "open",
			mention: []string{"hoodie.properties", "checksum 1 does not match"},
		},
		{
			name:    "truncated commit",
			damage:  truncate(".hoodie/20240418172802262.commit", 100),
			op:      "checkpoints",
			mention: []string{".hoodie/20240418172802262.commit", "corrupt or truncated commit metadata"},
		},
		{
			name:    "empty commit",
			damage:  truncate(".hoodie/20240418172804498.commit", 0),
			op:      "checkpoints",
			mention: []string{".hoodie/20240418172804498.commit", "empty commit metadata"},
		},
		{
			name:    "garbage commit",
			damage:  write(".hoodie/20240418172804498.commit", "\x00\x01not json"),
			op:      "checkpoints",
			mention: []string{".hoodie/20240418172804498.commit", "corrupt"},
		},
		{
			name:    "unknown action",
			damage:  write(".hoodie/20240418172805000.frobnicate", "{}"),
			op:      "timeline",
			is:      ErrUnknownAction,
			mention: []string{".hoodie/20240418172805000.frobnicate", `action "frobnicate"`},
		},
		{
			name:    "malformed instant time",
			damage:  write(".hoodie/2024041817.commit", "{}"),
			op:      "snapshot",
			mention: []string{".hoodie/2024041817.commit", "malformed instant time"},
		},
		{
			name:    "path escaping the table",
			damage:  write(".hoodie/20240418172805000.commit", `{"partitionToWriteStats":{"10":[{"fileId":"x-0","path":"../../etc/passwd"}]},"extraMetadata":{}}`),
			op:      "checkpoints",
			mention: []string{".hoodie/20240418172805000.commit", "../../etc/passwd"},
		},
		{
			name:    "bad checkpoint key",
			damage:  write(".hoodie/20240418172805000.commit", `{"partitionToWriteStats":{},"extraMetadata":{"deltastreamer.checkpoint.key":"t,0:-5"}}`),
			op:      "checkpoints",
			mention: []string{".hoodie/20240418172805000.commit", "bad offset"},
		},
		{
			name:    "corrupt replacecommit",
			damage:  write(".hoodie/20240418172805000.replacecommit", `{"partitionToWriteStats":`),
			op:      "snapshot",
			mention: []string{".hoodie/20240418172805000.replacecommit", "corrupt or truncated"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := hudifixtures.Unpack(t, fixture)
			if err := tc.damage(root); err != nil {
				t.Fatal(err)
			}
			b, err := objstore.NewFilesystem(root)
			if err != nil {
				t.Fatal(err)
			}
			tbl, err := Open(ctx, b)
			if tc.op != "open" {
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				switch tc.op {
				case "timeline":
					_, err = tbl.Timeline(ctx)
				case "snapshot":
					_, err = tbl.Snapshot(ctx)
				case "checkpoints":
					_, err = tbl.Checkpoints(ctx)
				}
			}
			if err == nil {
				t.Fatalf("%s succeeded on a damaged table", tc.op)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("error %v (%T) is not a *FileError", err, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func editProps(old, new string) func(string) error {
	return func(root string) error {
		p := filepath.Join(root, ".hoodie", "hoodie.properties")
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !strings.Contains(string(data), old) {
			return errors.New("fixture lacks " + old)
		}
		return os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644)
	}
}

func truncate(rel string, size int64) func(string) error {
	return func(root string) error { return os.Truncate(filepath.Join(root, rel), size) }
}

func write(rel, content string) func(string) error {
	return func(root string) error { return os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644) }
}
