package schemas

import (
	"encoding/binary"
	"strings"
)

// fieldLookup finds a struct field by name without allocating: an
// open-addressing hash table of field indices, with a hint (the field after
// the last one found) that hits whenever producers write fields in a stable
// order.
type fieldLookup struct {
	names  []string
	quoted []quotedName // per field: see quotedAt
	table  []int32      // field index, -1 for an empty slot
	mask   uint32
}

// quotedName is a field name as JSON writes it plainly, quotes included,
// with its first and last 8 bytes as words when it is that long: most
// names then compare with two loads instead of a memequal call.
type quotedName struct {
	text       string // "" if the name needs escaping in JSON
	head, tail uint64
}

func newQuotedName(name string) quotedName {
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' }) {
		return quotedName{}
	}
	q := quotedName{text: `"` + name + `"`}
	if len(q.text) >= 8 {
		q.head = binary.LittleEndian.Uint64([]byte(q.text))
		q.tail = binary.LittleEndian.Uint64([]byte(q.text[len(q.text)-8:]))
	}
	return q
}

func newFieldLookup(names []string) fieldLookup {
	size := 4
	for size < 2*len(names) {
		size *= 2
	}
	l := fieldLookup{names: names, quoted: make([]quotedName, len(names)), table: make([]int32, size), mask: uint32(size - 1)}
	for i := range l.table {
		l.table[i] = -1
	}
	for i, name := range names {
		l.quoted[i] = newQuotedName(name)
	}
	for i, name := range names {
		h := hashName(name) & l.mask
		for l.table[h] >= 0 {
			h = (h + 1) & l.mask
		}
		l.table[h] = int32(i)
	}
	return l
}

// hashName is FNV-1a.
func hashName[S ~string | ~[]byte](s S) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// find returns the index of the field named key, or -1. hint is the index
// to try first.
func (l *fieldLookup) find(key []byte, hint int) int {
	if uint(hint) < uint(len(l.names)) && l.names[hint] == string(key) {
		return hint
	}
	if len(l.table) == 0 {
		return -1
	}
	h := hashName(key) & l.mask
	for {
		i := l.table[h]
		if i < 0 {
			return -1
		}
		if l.names[i] == string(key) {
			return int(i)
		}
		h = (h + 1) & l.mask
	}
}

// quotedAt reports whether data at pos (an opening quote) is the JSON
// string of the name of field hint written without escapes, and returns
// the position after its closing quote. It saves scanning the string and
// hashing for the field producers write next.
func (l *fieldLookup) quotedAt(data []byte, pos, hint int) (int, bool) {
	if uint(hint) >= uint(len(l.quoted)) {
		return 0, false
	}
	q := &l.quoted[hint]
	n := len(q.text)
	end := pos + n
	if n < 8 || end > len(data) {
		return end, n != 0 && end <= len(data) && string(data[pos:end]) == q.text
	}
	// The two words overlap unless n is 16.
	if binary.LittleEndian.Uint64(data[pos:end]) != q.head || binary.LittleEndian.Uint64(data[end-8:end]) != q.tail {
		return 0, false
	}
	return end, n <= 16 || string(data[pos+8:end-8]) == q.text[8:n-8]
}
