package hudi

import (
	"crypto/rand"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// baseFileRE is the base file name Hudi accepts:
// <fileId>_<writeToken>_<instantTime>.parquet.
var baseFileRE = regexp.MustCompile(`^([a-zA-Z0-9-]+)_([a-zA-Z0-9-]+)_([0-9]+)\.parquet$`)

// BaseFileName is the name of a base file of file group fileID written by
// instant ts with write token token ("%d-%d-%d").
func BaseFileName(fileID, token, ts string) string {
	return fileID + "_" + token + "_" + ts + ".parquet"
}

// ParseBaseFileName splits a base file name into file ID, write token and
// instant time. ok is false for names that are not base files.
func ParseBaseFileName(name string) (fileID, token, ts string, ok bool) {
	m := baseFileRE.FindStringSubmatch(name)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}

// NewFileID returns a new file group ID: a random UUID and "-0", as Hudi's
// writers name the first file group of a write task.
func NewFileID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x-0", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// WriteToken is Hudi's "%d-%d-%d" write token (task partition, stage,
// attempt); lakestream uses worker, checkpoint and attempt.
func WriteToken(worker int, checkpoint int64, attempt int) string {
	return fmt.Sprintf("%d-%d-%d", worker, checkpoint, attempt)
}

// BaseFilePath joins a partition path and a base file name.
func BaseFilePath(partition, name string) string {
	if partition == "" {
		return name
	}
	return partition + "/" + name
}

// splitTablePath splits a table-relative object key into its directory
// (the partition path candidate, "" for the root) and file name.
func splitTablePath(key string) (dir, name string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// partitionDepth is the number of path segments of a partition path.
func partitionDepth(p string) int {
	if p == "" {
		return 0
	}
	return len(strings.Split(path.Clean(p), "/"))
}
