package parquetfile

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestDecimalBounds compares decimalBounds with the smallest and largest
// decimal strings of the numbers, found one by one.
func TestDecimalBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(a, b int64) {
		t.Helper()
		lo, hi := strconv.FormatInt(a, 10), strconv.FormatInt(a, 10)
		for n := a; ; n++ {
			s := strconv.FormatInt(n, 10)
			lo, hi = min(lo, s), max(hi, s)
			if n == b { // not n <= b: b may be the largest int64
				break
			}
		}
		gotLo, gotHi := decimalBounds([]byte("x"), nil, a, b)
		gotLo = gotLo[1:]
		if string(gotLo) != lo || string(gotHi) != hi {
			t.Fatalf("decimalBounds(%d, %d) = %s, %s; want %s, %s", a, b, gotLo, gotHi, lo, hi)
		}
	}
	for _, c := range [][2]int64{{0, 0}, {0, 9}, {0, 10}, {8, 12}, {9, 10}, {99, 101}, {0, 1000}, {95, 1005}, {1, 1}, {123, 123}} {
		check(c[0], c[1])
	}
	for range 3000 {
		a := r.Int64N([]int64{10, 1000, 100000, 1e12}[r.IntN(4)])
		check(a, a+r.Int64N(3000))
	}
	// Across 10^18, where 10^19 is past int64, and up to the largest int64.
	check(1e18-1000, 1e18+1000)
	check(math.MaxInt64-3000, math.MaxInt64)
	for _, c := range []struct {
		a, b   int64
		lo, hi string
	}{
		{5e17, 1e18 + 5, "1000000000000000000", "999999999999999999"},
		{0, math.MaxInt64, "0", "999999999999999999"},
		{2e18, math.MaxInt64, "2000000000000000000", strconv.FormatInt(math.MaxInt64, 10)},
	} {
		lo, hi := decimalBounds(nil, nil, c.a, c.b)
		if string(lo) != c.lo || string(hi) != c.hi {
			t.Fatalf("decimalBounds(%d, %d) = %s, %s; want %s, %s", c.a, c.b, lo, hi, c.lo, c.hi)
		}
	}
}

// TestIncrementDecimal counts through carries.
func TestIncrementDecimal(t *testing.T) {
	d := []byte("0")
	for n := 1; n <= 100500; n++ {
		d = incrementDecimal(d)
		if string(d) != strconv.Itoa(n) {
			t.Fatalf("after %d increments: %s", n, d)
		}
	}
}
