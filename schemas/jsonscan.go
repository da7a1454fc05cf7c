package schemas

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonScanner reads JSON tokens from data at pos. Methods report failure
// with false and leave the reason in msg (a constant: failing costs no
// allocation until the caller builds the error).
type jsonScanner struct {
	data []byte
	pos  int
	msg  string
}

// maxSkipDepth bounds the nesting of skipped (unknown) values.
const maxSkipDepth = 256

func (s *jsonScanner) fail(msg string) bool {
	s.msg = msg
	return false
}

// ws skips blanks.
func (s *jsonScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\n', '\r', '\t':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the byte at pos after blanks, or 0 at the end.
func (s *jsonScanner) peek() byte {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return s.data[s.pos] // no blank: the common case of compact JSON
	}
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialBytes returns a word whose lowest set bit is the high bit of the
// first byte of w (little endian) that str must look at: '"', '\\', a
// control character or a byte >= 0x80. Bits above it may be false
// positives (borrows), so only its lowest set bit means anything.
//
// The classic zero-byte test is (x - lsb) &^ x & msb; the &^ x only drops
// bytes >= 0x80, which "| w" flags anyway, so it is left out: ((x - lsb) |
// w) & msb flags the same first byte for x = w ^ c (c < 0x80) as for
// x = w - c.
func specialBytes(w uint64) uint64 {
	quote := w ^ (lsb * '"')
	bslash := w ^ (lsb * '\\')
	return ((quote - lsb) | (bslash - lsb) | (w - lsb*0x20) | w) & msb
}

// skipPlain returns the position of the first byte from i on that str
// must look at (see specialBytes), or a position within the last 7 bytes
// of data if there is none before them. It reads data sixteen bytes at a
// time while it can (one branch for two words), then eight.
func skipPlain(data []byte, i int) int {
	for ; i >= 0 && i <= len(data)-16; i += 16 {
		lo := specialBytes(binary.LittleEndian.Uint64(data[i : i+8]))
		hi := specialBytes(binary.LittleEndian.Uint64(data[i+8 : i+16]))
		if lo|hi != 0 {
			if lo != 0 {
				return i + bits.TrailingZeros64(lo)/8
			}
			return i + 8 + bits.TrailingZeros64(hi)/8
		}
	}
	for ; i >= 0 && i <= len(data)-8; i += 8 {
		if mask := specialBytes(binary.LittleEndian.Uint64(data[i : i+8])); mask != 0 {
			return i + bits.TrailingZeros64(mask)/8
		}
	}
	return i
}

// stringFlags describe a scanned string.
type stringFlags uint8

const (
	strEscaped  stringFlags = 1 << iota // holds backslash escapes
	strNonASCII                         // holds bytes >= 0x80
)

// str scans the string whose opening quote is at pos. It returns the
// bounds of the raw contents and leaves pos after the closing quote.
// Raw bytes are checked for control characters only; see text.
func (s *jsonScanner) str() (start, end int, flags stringFlags, ok bool) {
	i := s.pos + 1
	start = i
	data := s.data
	for {
		i = skipPlain(data, i)
		if i >= len(data) {
			s.pos = i
			return 0, 0, 0, s.fail("unterminated string")
		}
		c := data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return start, i, flags, true
		case c == '\\':
			flags |= strEscaped
			i += 2
		case c < 0x20:
			s.pos = i
			return 0, 0, 0, s.fail("control character in string")
		case c >= 0x80:
			flags |= strNonASCII
			i++
		default:
			i++
		}
	}
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	r := hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
	if hexVal(b[0]) < 0 || hexVal(b[1]) < 0 || hexVal(b[2]) < 0 || hexVal(b[3]) < 0 {
		return -1
	}
	return r
}

// unescape writes the unescaped form of src (string contents) to dst,
// which must be at least len(src) long, and returns its length, or why it
// cannot. A lone UTF-16 surrogate (\ud800 not followed by a low
// surrogate, or a low one alone) is refused: it stands for no character,
// and encoding/json's U+FFFD in its place would store a value that was not
// sent.
func unescape(dst, src []byte) (int, string) {
	n := 0
	for i := 0; i < len(src); {
		c := src[i]
		if c != '\\' {
			dst[n] = c
			n++
			i++
			continue
		}
		if i+1 >= len(src) {
			return 0, "invalid escape"
		}
		switch src[i+1] {
		case '"', '\\', '/':
			dst[n] = src[i+1]
		case 'b':
			dst[n] = '\b'
		case 'f':
			dst[n] = '\f'
		case 'n':
			dst[n] = '\n'
		case 'r':
			dst[n] = '\r'
		case 't':
			dst[n] = '\t'
		case 'u':
			r := hex4(src[i+2:])
			if r < 0 {
				return 0, "invalid escape"
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+1 < len(src) && src[i] == '\\' && src[i+1] == 'u' {
					r2 = hex4(src[i+2:])
				}
				dec := utf16.DecodeRune(r, r2)
				if dec == utf8.RuneError {
					return 0, "lone UTF-16 surrogate \\u" + strconv.FormatInt(int64(r), 16)
				}
				r = dec
				i += 6
			}
			n += utf8.EncodeRune(dst[n:], r)
			continue
		default:
			return 0, "invalid escape"
		}
		n++
		i += 2
	}
	return n, ""
}

// number scans a JSON number at pos and reports whether it is an integer
// (no fraction, no exponent).
func (s *jsonScanner) number() (start, end int, isInt, ok bool) {
	data := s.data
	i := s.pos
	start = i
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return 0, 0, false, s.fail("truncated number")
	}
	switch c := data[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		return 0, 0, false, s.fail("invalid number")
	}
	isInt = true
	if i < len(data) && data[i] == '.' {
		isInt = false
		i++
		d := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == d {
			return 0, 0, false, s.fail("invalid number")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		isInt = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		d := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == d {
			return 0, 0, false, s.fail("invalid number")
		}
	}
	s.pos = i
	return start, i, isInt, true
}

// shortInt reads the integers most values are in one pass, where number
// and parseInt take two: an optional '-' and 1 to 18 digits, without a
// leading zero (a lone 0 is fine), and no fraction or exponent after. It
// returns the value and the position after it; anything else, valid or
// not, answers false and goes the long way (number, then parseInt), which
// reports the errors. 18 digits cannot overflow an int64.
func shortInt(data []byte, pos int) (v int64, end int, ok bool) {
	i := pos
	neg := i < len(data) && data[i] == '-'
	if neg {
		i++
	}
	start := i
	var u uint64
	for ; i < len(data); i++ {
		c := data[i] - '0'
		if c > 9 {
			break
		}
		u = u*10 + uint64(c)
	}
	nd := i - start
	if nd == 0 || nd > 18 || (nd > 1 && data[start] == '0') {
		return 0, 0, false
	}
	if i < len(data) && (data[i] == '.' || data[i] == 'e' || data[i] == 'E') {
		return 0, 0, false
	}
	if neg {
		return -int64(u), i, true
	}
	return int64(u), i, true
}

// parseInt parses an integer token from number.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// literal consumes word (true, false or null) at pos.
func (s *jsonScanner) literal(word string) bool {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.fail("invalid literal")
	}
	s.pos += len(word)
	return true
}

// skip consumes any JSON value at pos (blanks already skipped), checking
// its syntax.
func (s *jsonScanner) skip(depth int) bool {
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of input")
	}
	switch c := s.data[s.pos]; c {
	case '"':
		start, end, flags, ok := s.str()
		if ok && flags&strEscaped != 0 && !validEscapes(s.data[start:end]) {
			return s.fail("invalid escape")
		}
		return ok
	case '{':
		if depth >= maxSkipDepth {
			return s.fail("nesting too deep")
		}
		s.pos++
		if s.peek() == '}' {
			s.pos++
			return true
		}
		for {
			if s.peek() != '"' {
				return s.fail("want a field name")
			}
			if !s.skip(depth + 1) {
				return false
			}
			if s.peek() != ':' {
				return s.fail("want ':'")
			}
			s.pos++
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			switch s.peek() {
			case ',':
				s.pos++
			case '}':
				s.pos++
				return true
			default:
				return s.fail("want ',' or '}'")
			}
		}
	case '[':
		if depth >= maxSkipDepth {
			return s.fail("nesting too deep")
		}
		s.pos++
		if s.peek() == ']' {
			s.pos++
			return true
		}
		for {
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			switch s.peek() {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return true
			default:
				return s.fail("want ',' or ']'")
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, _, _, ok := s.number()
		return ok
	}
}

// validEscapes checks the escapes of raw string contents.
func validEscapes(src []byte) bool {
	for k := 0; k < len(src); k++ {
		if src[k] != '\\' {
			continue
		}
		k++
		if k >= len(src) {
			return false
		}
		switch src[k] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if hex4(src[k+1:]) < 0 {
				return false
			}
			k += 4
		default:
			return false
		}
	}
	return true
}
