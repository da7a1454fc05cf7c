package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// List implements Store. It walks only the directories that can hold keys
// with the prefix, in lexical key order: the entries of each directory are
// sorted as their keys continue, a directory "d" as "d/". That puts "a-b" and
// "a.b" before the keys under "a/", although "a" sorts before them as a file
// name.
//
// A symbolic link where keys with the prefix could be stops the listing with
// a *SymlinkError naming it. Skipping it would be worse: the objects a
// reader that follows links (DuckDB, Spark) sees behind it would be missing
// from every snapshot and recovery that lists the table, without a word.
func (f *Filesystem) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	// Start in the deepest directory the prefix names completely.
	var segs []string
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey := prefix[:i]
		if ValidateKey(dirKey) != nil {
			return nil // no valid key has this prefix
		}
		segs = strings.Split(dirKey, "/")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	dirs, err := f.walk(segs, false)
	if err != nil {
		if errors.Is(notExist(err), ErrNotExist) {
			return nil // never there, or removed concurrently
		}
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	defer closeAll(dirs)
	return f.listDir(ctx, dirs[len(dirs)-1], prefix, fn)
}

// listDir lists the objects in d and below it whose keys start with prefix.
// Errors from fn are returned as they are; the others get context.
func (f *Filesystem) listDir(ctx context.Context, d *dir, prefix string, fn func(ObjectInfo) error) error {
	names, err := d.names()
	if err != nil {
		if errors.Is(notExist(err), ErrNotExist) {
			return nil // removed concurrently
		}
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	type entry struct {
		name, key string
		info      entryInfo
	}
	entries := make([]entry, 0, len(names))
	for _, name := range names {
		if strings.HasPrefix(name, tempPrefix) {
			continue
		}
		// Only names that are, or can lead to, keys with the prefix.
		key := d.childKey(name)
		if !strings.HasPrefix(key, prefix) && !strings.HasPrefix(prefix, key+"/") {
			continue
		}
		info, err := d.lstat(name)
		if err != nil {
			if errors.Is(notExist(err), ErrNotExist) {
				continue // deleted concurrently
			}
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		entries = append(entries, entry{name: name, key: key, info: info})
	}
	sortKey := func(e entry) string {
		if e.info.mode.IsDir() {
			return e.name + "/"
		}
		return e.name
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(sortKey(a), sortKey(b)) })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		switch {
		case e.info.mode&fs.ModeSymlink != 0:
			return fmt.Errorf("list %s: %w", prefix, d.symlinkError(e.name))
		case e.info.mode.IsDir():
			sub, err := d.openDir(e.name)
			if err != nil {
				if errors.Is(notExist(err), ErrNotExist) {
					continue // removed concurrently
				}
				return fmt.Errorf("list %s: %w", prefix, err)
			}
			err = f.listDir(ctx, sub, prefix, fn)
			sub.close()
			if err != nil {
				return err
			}
		case e.info.mode == 0 && strings.HasPrefix(e.key, prefix):
			if err := fn(ObjectInfo{Key: e.key, Size: e.info.size, ModTime: e.info.modTime}); err != nil {
				return err
			}
		}
	}
	return nil
}
