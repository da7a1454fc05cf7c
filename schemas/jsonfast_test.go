package schemas

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Tests of the JSON decoder's fast paths (word-at-a-time string scanning,
// one-pass integers, word compares of field names) against the simple
// byte-at-a-time code they replace.

// isSpecial is the byte test specialBytes makes eight at a time.
func isSpecial(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }

func TestSpecialBytesFindsTheFirst(t *testing.T) {
	// Filler bytes next to the special ones in value: a borrow or carry
	// from them must not hide or fake a special byte.
	fillers := []byte{' ', '!', '#', '[', ']', '^', 'a', '~', 0x7f, '0', 0x21, 0x5d}
	for _, fill := range fillers {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				var b [8]byte
				for k := range b {
					b[k] = fill
				}
				b[pos] = byte(c)
				// A second special byte after the first must not change
				// the answer.
				for _, after := range []byte{fill, '"', '\\', 0, 0xff} {
					if pos < 7 {
						b[7] = after
					}
					w := uint64(0)
					for k := 7; k >= 0; k-- {
						w = w<<8 | uint64(b[k])
					}
					want := -1
					for k := range b {
						if isSpecial(b[k]) {
							want = k
							break
						}
					}
					mask := specialBytes(w)
					got := -1
					if mask != 0 {
						got = trailingZeroBytes(mask)
					}
					if got != want {
						t.Fatalf("specialBytes(% x) finds byte %d, want %d", b, got, want)
					}
				}
			}
		}
	}
}

func trailingZeroBytes(mask uint64) int {
	n := 0
	for mask&0xff == 0 {
		mask >>= 8
		n++
	}
	return n
}

// refStr is str as it was, one byte at a time.
func refStr(s *jsonScanner) (start, end int, flags stringFlags, ok bool) {
	i := s.pos + 1
	start = i
	for {
		if i >= len(s.data) {
			s.pos = i
			return 0, 0, 0, s.fail("unterminated string")
		}
		c := s.data[i]
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

// checkSkipPlain checks skipPlain's answer from i: the first special byte,
// or, when there is none before them, a position in the last 7 bytes.
func checkSkipPlain(t *testing.T, data []byte, i int) {
	t.Helper()
	want := i
	for want < len(data) && !isSpecial(data[want]) {
		want++
	}
	got := skipPlain(data, i)
	if got != want && !(got <= want && got > len(data)-8 && got >= i) {
		t.Fatalf("skipPlain(%q, %d) = %d, want %d", data, i, got, want)
	}
}

func checkStrMatchesReference(t *testing.T, data []byte, pos int) {
	t.Helper()
	checkSkipPlain(t, data, pos+1)
	fast := jsonScanner{data: data, pos: pos}
	ref := jsonScanner{data: data, pos: pos}
	s1, e1, f1, ok1 := fast.str()
	s2, e2, f2, ok2 := refStr(&ref)
	if s1 != s2 || e1 != e2 || f1 != f2 || ok1 != ok2 || fast.pos != ref.pos || fast.msg != ref.msg {
		t.Fatalf("str(%q at %d) = %d %d %d %v pos %d %q; reference %d %d %d %v pos %d %q",
			data, pos, s1, e1, f1, ok1, fast.pos, fast.msg, s2, e2, f2, ok2, ref.pos, ref.msg)
	}
}

func TestStrMatchesReference(t *testing.T) {
	specials := []string{`"`, `\"`, `\\`, `\n`, `\u00e9`, `\`, "\x00", "\x1f", "\x7f", "\x80", "\xc3\xa9", "\xff", " ", "}"}
	// Each special piece at every offset of a string of up to 40 bytes, at
	// every alignment of the string in the buffer, with the buffer ending at
	// the closing quote, a few bytes after it, or before it.
	for lead := 0; lead < 9; lead++ {
		for n := 0; n <= 40; n++ {
			for _, sp := range specials {
				for at := 0; at <= n; at++ {
					body := strings.Repeat("a", at) + sp + strings.Repeat("b", n-at)
					for _, tail := range []string{`"`, `"}`, `","x":1}`, ``} {
						data := []byte(strings.Repeat(" ", lead) + `"` + body + tail)
						checkStrMatchesReference(t, data, lead)
					}
				}
			}
		}
	}
}

func FuzzStrMatchesReference(f *testing.F) {
	f.Add([]byte(`"abc\"def\u00e9\\"`), uint8(0))
	f.Add([]byte("  \"0123456789abcdef\x01\""), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, pos uint8) {
		if int(pos) >= len(data) {
			return
		}
		checkStrMatchesReference(t, data, int(pos))
	})
}

// checkShortInt checks that when shortInt reads a number, number and
// parseInt read the same one (so the fast path changes nothing).
func checkShortInt(t *testing.T, data []byte) {
	t.Helper()
	v, end, ok := shortInt(data, 0)
	if !ok {
		return
	}
	s := jsonScanner{data: data}
	start, wantEnd, isInt, numOK := s.number()
	if !numOK || !isInt || wantEnd != end {
		t.Fatalf("shortInt(%q) = %d, end %d; number says end %d, integer %v, ok %v", data, v, end, wantEnd, isInt, numOK)
	}
	want, ok := parseInt(data[start:wantEnd])
	if !ok || want != v {
		t.Fatalf("shortInt(%q) = %d; parseInt says %d, %v", data, v, want, ok)
	}
}

func TestShortInt(t *testing.T) {
	reads := map[string]int64{
		"0": 0, "-0": 0, "7": 7, "-7": -7, "12345,": 12345, "5321}": 5321, "0]": 0,
		"123456789012345678": 123456789012345678, "-123456789012345678": -123456789012345678,
		"999999999999999999 ": 999999999999999999,
	}
	for in, want := range reads {
		v, end, ok := shortInt([]byte(in), 0)
		if !ok || v != want || end != len(strings.TrimRight(in, ",}] ")) {
			t.Errorf("shortInt(%q) = %d, %d, %v; want %d", in, v, end, ok, want)
		}
		checkShortInt(t, []byte(in))
	}
	// The long way: errors, leading zeros, fractions, exponents and numbers
	// of 19 digits or more, which may overflow.
	for _, in := range []string{"", "-", "-x", "x", "00", "01", "-01", "1.5", "1.", "1e5", "1E5", "-2e", "0.0", "0e1",
		"1234567890123456789", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "99999999999999999999"} {
		if v, _, ok := shortInt([]byte(in), 0); ok {
			t.Errorf("shortInt(%q) = %d, want the long way", in, v)
		}
	}
}

func FuzzShortInt(f *testing.F) {
	for _, s := range []string{"12345", "-0", "01", "1.5e3", "123456789012345678", "9223372036854775808"} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkShortInt)
}

func TestQuotedAt(t *testing.T) {
	var names []string
	for n := 1; n <= 20; n++ {
		names = append(names, "abcdefghijklmnopqrstuvwxyz"[:n])
	}
	l := newFieldLookup(names)
	for hint, name := range names {
		q := strconv.Quote(name)
		// The name, a name one byte longer or shorter, and a one-byte change
		// at each position; each at the start, middle and end of the buffer.
		cands := []string{q, strconv.Quote(name + "x"), strconv.Quote(name[:len(name)-1])}
		for k := 0; k < len(q); k++ {
			b := []byte(q)
			b[k] ^= 0x20
			cands = append(cands, string(b))
		}
		for _, c := range cands {
			for _, wrap := range [][2]string{{"", ""}, {"{", ":1}"}, {"  ", ""}, {"", ":"}, {`{"x":1,`, `:1234567890}`}} {
				data := []byte(wrap[0] + c + wrap[1])
				for cut := len(wrap[0]) + len(c) - 1; cut <= len(data); cut++ {
					d := data[:cut]
					pos := len(wrap[0])
					wantOK := strings.HasPrefix(string(d[pos:]), q)
					end, ok := l.quotedAt(d, pos, hint)
					if ok != wantOK || ok && end != pos+len(q) {
						t.Fatalf("quotedAt(%q, %d, %q) = %d, %v; want %v", d, pos, name, end, ok, wantOK)
					}
				}
			}
		}
	}
	if _, ok := l.quotedAt([]byte(`"a"`), 0, len(names)); ok {
		t.Error("a hint past the last field matched")
	}
	esc := newFieldLookup([]string{`a"b`, "a\\b", "x"})
	for _, in := range []string{`"a"b"`, `"a\"b"`, `"a\\b"`, `"a\b"`} {
		for hint := 0; hint < 2; hint++ {
			if _, ok := esc.quotedAt([]byte(in), 0, hint); ok {
				t.Errorf("%q matched name %d, which needs escaping", in, hint)
			}
		}
	}
}

// TestJSONFieldOrders decodes one record with its fields in many orders,
// with unknown fields among them and with a field repeated: the hint and
// quotedAt must never change the outcome.
func TestJSONFieldOrders(t *testing.T) {
	no := false
	user, err := SchemaFromSpecs([]FieldSpec{
		{Name: "a", Type: "int64"}, {Name: "bb", Type: "string"}, {Name: "abcdefg", Type: "int32"},
		{Name: "abcdefgh", Type: "string", Optional: &no}, {Name: "abcdefghijklmnop", Type: "bool"},
		{Name: "abcdefghijklmnopq", Type: "timestamp"}, {Name: "sessionNumber", Type: "int64"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := NewTableSchema(user, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{`"a":-12`, `"bb":"x\"y"`, `"abcdefg":7`, `"abcdefgh":"h"`, `"abcdefghijklmnop":true`,
		`"abcdefghijklmnopq":"2026-11-21T07:15:42.123Z"`, `"sessionNumber":3`}
	unknown := []string{`"abcdefgi":1`, `"abcdefghijklmnoq":[1,{"a":2}]`, `"b":null`, `"sessionNumbe":"s"`, `"a ":0`}
	dec := NewJSONDecoder(ts)
	var want Record
	if err := dec.Decode([]byte("{"+strings.Join(fields, ",")+"}"), &want); err != nil {
		t.Fatal(err)
	}
	wantRow := fmt.Sprint(want.Row)
	for rot := 0; rot < len(fields); rot++ {
		for _, rev := range []bool{false, true} {
			order := append(append([]string{}, fields[rot:]...), fields[:rot]...)
			if rev {
				for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
					order[i], order[j] = order[j], order[i]
				}
			}
			for u := 0; u <= len(order); u++ {
				withUnknown := append(append(append([]string{}, order[:u]...), unknown[u%len(unknown)]), order[u:]...)
				var rec Record
				in := "{" + strings.Join(withUnknown, ",") + "}"
				if err := dec.Decode([]byte(in), &rec); err != nil {
					t.Fatalf("%s: %v", in, err)
				}
				if got := fmt.Sprint(rec.Row); got != wantRow {
					t.Fatalf("%s:\n got %s\nwant %s", in, got, wantRow)
				}
				for dup := range withUnknown {
					in := "{" + strings.Join(append(append([]string{}, withUnknown...), withUnknown[dup]), ",") + "}"
					err := dec.Decode([]byte(in), &rec)
					if dup == u {
						if err != nil {
							t.Fatalf("%s: a repeated unknown field: %v", in, err)
						}
						continue
					}
					if err == nil || !strings.Contains(err.Error(), "field appears twice") {
						t.Fatalf("%s: err %v, want a repeated field", in, err)
					}
				}
			}
		}
	}
}
