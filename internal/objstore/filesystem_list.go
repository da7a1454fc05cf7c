package objstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// List implements Bucket. It walks only the directories that can hold keys
// with the prefix, in lexical key order: the entries of each directory are
// sorted as their keys continue, a directory "d" as "d/". That puts "a-b" and
// "a.b" before the keys under "a/", although "a" sorts before them as a file
// name.
func (f *Filesystem) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	// Start in the deepest directory the prefix names completely.
	dirKey := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey = prefix[:i]
		if ValidateKey(dirKey) != nil {
			return nil // no valid key has this prefix
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	return f.listDir(ctx, dirKey, prefix, fn)
}

// listDir lists the objects in the directory of dirKey ("" for the root) and
// below it whose keys start with prefix. Errors from fn are returned as they
// are; the others get context.
func (f *Filesystem) listDir(ctx context.Context, dirKey, prefix string, fn func(ObjectInfo) error) error {
	entries, err := os.ReadDir(filepath.Join(f.root, filepath.FromSlash(dirKey)))
	if err != nil {
		if errors.Is(notExist(err), ErrNotExist) {
			return nil // removed concurrently, or never there
		}
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	sortKey := func(e os.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(sortKey(a), sortKey(b)) })
	keyPrefix := ""
	if dirKey != "" {
		keyPrefix = dirKey + "/"
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		name := e.Name()
		if strings.HasPrefix(name, tempPrefix) {
			continue
		}
		key := keyPrefix + name
		if e.IsDir() {
			sub := key + "/"
			if !strings.HasPrefix(sub, prefix) && !strings.HasPrefix(prefix, sub) {
				continue
			}
			if err := f.listDir(ctx, key, prefix, fn); err != nil {
				return err
			}
			continue
		}
		if !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(notExist(err), ErrNotExist) {
				continue // deleted concurrently
			}
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}
