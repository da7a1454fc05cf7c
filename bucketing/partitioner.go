package bucketing

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Value is a record field value a template reads. Exactly one kind is set.
type Value struct {
	Bytes  []byte // strings and bytes
	Int    int64
	IsInt  bool
	Time   int64 // microseconds since epoch, UTC
	IsTime bool
	IsNull bool
}

// Partitioner renders partition paths. It interns the paths it returns so
// that the common case (the same few hours) allocates nothing per record. It
// is not safe for concurrent use.
type Partitioner struct {
	tmpl   *Template
	fields map[string]int // field name -> index in the values slice
	buf    []byte
	tbuf   []byte
	intern map[string]string
	// lastHour caches the path of the last event-time-only hour.
	lastKey  int64
	lastPath string
	timeOnly bool
	hourly   bool
}

// maxInterned bounds the intern table; past it the table is reset.
const maxInterned = 1 << 16

// NewPartitioner returns a partitioner for t. Values passed to Path follow
// the order of t.Fields().
func NewPartitioner(t *Template) *Partitioner {
	p := &Partitioner{tmpl: t, fields: map[string]int{}, intern: map[string]string{}, lastKey: -1 << 63}
	for i, f := range t.Fields() {
		p.fields[f] = i
	}
	p.timeOnly = len(p.fields) == 0
	p.hourly = p.timeOnly && coarserThanHour(t)
	return p
}

// coarserThanHour reports whether every eventTime layout changes at most
// once an hour (no minutes, seconds or fractions), so paths can be cached
// by hour.
func coarserThanHour(t *Template) bool {
	a := time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC)
	b := a.Add(time.Hour - time.Microsecond)
	for _, s := range t.segments {
		for _, p := range s.parts {
			if p.field == eventTimeField && a.Format(p.layout) != b.Format(p.layout) {
				return false
			}
		}
	}
	return true
}

// ErrNoEventTime is matched by the error for a template that needs an event
// time the record lacks.
var ErrNoEventTime = errors.New("no event time")

// Path returns the partition path for a record with event time eventMicros
// (hasTime false if the record has none) and the template's field values.
func (p *Partitioner) Path(eventMicros int64, hasTime bool, values []Value) (string, error) {
	if p.hourly {
		if !hasTime {
			return "", ErrNoEventTime
		}
		hour := floorDiv(eventMicros, int64(time.Hour/time.Microsecond))
		if hour == p.lastKey {
			return p.lastPath, nil
		}
		path, err := p.render(eventMicros, true, nil)
		if err != nil {
			return "", err
		}
		p.lastKey, p.lastPath = hour, path
		return path, nil
	}
	return p.render(eventMicros, hasTime, values)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (p *Partitioner) render(eventMicros int64, hasTime bool, values []Value) (string, error) {
	buf := p.buf[:0]
	var err error
	for i, s := range p.tmpl.segments {
		if i > 0 {
			buf = append(buf, '/')
		}
		buf = append(buf, s.name...)
		buf = append(buf, '=')
		start := len(buf)
		for _, pt := range s.parts {
			switch {
			case pt.field == "":
				buf = append(buf, pt.literal...)
			case pt.field == eventTimeField:
				if !hasTime {
					return "", ErrNoEventTime
				}
				p.tbuf = time.UnixMicro(eventMicros).UTC().AppendFormat(p.tbuf[:0], pt.layout)
				if buf, err = appendEscaped(buf, p.tbuf); err != nil {
					return "", fmt.Errorf("partition %s: %w", s.name, err)
				}
			default:
				idx := p.fields[pt.field]
				if idx >= len(values) {
					return "", fmt.Errorf("partition %s: no value for field %s", s.name, pt.field)
				}
				p.tbuf = appendValue(p.tbuf[:0], values[idx])
				if buf, err = appendEscaped(buf, p.tbuf); err != nil {
					return "", fmt.Errorf("partition %s from field %s: %w", s.name, pt.field, err)
				}
			}
		}
		switch {
		case len(buf) == start:
			buf = append(buf, DefaultPartitionValue...)
		case buf[start] == '.':
			// An empty field followed by a literal dot ("{a}.x" with a
			// empty) would make a hidden name or "." itself: escape the dot.
			rest := append([]byte(nil), buf[start+1:]...)
			buf = append(append(buf[:start], "%2E"...), rest...)
		}
	}
	p.buf = buf
	if s, ok := p.intern[string(buf)]; ok {
		return s, nil
	}
	if len(p.intern) >= maxInterned {
		clear(p.intern)
	}
	s := string(buf)
	p.intern[s] = s
	return s, nil
}

func appendValue(dst []byte, v Value) []byte {
	switch {
	case v.IsNull:
		return dst
	case v.IsTime:
		return time.UnixMicro(v.Time).UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999Z")
	case v.IsInt:
		return strconv.AppendInt(dst, v.Int, 10)
	default:
		return append(dst, v.Bytes...)
	}
}
