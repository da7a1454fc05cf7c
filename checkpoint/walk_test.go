package checkpoint_test

import (
	"io/fs"
	"path/filepath"
)

// walkFiles calls fn with every regular file under root and its size.
func walkFiles(root string, fn func(path string, size int64)) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fn(path, info.Size())
		return nil
	})
}
