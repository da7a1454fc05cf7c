package hudi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Operation types lakestream writes (HoodieCommitMetadata.operationType).
const (
	OperationInsert          = "INSERT"
	OperationCluster         = "CLUSTER"
	OperationInsertOverwrite = "INSERT_OVERWRITE"
)

// CommitMetadata is HoodieCommitMetadata (and HoodieReplaceCommitMetadata,
// which adds PartitionToReplaceFileIDs): the JSON body of .commit,
// .replacecommit and their .inflight files.
type CommitMetadata struct {
	PartitionToWriteStats     map[string][]WriteStat `json:"partitionToWriteStats"`
	Compacted                 bool                   `json:"compacted"`
	ExtraMetadata             map[string]string      `json:"extraMetadata"`
	OperationType             string                 `json:"operationType"`
	PartitionToReplaceFileIDs map[string][]string    `json:"partitionToReplaceFileIds,omitempty"`
}

// WriteStat is HoodieWriteStat: one base file written by an instant. The
// fields and their order are those Spark with Hudi 0.14 writes.
type WriteStat struct {
	FileID                       string        `json:"fileId"`
	Path                         *string       `json:"path"`
	CDCStats                     any           `json:"cdcStats"`
	PrevCommit                   string        `json:"prevCommit"`
	NumWrites                    int64         `json:"numWrites"`
	NumDeletes                   int64         `json:"numDeletes"`
	NumUpdateWrites              int64         `json:"numUpdateWrites"`
	NumInserts                   int64         `json:"numInserts"`
	TotalWriteBytes              int64         `json:"totalWriteBytes"`
	TotalWriteErrors             int64         `json:"totalWriteErrors"`
	TempPath                     *string       `json:"tempPath"`
	PartitionPath                *string       `json:"partitionPath"`
	TotalLogRecords              int64         `json:"totalLogRecords"`
	TotalLogFilesCompacted       int64         `json:"totalLogFilesCompacted"`
	TotalLogSizeCompacted        int64         `json:"totalLogSizeCompacted"`
	TotalUpdatedRecordsCompacted int64         `json:"totalUpdatedRecordsCompacted"`
	TotalLogBlocks               int64         `json:"totalLogBlocks"`
	TotalCorruptLogBlock         int64         `json:"totalCorruptLogBlock"`
	TotalRollbackBlocks          int64         `json:"totalRollbackBlocks"`
	FileSizeInBytes              int64         `json:"fileSizeInBytes"`
	MinEventTime                 *int64        `json:"minEventTime"`
	MaxEventTime                 *int64        `json:"maxEventTime"`
	RuntimeStats                 *RuntimeStats `json:"runtimeStats"`
}

// RuntimeStats is HoodieWriteStat.RuntimeStats, in milliseconds.
type RuntimeStats struct {
	TotalScanTime   int64 `json:"totalScanTime"`
	TotalUpsertTime int64 `json:"totalUpsertTime"`
	TotalCreateTime int64 `json:"totalCreateTime"`
}

// NoPrevCommit is the prevCommit of a base file that starts a file group.
const NoPrevCommit = "null"

// Marshal renders the metadata as indented JSON, as Hudi does.
func (m *CommitMetadata) Marshal() ([]byte, error) {
	c := *m
	if c.PartitionToWriteStats == nil {
		c.PartitionToWriteStats = map[string][]WriteStat{}
	}
	if c.ExtraMetadata == nil {
		c.ExtraMetadata = map[string]string{}
	}
	return json.MarshalIndent(&c, "", "  ")
}

// ParseCommitMetadata parses the body of a commit or replacecommit file.
// name is the file's path relative to the table root, used in errors. When
// completed is true every write stat must name a base file inside the table.
func ParseCommitMetadata(name string, data []byte, completed bool) (*CommitMetadata, error) {
	return DecodeCommitMetadata(name, bytes.NewReader(data), completed)
}

// DecodeCommitMetadata is ParseCommitMetadata reading r as it decodes, so
// that a large commit file is never held whole. An error reading r is
// returned wrapped (it matches what r returned); anything else is a
// *FileError.
func DecodeCommitMetadata(name string, r io.Reader, completed bool) (*CommitMetadata, error) {
	return decodeCommitMetadata(name, r, completed, false)
}

// decodeCommitMetadata is DecodeCommitMetadata, dropping the write stats
// with skipStats (decodeMetadata).
func decodeCommitMetadata(name string, r io.Reader, completed, skipStats bool) (*CommitMetadata, error) {
	er := &errReader{r: r}
	dec := json.NewDecoder(er)
	var check func(part string, i int, ws *WriteStat) error
	if completed {
		check = func(part string, i int, ws *WriteStat) error { return validateStat(name, part, i, ws) }
	}
	m, err := decodeMetadata(dec, skipStats, check)
	if err == nil {
		err = endOfDocument(dec)
	}
	var checked errChecked
	switch {
	case er.err != nil:
		return nil, fmt.Errorf("read %s: %w", name, er.err)
	case errors.As(err, &checked):
		return nil, checked.err
	case errors.Is(err, errEmpty):
		return nil, &FileError{Path: name, Problem: "empty commit metadata"}
	case err != nil:
		return nil, &FileError{Path: name, Problem: "corrupt or truncated commit metadata", Err: err}
	}
	if completed {
		// The write stats were checked as they were read.
		for part := range m.PartitionToReplaceFileIDs {
			if err := validatePartitionPath(part); err != nil {
				return nil, &FileError{Path: name, Problem: fmt.Sprintf("replaced partition %q", part), Err: err}
			}
		}
	}
	return m, nil
}

// validateMetadata checks that every write stat of completed metadata
// names a base file inside the table.
func validateMetadata(name string, m *CommitMetadata) error {
	for part, stats := range m.PartitionToWriteStats {
		for i := range stats {
			if err := validateStat(name, part, i, &stats[i]); err != nil {
				return err
			}
		}
	}
	for part := range m.PartitionToReplaceFileIDs {
		if err := validatePartitionPath(part); err != nil {
			return &FileError{Path: name, Problem: fmt.Sprintf("replaced partition %q", part), Err: err}
		}
	}
	return nil
}

// validateStat checks write stat i of partition part of a completed
// instant: a base file inside the table.
func validateStat(name, part string, i int, st *WriteStat) error {
	if err := validatePartitionPath(part); err != nil {
		return &FileError{Path: name, Problem: fmt.Sprintf("partition %q", part), Err: err}
	}
	if st.FileID == "" {
		return &FileError{Path: name, Problem: fmt.Sprintf("partition %q write stat %d has no fileId", part, i)}
	}
	if st.Path == nil || *st.Path == "" {
		return &FileError{Path: name, Problem: fmt.Sprintf("write stat of file group %s has no path", st.FileID)}
	}
	if err := validateRelativePath(*st.Path); err != nil {
		return &FileError{Path: name, Problem: fmt.Sprintf("write stat of file group %s", st.FileID), Err: err}
	}
	return nil
}

// validateRelativePath accepts a clean slash-separated path inside the table.
func validateRelativePath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return fmt.Errorf("path %q is not relative to the table root", p)
	}
	if path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("path %q is not a clean path inside the table", p)
	}
	return nil
}

// validatePartitionPath accepts "" (non-partitioned) or a clean relative path
// that does not point into .hoodie: the check of the partitions a table's
// metadata names, which other writers made. What lakestream writes is
// held to table.ValidatePartitionPath, the one rule for new partitions.
func validatePartitionPath(p string) error {
	if p == "" {
		return nil
	}
	if err := validateRelativePath(p); err != nil {
		return err
	}
	if p == ".hoodie" || strings.HasPrefix(p, ".hoodie/") {
		return fmt.Errorf("partition %q is inside .hoodie", p)
	}
	return nil
}

// errReader remembers the first error of r other than io.EOF, so that a
// decoder's error can be told apart from the store's.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}
