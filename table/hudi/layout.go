package hudi

import (
	"fmt"
	"strings"

	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi/hudimeta"
)

// BaseFileLayout is the table.Layout of Hudi base files: a file is
// <partition>/<fileId>_<worker>-<checkpoint>-<seq>_<instant>.parquet, a new
// file group each; its rows carry the partition path and the file name in
// _hoodie_partition_path and _hoodie_file_name; its footer the record key
// range in hoodie_min_record_key and hoodie_max_record_key.
type BaseFileLayout struct{}

var _ table.Layout = BaseFileLayout{}

// NewFile names a base file of a new file group of partition.
func (BaseFileLayout) NewFile(partition string, s table.FileSpec) (table.DataFile, error) {
	fileID := NewFileID()
	name := BaseFileName(fileID, WriteToken(s.Worker, s.Checkpoint, s.Seq), s.Instant)
	if _, _, _, ok := ParseBaseFileName(name); !ok {
		return table.DataFile{}, fmt.Errorf("base file name %q is not valid", name)
	}
	return table.DataFile{Partition: partition, ID: fileID, Name: name, Key: BaseFilePath(partition, name)}, nil
}

// FileInstant returns the instant of the base file key.
func (BaseFileLayout) FileInstant(key string) (string, bool) {
	_, _, instant, ok := ParseBaseFileName(key[strings.LastIndexByte(key, '/')+1:])
	return instant, ok
}

// Constants returns the partition path and the file name, Hudi's per-file
// meta columns.
func (BaseFileLayout) Constants(f table.DataFile) []table.Constant {
	return []table.Constant{
		{Column: hudimeta.ColPartitionPath, Value: []byte(f.Partition)},
		{Column: hudimeta.ColFileName, Value: []byte(f.Name)},
	}
}

// KeyRangeFooter returns Hudi's footer keys of the record key range.
func (BaseFileLayout) KeyRangeFooter() (minKey, maxKey string) {
	return hudimeta.MinRecordKey, hudimeta.MaxRecordKey
}
