package schemas

import (
	"errors"
	"fmt"
)

// FieldSpec is one top-level field of the YAML table config. Type is in the
// grammar of ParseType. Optional defaults to true. ID is the Parquet field
// ID; zero means "assign one".
type FieldSpec struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`
	Optional *bool  `yaml:"optional"`
	ID       int32  `yaml:"id"`
}

// SchemaFromSpecs builds the user schema from the table config. It reports
// every problem at once (errors.Join of *TypeError and *SchemaError values):
// type syntax, names, decimal precision and scale, and field IDs.
func SchemaFromSpecs(specs []FieldSpec) (Schema, error) {
	var errs []error
	s := Schema{Fields: make([]Field, 0, len(specs))}
	for i, spec := range specs {
		f := Field{Name: spec.Name, Optional: true, ID: spec.ID}
		if spec.Optional != nil {
			f.Optional = *spec.Optional
		}
		t, err := ParseType(spec.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %d (%q): %w", i+1, spec.Name, err))
			t = Type{Kind: KindString} // keep checking the rest
		}
		f.Type = t
		s.Fields = append(s.Fields, f)
	}
	errs = append(errs, validateUser(s)...)
	if err := errors.Join(errs...); err != nil {
		return Schema{}, err
	}
	return s, nil
}
