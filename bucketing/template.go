package bucketing

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultTemplate is the partition path of a record by event hour, in UTC.
const DefaultTemplate = "dt={eventTime:2006-01-02}/hr={eventTime:15}"

// Template is a parsed partition-path template: segments name=value joined
// by '/', where each value mixes literal text and placeholders:
//
//	{eventTime:<Go time layout>}  the record's event time in UTC
//	{<field>}                     a top-level scalar field of the record
//
// for example "dt={eventTime:2006-01-02}/hr={eventTime:15}" or
// "country={country}/dt={eventTime:2006-01-02}".
type Template struct {
	text     string
	segments []segment
}

type segment struct {
	name  string
	parts []part
}

// part is a literal or a placeholder.
type part struct {
	literal string
	field   string // "" for literals
	layout  string // for eventTime
}

const eventTimeField = "eventTime"

// ParseTemplate parses a template and reports every problem at once.
func ParseTemplate(text string) (*Template, error) {
	if text == "" {
		return nil, errors.New("partition template is empty")
	}
	var errs []error
	t := &Template{text: text}
	for i, seg := range strings.Split(text, "/") {
		name, value, ok := strings.Cut(seg, "=")
		if !ok || name == "" || value == "" {
			errs = append(errs, fmt.Errorf("partition template segment %d %q: want name=value", i+1, seg))
			continue
		}
		if err := checkName(name); err != nil {
			errs = append(errs, fmt.Errorf("partition template segment %d: %w", i+1, err))
		}
		parts, err := parseParts(value)
		if err == nil && len(parts) > 0 && strings.HasPrefix(parts[0].literal, ".") {
			err = errors.New("value must not start with '.'")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("partition template segment %d %q: %w", i+1, seg, err))
		}
		t.segments = append(t.segments, segment{name: name, parts: parts})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

func checkName(name string) error {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return fmt.Errorf("partition name %q: use letters, digits and underscores", name)
		}
	}
	return nil
}

func parseParts(value string) ([]part, error) {
	var parts []part
	for value != "" {
		open := strings.IndexByte(value, '{')
		if open < 0 {
			if strings.IndexByte(value, '}') >= 0 {
				return nil, errors.New("unmatched '}'")
			}
			if err := checkLiteral(value); err != nil {
				return nil, err
			}
			parts = append(parts, part{literal: value})
			break
		}
		if open > 0 {
			lit := value[:open]
			if strings.IndexByte(lit, '}') >= 0 {
				return nil, errors.New("unmatched '}'")
			}
			if err := checkLiteral(lit); err != nil {
				return nil, err
			}
			parts = append(parts, part{literal: lit})
		}
		end := strings.IndexByte(value[open:], '}')
		if end < 0 {
			return nil, errors.New("unclosed '{'")
		}
		inner := value[open+1 : open+end]
		field, layout, hasLayout := strings.Cut(inner, ":")
		if err := checkName(field); err != nil || field == "" {
			return nil, fmt.Errorf("placeholder {%s}: want {field} or {eventTime:layout}", inner)
		}
		switch {
		case field == eventTimeField && !hasLayout:
			return nil, fmt.Errorf("placeholder {%s}: eventTime needs a layout, e.g. {eventTime:2006-01-02}", inner)
		case field == eventTimeField:
			if layout == "" || strings.ContainsAny(time.Unix(0, 0).UTC().Format(layout), "/\\") {
				return nil, fmt.Errorf("placeholder {%s}: layout must not be empty or produce '/'", inner)
			}
		case hasLayout:
			return nil, fmt.Errorf("placeholder {%s}: only eventTime takes a layout", inner)
		}
		parts = append(parts, part{field: field, layout: layout})
		value = value[open+end+1:]
	}
	return parts, nil
}

// String returns the template text.
func (t *Template) String() string { return t.text }

// PartitionFields are the segment names, the table's partition fields.
func (t *Template) PartitionFields() []string {
	out := make([]string, len(t.segments))
	for i, s := range t.segments {
		out[i] = s.name
	}
	return out
}

// Fields are the record fields the template reads (eventTime excluded).
func (t *Template) Fields() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range t.segments {
		for _, p := range s.parts {
			if p.field != "" && p.field != eventTimeField && !seen[p.field] {
				seen[p.field] = true
				out = append(out, p.field)
			}
		}
	}
	return out
}

// UsesFields reports whether the template reads record fields other than
// the event time.
func (t *Template) UsesFields() bool { return len(t.Fields()) > 0 }

// checkLiteral accepts literal text of a partition value: [A-Za-z0-9_.-].
func checkLiteral(lit string) error {
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			if c == '}' {
				return errors.New("unmatched '}'")
			}
			return fmt.Errorf("literal %q: character %q not in [A-Za-z0-9_.-]", lit, c)
		}
	}
	return nil
}
