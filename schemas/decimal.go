package schemas

import (
	"encoding/binary"
	"math/bits"
)

// Exact decimal arithmetic on 128-bit magnitudes: precision 38 needs
// 127 bits. Nothing goes through floating point.

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) isZero() bool { return a.hi == 0 && a.lo == 0 }

// mulAdd returns a*m + c and whether it overflowed 128 bits.
func (a u128) mulAdd(m, c uint64) (u128, bool) {
	h1, l1 := bits.Mul64(a.lo, m)
	h2, l2 := bits.Mul64(a.hi, m)
	lo, carry := bits.Add64(l1, c, 0)
	hi, carry2 := bits.Add64(h1, l2, carry)
	return u128{hi, lo}, h2 != 0 || carry2 != 0
}

// divmod returns a/d and a%d.
func (a u128) divmod(d uint64) (u128, uint64) {
	qhi, r := a.hi/d, a.hi%d
	qlo, r := bits.Div64(r, a.lo, d)
	return u128{qhi, qlo}, r
}

// pow10u128 returns 10^n for n <= 38.
func pow10u128(n int) u128 {
	v := u128{lo: 1}
	for range n {
		v, _ = v.mulAdd(10, 0)
	}
	return v
}

// decimalError says why a value does not fit a decimal column.
type decimalError uint8

const (
	decimalOK decimalError = iota
	decimalSyntax
	decimalInexact  // more fraction digits than the scale (and not zeros)
	decimalOverflow // more integer digits than precision - scale
)

func (e decimalError) String() string {
	switch e {
	case decimalSyntax:
		return "not a decimal number"
	case decimalInexact:
		return "more fraction digits than the column's scale"
	case decimalOverflow:
		return "too many digits for the column's precision"
	}
	return "ok"
}

// maxDecimalExponent is where parseDecimal stops reading an exponent's
// digits: far beyond the length of any input (inputs are bytes in memory),
// so that digits and scale cannot bring a saturated exponent back into
// range.
const maxDecimalExponent = 1 << 50

// parseDecimal reads [+-]digits[.digits][(e|E)[+-]digits] as an unscaled
// value of the given scale, exactly: digits lost to the scale must be zeros,
// and the result must have at most limit's digits.
func parseDecimal(b []byte, scale int, limit u128) (mag u128, neg bool, e decimalError) {
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	intStart := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(b) && b[i] == '.' {
		i++
		fracStart = i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	if intEnd == intStart && fracEnd == fracStart {
		return u128{}, false, decimalSyntax
	}
	exp := int64(0)
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			eneg = b[i] == '-'
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			// Saturates past any input's length: an exponent that large
			// decides the outcome (overflow or inexact) whatever the
			// digits, so its exact value does not matter.
			if exp < maxDecimalExponent {
				exp = exp*10 + int64(b[i]-'0')
			}
			i++
		}
		if i == start {
			return u128{}, false, decimalSyntax
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) {
		return u128{}, false, decimalSyntax
	}
	// The digits int+frac, as one sequence, times 10^shift.
	shift := exp - int64(fracEnd-fracStart) + int64(scale)
	digitAt := func(k int) byte { // k indexes the int+frac sequence
		if k < intEnd-intStart {
			return b[intStart+k]
		}
		return b[fracStart+k-(intEnd-intStart)]
	}
	n := (intEnd - intStart) + (fracEnd - fracStart)
	first := 0
	for first < n && digitAt(first) == '0' {
		first++
	}
	last := n
	for last > first && digitAt(last-1) == '0' {
		last--
		shift++
	}
	if first == last {
		return u128{}, false, decimalOK // zero
	}
	if shift < 0 {
		return u128{}, false, decimalInexact
	}
	if int64(last-first)+shift > 38 {
		return u128{}, false, decimalOverflow
	}
	for k := first; k < last; k++ {
		mag, _ = mag.mulAdd(10, uint64(digitAt(k)-'0'))
	}
	for range shift {
		mag, _ = mag.mulAdd(10, 0)
	}
	if !mag.less(limit) {
		return u128{}, false, decimalOverflow
	}
	return mag, neg, decimalOK
}

// twosComplement returns the 128-bit two's complement of a signed magnitude.
func twosComplement(mag u128, neg bool) u128 {
	if !neg {
		return mag
	}
	lo, borrow := bits.Sub64(0, mag.lo, 0)
	hi, _ := bits.Sub64(0, mag.hi, borrow)
	return u128{hi, lo}
}

// decimalFromTwos reads a big-endian two's complement integer (Avro's
// decimal bytes) as a signed magnitude.
func decimalFromTwos(b []byte) (mag u128, neg bool, ok bool) {
	if len(b) == 0 {
		return u128{}, false, true
	}
	neg = b[0]&0x80 != 0
	ext := byte(0)
	if neg {
		ext = 0xff
	}
	if len(b) > 16 {
		// Leading bytes past 16 must be sign extension, and the sign bit of
		// the 16 that remain the same sign: FF 00..00 (17 bytes) is -2^128.
		for len(b) > 16 {
			if b[0] != ext {
				return u128{}, false, false
			}
			b = b[1:]
		}
		if (b[0]&0x80 != 0) != neg {
			return u128{}, false, false
		}
	}
	var buf [16]byte
	for i := range 16 - len(b) {
		buf[i] = ext
	}
	copy(buf[16-len(b):], b)
	v := u128{binary.BigEndian.Uint64(buf[:8]), binary.BigEndian.Uint64(buf[8:])}
	if neg {
		if v.hi == 1<<63 && v.lo == 0 {
			return u128{}, false, false // -2^127 has no magnitude in 127 bits
		}
		v = twosComplement(v, true)
	}
	return v, neg, true
}

// rescale changes the scale of a magnitude from `from` to `to`, exactly.
func rescale(mag u128, from, to int, limit u128) (u128, decimalError) {
	for ; from < to; from++ {
		var over bool
		if mag, over = mag.mulAdd(10, 0); over {
			return u128{}, decimalOverflow
		}
	}
	for ; from > to; from-- {
		q, r := mag.divmod(10)
		if r != 0 {
			return u128{}, decimalInexact
		}
		mag = q
	}
	if !mag.less(limit) {
		return u128{}, decimalOverflow
	}
	return mag, decimalOK
}

// decimal writes a signed magnitude (already within the node's precision)
// as the node's Parquet value; fixed-width values take their bytes from
// alloc.
func (b *rowBuilder) decimal(n *node, mag u128, neg bool, rep uint8) {
	v := twosComplement(mag, neg)
	switch n.decimal.phys {
	case decimalInt32:
		b.int32(n, int32(v.lo), rep)
		return
	case decimalInt64:
		b.int64(n, int64(v.lo), rep)
		return
	}
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], v.hi)
	binary.BigEndian.PutUint64(buf[8:], v.lo)
	out := b.alloc(n.decimal.size)
	copy(out, buf[16-n.decimal.size:])
	b.bytes(n, out, rep)
}
