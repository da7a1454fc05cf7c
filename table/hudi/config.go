package hudi

import (
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// Table property keys (hoodie.properties).
const (
	PropName             = "hoodie.table.name"
	PropType             = "hoodie.table.type"
	PropVersion          = "hoodie.table.version"
	PropLayoutVersion    = "hoodie.timeline.layout.version"
	PropRecordKeyFields  = "hoodie.table.recordkey.fields"
	PropPrecombineField  = "hoodie.table.precombine.field"
	PropPartitionFields  = "hoodie.table.partition.fields"
	PropKeyGenerator     = "hoodie.table.keygenerator.class"
	PropHiveStyle        = "hoodie.datasource.write.hive_style_partitioning"
	PropURLEncode        = "hoodie.datasource.write.partitionpath.urlencode"
	PropDropPartCols     = "hoodie.datasource.write.drop.partition.columns"
	PropDatabase         = "hoodie.database.name"
	PropArchiveFolder    = "hoodie.archivelog.folder"
	PropCreateSchema     = "hoodie.table.create.schema"
	PropChecksum         = "hoodie.table.checksum"
	PropPopulateMeta     = "hoodie.populate.meta.fields"
	PropTimezone         = "hoodie.table.timeline.timezone"
	PropMetadataParts    = "hoodie.table.metadata.partitions"
	PropBaseFileFormat   = "hoodie.table.base.file.format"
	TableTypeCOW         = "COPY_ON_WRITE"
	TableVersion         = "6"
	TimelineLayout       = "1"
	keyGenPackage        = "org.apache.hudi.keygen."
	DefaultDatabase      = "default"
	DefaultArchiveFolder = "archived"
)

// Config is what a table is created with. Zero fields take the defaults
// documented on each field.
type Config struct {
	// Name is the table name (required): letters, digits and underscores.
	Name string
	// Database defaults to "default". Name and database make the checksum.
	Database string
	// RecordKeyFields are the columns of the record key (required).
	RecordKeyFields []string
	// PartitionFields are the columns the partition path is made of, in
	// order (dt, hr). Empty means a non-partitioned table.
	PartitionFields []string
	// PrecombineField is optional.
	PrecombineField string
	// KeyGenerator is the Hudi key generator class. Default: Nonpartitioned
	// for no partition fields, Simple for one, Complex for more.
	KeyGenerator string
	// HiveStylePartitioning names partition directories field=value.
	// Default true (nil).
	HiveStylePartitioning *bool
	// Schema is the Avro schema JSON of the rows (hoodie.table.create.schema).
	Schema string
}

func (c Config) withDefaults() Config {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.KeyGenerator == "" {
		switch len(c.PartitionFields) {
		case 0:
			c.KeyGenerator = keyGenPackage + "NonpartitionedKeyGenerator"
		case 1:
			c.KeyGenerator = keyGenPackage + "SimpleKeyGenerator"
		default:
			c.KeyGenerator = keyGenPackage + "ComplexKeyGenerator"
		}
	}
	if c.HiveStylePartitioning == nil {
		t := true
		c.HiveStylePartitioning = &t
	}
	return c
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("table name is required"))
	} else if !isIdentifier(c.Name) {
		errs = append(errs, fmt.Errorf("table name %q: use letters, digits and underscores", c.Name))
	}
	if c.Database != "" && !isIdentifier(c.Database) {
		errs = append(errs, fmt.Errorf("database name %q: use letters, digits and underscores", c.Database))
	}
	if len(c.RecordKeyFields) == 0 {
		errs = append(errs, errors.New("at least one record key field is required"))
	}
	for _, f := range append(append([]string{}, c.RecordKeyFields...), c.PartitionFields...) {
		if f == "" || strings.ContainsAny(f, ",=/ ") {
			errs = append(errs, fmt.Errorf("field name %q: must be non-empty without , = / or spaces", f))
		}
	}
	return errors.Join(errs...)
}

func isIdentifier(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// TableChecksum is Hudi's hoodie.table.checksum: CRC32 (IEEE) of
// "<database>.<table>".
func TableChecksum(database, name string) uint32 {
	return crc32.ChecksumIEEE([]byte(database + "." + name))
}

// properties renders the configuration as the hoodie.properties Spark with
// Hudi 0.14 writes for a v6 copy-on-write table, plus the UTC timeline zone.
func (c Config) properties() Properties {
	c = c.withDefaults()
	p := Properties{
		PropName:            c.Name,
		PropType:            TableTypeCOW,
		PropVersion:         TableVersion,
		PropLayoutVersion:   TimelineLayout,
		PropRecordKeyFields: strings.Join(c.RecordKeyFields, ","),
		PropKeyGenerator:    c.KeyGenerator,
		PropHiveStyle:       fmt.Sprint(*c.HiveStylePartitioning),
		PropURLEncode:       "false",
		PropDropPartCols:    "false",
		PropDatabase:        c.Database,
		PropArchiveFolder:   DefaultArchiveFolder,
		PropPopulateMeta:    "true",
		PropTimezone:        "UTC",
		PropBaseFileFormat:  "PARQUET",
		PropChecksum:        fmt.Sprint(TableChecksum(c.Database, c.Name)),
	}
	if len(c.PartitionFields) > 0 {
		p[PropPartitionFields] = strings.Join(c.PartitionFields, ",")
	}
	if c.PrecombineField != "" {
		p[PropPrecombineField] = c.PrecombineField
	}
	if c.Schema != "" {
		p[PropCreateSchema] = c.Schema
	}
	return p
}

// configFromProperties reads the configuration a table was created with.
func configFromProperties(p Properties) Config {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	hive := p[PropHiveStyle] == "true"
	return Config{
		Name:                  p[PropName],
		Database:              p[PropDatabase],
		RecordKeyFields:       split(p[PropRecordKeyFields]),
		PartitionFields:       split(p[PropPartitionFields]),
		PrecombineField:       p[PropPrecombineField],
		KeyGenerator:          p[PropKeyGenerator],
		HiveStylePartitioning: &hive,
		Schema:                p[PropCreateSchema],
	}
}

// checkProperties verifies that lakestream can read and write a table with
// these properties; path names the file in errors.
func checkProperties(path string, p Properties) error {
	var errs []error
	need := func(key string) string {
		v, ok := p[key]
		if !ok || v == "" {
			errs = append(errs, &FileError{Path: path, Problem: "missing " + key})
		}
		return v
	}
	name := need(PropName)
	if t := need(PropType); t != "" && t != TableTypeCOW {
		errs = append(errs, &FileError{Path: path, Problem: fmt.Sprintf("table type %s (lakestream supports %s)", t, TableTypeCOW), Err: ErrUnsupported})
	}
	if v := need(PropVersion); v != "" && v != TableVersion {
		errs = append(errs, &FileError{Path: path, Problem: fmt.Sprintf("table version %s (lakestream supports %s)", v, TableVersion), Err: ErrUnsupported})
	}
	if v, ok := p[PropLayoutVersion]; ok && v != TimelineLayout {
		errs = append(errs, &FileError{Path: path, Problem: fmt.Sprintf("timeline layout version %s (lakestream supports %s)", v, TimelineLayout), Err: ErrUnsupported})
	}
	if p[PropDropPartCols] == "true" {
		errs = append(errs, &FileError{Path: path, Problem: PropDropPartCols + "=true", Err: ErrUnsupported})
	}
	if f := p[PropBaseFileFormat]; f != "" && f != "PARQUET" {
		errs = append(errs, &FileError{Path: path, Problem: "base file format " + f, Err: ErrUnsupported})
	}
	if sum, ok := p[PropChecksum]; ok && name != "" {
		db := p[PropDatabase]
		if db == "" {
			db = DefaultDatabase
		}
		if want := fmt.Sprint(TableChecksum(db, name)); sum != want {
			errs = append(errs, &FileError{Path: path, Problem: fmt.Sprintf("checksum %s does not match %s.%s (want %s)", sum, db, name, want)})
		}
	}
	return errors.Join(errs...)
}

// diffConfig lists how an existing table differs from a requested config.
func diffConfig(table, req Config) []ConfigDiff {
	table, req = table.withDefaults(), req.withDefaults()
	var d []ConfigDiff
	add := func(key, t, r string) {
		if t != r {
			d = append(d, ConfigDiff{Key: key, Table: t, Requested: r})
		}
	}
	add(PropName, table.Name, req.Name)
	add(PropDatabase, table.Database, req.Database)
	add(PropRecordKeyFields, strings.Join(table.RecordKeyFields, ","), strings.Join(req.RecordKeyFields, ","))
	add(PropPartitionFields, strings.Join(table.PartitionFields, ","), strings.Join(req.PartitionFields, ","))
	add(PropKeyGenerator, table.KeyGenerator, req.KeyGenerator)
	add(PropHiveStyle, fmt.Sprint(*table.HiveStylePartitioning), fmt.Sprint(*req.HiveStylePartitioning))
	if req.PrecombineField != "" {
		add(PropPrecombineField, table.PrecombineField, req.PrecombineField)
	}
	return d
}
