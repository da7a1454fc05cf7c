package schemas

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

// FuzzAvroPlan compiles any writer schema against a table and decodes any
// bytes with the plan: no panic, and errors are DecodeErrors.
func FuzzAvroPlan(f *testing.F) {
	f.Add(`{"type":"record","name":"R","fields":[{"name":"a","type":["null","int"]},{"name":"l","type":{"type":"array","items":{"type":"map","values":"R"}}}]}`, []byte{2, 2, 0, 0})
	f.Add(`{"type":"record","name":"R","fields":[{"name":"s","type":{"type":"record","name":"S","fields":[{"name":"x","type":{"type":"fixed","name":"F","size":2,"logicalType":"decimal","precision":4,"scale":1}}]}}]}`, []byte{1, 2})
	f.Add(`{"type":"record","name":"R","fields":[{"name":"m","type":{"type":"map","values":{"type":"enum","name":"E","symbols":["A","B"]}}}]}`, []byte{2, 2, 'k', 2, 0})
	user, err := SchemaFromSpecs([]FieldSpec{
		{Name: "a", Type: "int64"}, {Name: "l", Type: "list<map<string,struct<a?:float64>>>"},
		{Name: "s", Type: "struct<x?:decimal(5,2)>"}, {Name: "m", Type: "map<string,string>"},
	})
	if err != nil {
		f.Fatal(err)
	}
	ts, err := NewTableSchema(user, TableOptions{EventTimeField: "a"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, schema string, data []byte) {
		w, err := ParseAvroSchema(schema)
		if err != nil {
			return
		}
		plan := compilePlan(w, ts)
		d := &avroDecoder{ts: ts, plans: map[uint32]*avroPlan{7: plan}, lastID: 7, lastPlan: plan}
		d.b.init(ts)
		var rec Record
		value := append([]byte{0, 0, 0, 0, 7}, data...)
		if err := d.Decode(value, &rec); err != nil {
			if _, ok := err.(*DecodeError); !ok {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if len(rec.Row) < ts.NumColumns() {
			t.Fatalf("short row %d", len(rec.Row))
		}
	})
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "-12.50", "1e3", "1.2300e-2", "99999999999999999999999999999999999999", ".5", "5.", "+7", "1e100000",
		"0.0000001e99999999999", "1e-99999999999999999999", "5e0000000000001", "0e999999999999", "123.45e-00000000000001"} {
		f.Add(s, uint8(2), uint8(10))
	}
	f.Fuzz(func(t *testing.T, s string, scale, precision uint8) {
		p := int(precision%38) + 1
		sc := int(scale) % (p + 1)
		mag, neg, e := parseDecimal([]byte(s), sc, pow10u128(p))
		r, ok := new(big.Rat).SetString(s)
		if strings.ContainsAny(s, "_xXpP/ \t\n") || strings.HasPrefix(strings.TrimLeft(s, "+-"), "0") && len(s) > 1 && strings.ContainsAny(s, "bBoO") {
			ok = false // big.Rat accepts forms a decimal column does not
		}
		if e == decimalSyntax {
			if ok && !strings.ContainsAny(s, "iInN") && validDecimalSyntax(s) {
				t.Fatalf("%q: rejected as syntax, big.Rat reads %v", s, r)
			}
			return
		}
		if !ok {
			// big.Rat refuses large exponents: the digits and the exponent
			// as big integers decide instead.
			want, wantMag, known := decimalByDigits(s, sc, p)
			switch {
			case !known:
				t.Fatalf("%q: parsed, big.Rat does not", s)
			case want != e:
				t.Fatalf("%q (%d,%d): %v, want %v", s, p, sc, e, want)
			case e == decimalOK && bigOfU128(mag).Cmp(wantMag) != 0:
				t.Fatalf("%q (%d,%d): magnitude %v, want %v", s, p, sc, bigOfU128(mag), wantMag)
			}
			return
		}
		unscaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sc)), nil)))
		switch e {
		case decimalInexact:
			if unscaled.IsInt() {
				t.Fatalf("%q scale %d: inexact, but %v is an integer", s, sc, unscaled)
			}
			return
		case decimalOverflow:
			limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)
			if unscaled.IsInt() && new(big.Int).Abs(unscaled.Num()).Cmp(limit) < 0 {
				t.Fatalf("%q (%d,%d): overflow, but %v fits", s, p, sc, unscaled)
			}
			return
		}
		got := bigOfU128(mag)
		if neg {
			got.Neg(got)
		}
		if !unscaled.IsInt() || unscaled.Num().Cmp(got) != 0 {
			t.Fatalf("%q (%d,%d): got %v, want %v", s, p, sc, got, unscaled)
		}
	})
}

func bigOfU128(v u128) *big.Int {
	b := new(big.Int).SetUint64(v.hi)
	return b.Lsh(b, 64).Add(b, new(big.Int).SetUint64(v.lo))
}

// decimalByDigits works out parseDecimal's outcome for s (valid syntax)
// with the exponent as a big integer: zero; inexact if digits would be
// lost to the scale; overflow past precision p; else the magnitude (for
// shifts small enough to compute). known is false if s is not valid.
func decimalByDigits(s string, scale, p int) (decimalError, *big.Int, bool) {
	if !validDecimalSyntax(s) {
		return 0, nil, false
	}
	s = strings.TrimLeft(s, "+-")
	mant, expText, _ := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	exp := new(big.Int)
	if expText != "" {
		if _, ok := exp.SetString(strings.TrimPrefix(expText, "+"), 10); !ok {
			return 0, nil, false
		}
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	if trimmed == "" {
		return decimalOK, new(big.Int), true
	}
	// value = trimmed * 10^shift, unscaled by the column's scale.
	shift := new(big.Int).Add(exp, big.NewInt(int64(len(digits)-len(trimmed)-len(frac)+scale)))
	if shift.Sign() < 0 {
		return decimalInexact, nil, true
	}
	if shift.Cmp(big.NewInt(int64(p))) > 0 {
		return decimalOverflow, nil, true
	}
	v, _ := new(big.Int).SetString(trimmed, 10)
	v.Mul(v, new(big.Int).Exp(big.NewInt(10), shift, nil))
	if v.Cmp(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)) >= 0 {
		return decimalOverflow, nil, true
	}
	return decimalOK, v, true
}

// validDecimalSyntax is the grammar parseDecimal reads.
func validDecimalSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"2026-11-21T07:15:42.123Z", "1969-12-31T23:59:59.999999999-23:59", "0000-01-01T00:00:00Z", "2024-02-29t00:00:00+01:00", "2023-02-29T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		micros, ok := parseTimestamp([]byte(s))
		ref, err := time.Parse(time.RFC3339Nano, s)
		if ok && err == nil && ref.UnixMicro() != micros && ref.Nanosecond()%1000 == 0 {
			t.Fatalf("%q: %d, time.Parse says %d", s, micros, ref.UnixMicro())
		}
		if ok && err == nil {
			want := ref.Unix()*1e6 + int64(ref.Nanosecond()/1000)
			if want != micros {
				t.Fatalf("%q: %d, want %d", s, micros, want)
			}
		}
		strict := len(s) > 19 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && !strings.ContainsAny(s, "z,") && (s[19] != '.' || fracDigits(s[20:]) <= 9)
		if err == nil && !ok && strict {
			t.Fatalf("%q: time.Parse reads it, parseTimestamp does not", s)
		}
		if d, ok := parseDate([]byte(s)); ok {
			ref, err := time.Parse(time.DateOnly, s)
			if err != nil || ref.Unix()/86400 != d {
				t.Fatalf("%q: date %d, time.Parse %v %v", s, d, ref, err)
			}
		}
	})
}

func fracDigits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
