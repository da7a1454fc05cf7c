package table

// Layout is what a table format decides about the data files a writer
// makes: their names and keys, the columns whose value is fixed for every
// row of a file, and the footer keys of a file's record key range. The
// writer (writer.WithLayout) and the checkpoint journal (which finds the
// instant of a file from its key) ask it; the Hudi layout is
// hudi.BaseFileLayout. A Layout is immutable and safe for concurrent use.
type Layout interface {
	// NewFile names a new data file of partition (a partition path,
	// ValidatePartitionPath; "" for the table root) written as s says.
	NewFile(partition string, s FileSpec) (DataFile, error)
	// FileInstant returns the instant a data file was written for, from
	// its key; ok is false if key is not a data file of this layout.
	FileInstant(key string) (instant string, ok bool)
	// Constants returns the columns whose value is the same for every row
	// of f, with that value.
	Constants(f DataFile) []Constant
	// KeyRangeFooter returns the footer key-value keys under which a file
	// records its smallest and largest record key.
	KeyRangeFooter() (minKey, maxKey string)
}

// FileSpec is who writes a new data file, and when: the instant and the
// writer's checkpoint it belongs to, the worker writing it and the number
// of files the worker made before it in that checkpoint.
type FileSpec struct {
	Instant    string
	Checkpoint int64
	Worker     int
	Seq        int
}

// DataFile is a data file a Layout named.
type DataFile struct {
	Partition string // its partition path, "" for the table root
	ID        string // its file group (Hudi) or file ID
	Name      string // its name in the partition's directory
	Key       string // its key from the table root
}

// Constant is a column whose value is fixed for every row of a file.
type Constant struct {
	Column string
	Value  []byte
}
