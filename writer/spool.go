package writer

// The spool: the local directory, on a vfs.FS (WithSpoolFS), of the files
// being written (one per open file, kept until uploaded) and of the stage's
// spill file; and SweepSpool, which removes what a crashed process left.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// SpoolPrefix starts the name of every spool file.
const SpoolPrefix = "lakestream-spool-"

// spoolBufferSize is the write buffer between a parquet writer and its
// spool file.
const spoolBufferSize = 256 << 10

// spool is a Set's spool directory: it creates files under names no other
// file has, and keeps the write buffers of closed files for reuse.
type spool struct {
	fs   vfs.FS
	dir  string
	bufs []*bufio.Writer // spool buffers of closed files, for reuse
	keep int             // most buffers kept in bufs
}

// create creates a new file named SpoolPrefix + prefix + <random> + suffix.
func (sp *spool) create(prefix, suffix string) (vfs.File, string, error) {
	for try := 0; ; try++ {
		name := sp.fs.PathJoin(sp.dir, SpoolPrefix+prefix+strconv.FormatUint(rand.Uint64(), 10)+suffix)
		f, err := sp.fs.Create(name, vfs.WriteCategoryUnspecified)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, name, err
	}
}

// remove removes a spool file; one that is gone already is not an error.
func (sp *spool) remove(name string) error {
	if err := sp.fs.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// open starts sf: a new spool file for a Parquet file, written through a
// buffer (a spool buffer is 256 KiB: a checkpoint that writes one small
// file for each of 100,000 buckets allocated 25 GB of them).
func (sp *spool) open(sf *spoolFile) error {
	f, name, err := sp.create("", ".parquet")
	if err != nil {
		return err
	}
	sf.sp, sf.path, sf.f = sp, name, f
	if n := len(sp.bufs); n > 0 {
		sf.buf = sp.bufs[n-1]
		sp.bufs = sp.bufs[:n-1]
		sf.buf.Reset(f)
	} else {
		sf.buf = bufio.NewWriterSize(f, spoolBufferSize)
	}
	sf.count.w = sf.buf
	return nil
}

// spoolFile is one Parquet file in the spool: written through a buffer,
// then read for its upload.
type spoolFile struct {
	sp    *spool
	path  string
	f     vfs.File // kept open until uploaded: a swept name does not lose the data
	buf   *bufio.Writer
	count countingWriter // what the encoder wrote: its offset
}

// countingWriter counts the bytes the encoder emitted, which is its write
// offset: the encoder has no output buffer of its own, so the difference
// between its size and this count is its buffered row group.
// While keep is set, it also keeps a copy of what it passes on
// (the end of a file, for its footer: WithFileStats).
type countingWriter struct {
	w    io.Writer
	n    int64
	keep bool
	kept []byte
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.keep {
		c.kept = append(c.kept, p[:n]...)
	}
	return n, err
}

// written is the bytes the encoder wrote.
func (sf *spoolFile) written() int64 { return sf.count.n }

// finish flushes and syncs the file (surfacing write-back errors before
// uploading what the page cache holds), checks its size and returns it. The
// write buffer goes back to the spool.
func (sf *spoolFile) finish() (int64, error) {
	err := sf.buf.Flush()
	if err == nil {
		err = sf.f.Sync()
	}
	var info os.FileInfo
	if err == nil {
		info, err = sf.f.Stat()
	}
	if err == nil && info.Size() != sf.count.n {
		err = fmt.Errorf("spool file is %d bytes, wrote %d", info.Size(), sf.count.n)
	}
	if err != nil {
		return 0, err
	}
	if sp := sf.sp; len(sp.bufs) < sp.keep {
		sf.buf.Reset(nil)
		sp.bufs = append(sp.bufs, sf.buf)
	}
	sf.buf = nil
	sf.count.w = nil // the spool buffer (256 KiB) must not live as long as the file
	return info.Size(), nil
}

// reader reads the first size bytes of the finished file. Several may read
// at once.
func (sf *spoolFile) reader(size int64) io.Reader { return io.NewSectionReader(sf.f, 0, size) }

// discard closes and removes the file.
func (sf *spoolFile) discard() error {
	if sf.f == nil {
		return nil
	}
	err := sf.f.Close()
	sf.f = nil
	if rmErr := sf.sp.remove(sf.path); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// osSpoolFS is the default spool filesystem: the operating system's
// (vfs.Default), but Create makes a file only its owner can read or write
// (0600, as os.CreateTemp does: spool files hold the records) and fails if
// the name exists, where vfs.Default's replaces it.
type osSpoolFS struct{ vfs.FS }

var defaultSpoolFS vfs.FS = osSpoolFS{vfs.Default}

func (osSpoolFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(name)
		return nil, err
	}
	return vfs.Default.OpenReadWrite(name, category)
}

func (osSpoolFS) Unwrap() vfs.FS { return vfs.Default }

// SweepSpool removes the spool files in dir (files named SpoolPrefix*, not
// recursively) last modified more than olderThan ago: the leftovers of a
// process that crashed. Choose olderThan well above the max file age plus the
// longest upload: a Set keeps its files open, so sweeping a live file only
// frees its name, not its data, but the space is held until that Set is done
// with it. It returns the number of files removed; a file that vanished
// meanwhile is not an error.
func SweepSpool(dir string, olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("sweep spool: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), SpoolPrefix) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		err = os.Remove(filepath.Join(dir, e.Name()))
		switch {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("sweep spool: %w", errors.Join(errs...))
	}
	return removed, nil
}
