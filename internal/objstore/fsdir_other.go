//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package objstore

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// dir is a directory at or below a Filesystem's root. On this platform it is
// a path: each name is checked with Lstat before it is used, which refuses a
// symbolic link found in place but, unlike the *at system calls used on
// Linux and the BSDs, not one swapped in between the check and the use.
type dir struct {
	path string
	key  string
}

func openRoot(root string) (*dir, error) {
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &SymlinkError{Path: root}
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: root, Err: syscall.ENOTDIR}
	}
	return &dir{path: root}, nil
}

func (d *dir) child(name string) string { return filepath.Join(d.path, name) }

func (d *dir) childKey(name string) string {
	if d.key == "" {
		return name
	}
	return d.key + "/" + name
}

func (d *dir) symlinkError(name string) error {
	return &SymlinkError{Path: d.child(name), Key: d.childKey(name)}
}

// check returns the type of name, refusing a symbolic link.
func (d *dir) check(name string) (fs.FileMode, error) {
	fi, err := os.Lstat(d.child(name))
	if err != nil {
		return 0, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return 0, d.symlinkError(name)
	}
	return fi.Mode().Type(), nil
}

func (d *dir) openDir(name string) (*dir, error) {
	mode, err := d.check(name)
	if err != nil {
		return nil, err
	}
	if !mode.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: d.child(name), Err: syscall.ENOTDIR}
	}
	return &dir{path: d.child(name), key: d.childKey(name)}, nil
}

func (d *dir) mkdir(name string) error { return os.Mkdir(d.child(name), 0o755) }

type entryInfo struct {
	mode    fs.FileMode
	size    int64
	modTime time.Time
}

func (d *dir) lstat(name string) (entryInfo, error) {
	fi, err := os.Lstat(d.child(name))
	if err != nil {
		return entryInfo{}, err
	}
	info := entryInfo{size: fi.Size(), modTime: fi.ModTime()}
	switch t := fi.Mode().Type(); {
	case t == 0:
	case t&fs.ModeSymlink != 0:
		info.mode = fs.ModeSymlink
	case t.IsDir():
		info.mode = fs.ModeDir
	default:
		info.mode = fs.ModeIrregular
	}
	return info, nil
}

func (d *dir) openFile(name string) (*os.File, int64, error) {
	mode, err := d.check(name)
	if err != nil {
		return nil, 0, err
	}
	if !mode.IsRegular() {
		return nil, 0, ErrNotExist
	}
	f, err := os.Open(d.child(name))
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, 0, ErrNotExist
	}
	return f, fi.Size(), nil
}

func (d *dir) createTemp() (*os.File, string, error) {
	f, err := os.CreateTemp(d.path, tempPrefix+"*")
	if err != nil {
		return nil, "", err
	}
	return f, filepath.Base(f.Name()), nil
}

func (d *dir) rename(from, to string) error { return os.Rename(d.child(from), d.child(to)) }

func (d *dir) link(from, to string) error { return os.Link(d.child(from), d.child(to)) }

func (d *dir) remove(name string) error {
	mode, err := d.check(name)
	if err != nil {
		if _, ok := err.(*SymlinkError); !ok {
			return err
		}
		mode = fs.ModeSymlink // the link itself is removed, never its target
	}
	if mode.IsDir() {
		return &fs.PathError{Op: "remove", Path: d.child(name), Err: syscall.EISDIR}
	}
	return os.Remove(d.child(name))
}

func (d *dir) rmdir(name string) error {
	mode, err := d.check(name)
	if err != nil {
		return err
	}
	if !mode.IsDir() {
		return &fs.PathError{Op: "remove", Path: d.child(name), Err: syscall.ENOTDIR}
	}
	return os.Remove(d.child(name))
}

func (d *dir) sync() error {
	f, err := os.Open(d.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return &fs.PathError{Op: "sync directory", Path: d.path, Err: err}
	}
	return nil
}

func (d *dir) names() ([]string, error) {
	f, err := os.Open(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func (d *dir) close() {}
