//go:build linux || darwin || freebsd || netbsd || openbsd

package objstore

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// dir is an open directory at or below a Filesystem's root. Every operation
// of the bucket goes through such handles: it opens the root, then each
// directory of the key relative to its parent (openat), and creates, renames,
// links, removes and stats names relative to the last one (the *at system
// calls). No call follows a symbolic link (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW,
// and renameat, linkat and unlinkat never do), so a link found in place, or
// swapped in while an operation runs, cannot redirect it: the operation
// fails with a *SymlinkError instead.
type dir struct {
	fd   int
	path string // absolute path, for messages
	key  string // key of the directory relative to the root, "" for the root
}

// openRoot opens the root directory root, an absolute path without symbolic
// links (NewFilesystem resolved them).
func openRoot(root string) (*dir, error) {
	fd, err := openNoFollow(unix.AT_FDCWD, root, unix.O_RDONLY|unix.O_DIRECTORY, unix.S_IFDIR,
		func() error { return &SymlinkError{Path: root} })
	if err != nil {
		return nil, err
	}
	return &dir{fd: fd, path: root}, nil
}

func (d *dir) child(name string) string { return filepath.Join(d.path, name) }

func (d *dir) childKey(name string) string {
	if d.key == "" {
		return name
	}
	return d.key + "/" + name
}

// symlinkError is the error for the symbolic link name in d.
func (d *dir) symlinkError(name string) error {
	return &SymlinkError{Path: d.child(name), Key: d.childKey(name)}
}

// openNoFollow opens name relative to dirfd with O_NOFOLLOW, for a file of
// type want (S_IFDIR or S_IFREG). A symbolic link is refused with the error
// symlinkErr returns. The errno of that refusal varies (ELOOP; ENOTDIR with
// O_DIRECTORY on Linux; EMLINK on FreeBSD) and is shared with other causes,
// so the name is then examined without following it: a link is reported as
// such, a file of the wanted type (the name changed since the open) is
// opened again, anything else keeps the open's error. So the error always
// describes one state the name was in, and a refused link never passes for
// a missing file (ENOTDIR means ErrNotExist to readers).
func openNoFollow(dirfd int, name string, flags int, want uint32, symlinkErr func() error) (int, error) {
	const attempts = 100
	for attempt := 1; ; attempt++ {
		fd, err := openat(dirfd, name, flags|unix.O_NOFOLLOW)
		if err == nil {
			return fd, nil
		}
		if err != unix.ELOOP && err != unix.ENOTDIR && err != unix.EMLINK {
			return -1, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		var st unix.Stat_t
		if serr := ignoringEINTR(func() error { return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); serr != nil {
			return -1, &fs.PathError{Op: "open", Path: name, Err: serr}
		}
		switch typ := uint32(st.Mode) & unix.S_IFMT; {
		case typ == unix.S_IFLNK, typ == want && attempt == attempts:
			return -1, symlinkErr()
		case typ != want:
			return -1, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
}

// withPath puts the absolute path of name into a *fs.PathError from
// openNoFollow, which knows only the name.
func (d *dir) withPath(err error, name string) error {
	if pe, ok := err.(*fs.PathError); ok {
		pe.Path = d.child(name)
	}
	return err
}

// openDir opens the directory name in d.
func (d *dir) openDir(name string) (*dir, error) {
	fd, err := openNoFollow(d.fd, name, unix.O_RDONLY|unix.O_DIRECTORY, unix.S_IFDIR,
		func() error { return d.symlinkError(name) })
	if err != nil {
		return nil, d.withPath(err, name)
	}
	return &dir{fd: fd, path: d.child(name), key: d.childKey(name)}, nil
}

// mkdir creates the directory name in d.
func (d *dir) mkdir(name string) error {
	if err := ignoringEINTR(func() error { return unix.Mkdirat(d.fd, name, 0o755) }); err != nil {
		return &fs.PathError{Op: "mkdir", Path: d.child(name), Err: err}
	}
	return nil
}

// entryInfo is what lstat tells about a name.
type entryInfo struct {
	mode    fs.FileMode // only the type bits: 0, ModeDir, ModeSymlink or ModeIrregular
	size    int64
	modTime time.Time
}

// lstat describes the name in d itself, not what a link there points to.
func (d *dir) lstat(name string) (entryInfo, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return entryInfo{}, &fs.PathError{Op: "lstat", Path: d.child(name), Err: err}
	}
	return statInfo(&st), nil
}

func statInfo(st *unix.Stat_t) entryInfo {
	info := entryInfo{size: st.Size, modTime: time.Unix(st.Mtim.Unix())}
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		info.mode = fs.ModeDir
	case unix.S_IFLNK:
		info.mode = fs.ModeSymlink
	default:
		info.mode = fs.ModeIrregular
	}
	return info
}

// openFile opens the regular file name in d for reading and returns its
// size. Anything else there is ErrNotExist, a symbolic link a
// *SymlinkError. O_NONBLOCK keeps a FIFO from blocking the open.
func (d *dir) openFile(name string) (*os.File, int64, error) {
	fd, err := openNoFollow(d.fd, name, unix.O_RDONLY|unix.O_NONBLOCK, unix.S_IFREG,
		func() error { return d.symlinkError(name) })
	if err != nil {
		return nil, 0, d.withPath(err, name)
	}
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(fd, &st) }); err != nil {
		_ = unix.Close(fd)
		return nil, 0, &fs.PathError{Op: "stat", Path: d.child(name), Err: err}
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		_ = unix.Close(fd)
		return nil, 0, ErrNotExist
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		_ = unix.Close(fd)
		return nil, 0, &fs.PathError{Op: "open", Path: d.child(name), Err: err}
	}
	return os.NewFile(uintptr(fd), d.child(name)), st.Size, nil
}

// createTemp creates a new temporary file in d, readable and writable by the
// owner only, and returns it with its name.
func (d *dir) createTemp() (*os.File, string, error) {
	for range 10000 {
		name := tempPrefix + strconv.FormatUint(rand.Uint64(), 36)
		fd, err := openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return nil, "", &fs.PathError{Op: "create", Path: d.child(name), Err: err}
		}
		return os.NewFile(uintptr(fd), d.child(name)), name, nil
	}
	return nil, "", &fs.PathError{Op: "create", Path: d.child(tempPrefix + "*"), Err: fs.ErrExist}
}

// rename renames from to to within d, replacing what is at to (a link there
// is replaced, never followed).
func (d *dir) rename(from, to string) error {
	if err := ignoringEINTR(func() error { return unix.Renameat(d.fd, from, d.fd, to) }); err != nil {
		return &os.LinkError{Op: "rename", Old: d.child(from), New: d.child(to), Err: err}
	}
	return nil
}

// link makes to a hard link of from within d; it fails with an error
// matching fs.ErrExist if to exists.
func (d *dir) link(from, to string) error {
	if err := ignoringEINTR(func() error { return unix.Linkat(d.fd, from, d.fd, to, 0) }); err != nil {
		return &os.LinkError{Op: "link", Old: d.child(from), New: d.child(to), Err: err}
	}
	return nil
}

// remove removes the non-directory name in d.
func (d *dir) remove(name string) error {
	if err := ignoringEINTR(func() error { return unix.Unlinkat(d.fd, name, 0) }); err != nil {
		return &fs.PathError{Op: "remove", Path: d.child(name), Err: err}
	}
	return nil
}

// rmdir removes the empty directory name in d.
func (d *dir) rmdir(name string) error {
	if err := ignoringEINTR(func() error { return unix.Unlinkat(d.fd, name, unix.AT_REMOVEDIR) }); err != nil {
		return &fs.PathError{Op: "remove", Path: d.child(name), Err: err}
	}
	return nil
}

// sync fsyncs d, so that the entries created, renamed or removed in it
// survive a crash.
func (d *dir) sync() error {
	if err := ignoringEINTR(func() error { return unix.Fsync(d.fd) }); err != nil {
		return &fs.PathError{Op: "sync directory", Path: d.path, Err: err}
	}
	return nil
}

// names returns the names in d, unsorted.
func (d *dir) names() ([]string, error) {
	fd, err := openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	return f.Readdirnames(-1)
}

func (d *dir) close() { _ = unix.Close(d.fd) }

func openat(dirfd int, name string, flags int) (int, error) {
	var fd int
	err := ignoringEINTR(func() error {
		var err error
		fd, err = unix.Openat(dirfd, name, flags|unix.O_CLOEXEC, 0o600)
		return err
	})
	return fd, err
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
