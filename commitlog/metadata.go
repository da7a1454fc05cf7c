package commitlog

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &FileError{Path: name, Problem: "empty commit metadata"}
	}
	var m CommitMetadata
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, &FileError{Path: name, Problem: "corrupt or truncated commit metadata", Err: err}
	}
	if dec.More() {
		return nil, &FileError{Path: name, Problem: "trailing data after commit metadata"}
	}
	if !completed {
		return &m, nil
	}
	for part, stats := range m.PartitionToWriteStats {
		if err := validatePartitionPath(part); err != nil {
			return nil, &FileError{Path: name, Problem: fmt.Sprintf("partition %q", part), Err: err}
		}
		for i, st := range stats {
			if st.FileID == "" {
				return nil, &FileError{Path: name, Problem: fmt.Sprintf("partition %q write stat %d has no fileId", part, i)}
			}
			if st.Path == nil || *st.Path == "" {
				return nil, &FileError{Path: name, Problem: fmt.Sprintf("write stat of file group %s has no path", st.FileID)}
			}
			if err := validateRelativePath(*st.Path); err != nil {
				return nil, &FileError{Path: name, Problem: fmt.Sprintf("write stat of file group %s", st.FileID), Err: err}
			}
		}
	}
	for part := range m.PartitionToReplaceFileIDs {
		if err := validatePartitionPath(part); err != nil {
			return nil, &FileError{Path: name, Problem: fmt.Sprintf("replaced partition %q", part), Err: err}
		}
	}
	return &m, nil
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
// that does not point into .hoodie.
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
