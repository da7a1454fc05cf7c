package schemas

import "math"

// decimalPhys is the Parquet physical type of a decimal column, as Spark
// writes it: INT32 up to precision 9, INT64 up to 18, FIXED_LEN_BYTE_ARRAY
// above.
type decimalPhys uint8

const (
	decimalInt32 decimalPhys = iota
	decimalInt64
	decimalFixed
)

type decimalLayout struct {
	phys  decimalPhys
	size  int  // bytes of the Avro fixed (and of the Parquet FLBA): Spark's minBytesForPrecision
	limit u128 // 10^precision: magnitudes must be below it
}

func layoutFor(precision int) decimalLayout {
	l := decimalLayout{size: minBytesForPrecision(precision), limit: pow10u128(precision)}
	switch {
	case precision <= 9:
		l.phys = decimalInt32
	case precision <= 18:
		l.phys = decimalInt64
	default:
		l.phys = decimalFixed
	}
	return l
}

// minBytesForPrecision is the smallest two's complement width holding every
// unscaled value of the precision (Spark's Decimal.minBytesForPrecision).
func minBytesForPrecision(precision int) int {
	n := 1
	for math.Pow(2, float64(8*n-1)) < math.Pow(10, float64(precision)) {
		n++
	}
	return n
}
