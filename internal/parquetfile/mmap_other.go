//go:build !linux

package parquetfile

import "os"

// mapFile maps files on Linux only: elsewhere the merge reads them with
// ReadAt.
func mapFile(*os.File, int64) []byte { return nil }

func unmapFile([]byte) {}
