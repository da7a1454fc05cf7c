package bucketing

import (
	"fmt"
	"net/url"
	"strings"
)

// ColumnFields are the partition fields that must be columns of their own:
// every segment name but those of segments that are exactly "{name}", a
// field of the record under its own name (its column is the field's).
// Hudi's readers find every partition field among the table's columns.
func (t *Template) ColumnFields() []string {
	var out []string
	for _, s := range t.segments {
		if len(s.parts) == 1 && s.parts[0].field == s.name && s.name != eventTimeField {
			continue
		}
		out = append(out, s.name)
	}
	return out
}

// ColumnValues returns the values of ColumnFields in a partition path this
// template made, unescaped; nil for DefaultPartitionValue (a null, as in
// Hive).
func (t *Template) ColumnValues(path string) ([][]byte, error) {
	segs := strings.Split(path, "/")
	if len(segs) != len(t.segments) {
		return nil, fmt.Errorf("partition path %q: %d segments, the template has %d", path, len(segs), len(t.segments))
	}
	var out [][]byte
	for i, s := range t.segments {
		if len(s.parts) == 1 && s.parts[0].field == s.name && s.name != eventTimeField {
			continue
		}
		name, value, ok := strings.Cut(segs[i], "=")
		if !ok || name != s.name {
			return nil, fmt.Errorf("partition path %q: segment %d is not %s=...", path, i+1, s.name)
		}
		if value == DefaultPartitionValue {
			out = append(out, nil)
			continue
		}
		v, err := url.PathUnescape(value)
		if err != nil {
			return nil, fmt.Errorf("partition path %q: segment %d: %w", path, i+1, err)
		}
		out = append(out, []byte(v))
	}
	return out, nil
}
