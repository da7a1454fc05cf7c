package parquetfile

import (
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read only (its pages are the
// page cache's, faulted in as they are read); nil if it cannot (the file
// is shorter than size, or the call fails): the merge then reads it with
// ReadAt. A file truncated while mapped faults where its pages were:
// mergeColumn turns the fault into an error.
func mapFile(f *os.File, size int64) []byte {
	if size <= 0 || int64(int(size)) != size {
		return nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < size {
		return nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return b
}

func unmapFile(b []byte) { syscall.Munmap(b) }
