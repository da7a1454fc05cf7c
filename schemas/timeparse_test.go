package schemas

import (
	"fmt"
	"testing"
)

// The date and timestamp parsers as they were before their fast rewrite:
// the reference the fast ones must match exactly, accepted or not.

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func refDaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func refIsLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func refDaysIn(y, m int64) int64 {
	switch m {
	case 2:
		if refIsLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// digits parses exactly len(b) decimal digits.
func refDigits(b []byte) (int64, bool) {
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// parseDate parses YYYY-MM-DD into days since the epoch.
func refParseDate(b []byte) (int64, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y, ok1 := refDigits(b[0:4])
	m, ok2 := refDigits(b[5:7])
	d, ok3 := refDigits(b[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > refDaysIn(y, m) {
		return 0, false
	}
	return refDaysFromCivil(y, m, d), true
}

// parseTimestamp parses an RFC 3339 timestamp
// (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); 't' or ' ' may stand for
// 'T' and 'z' for 'Z') into microseconds since the epoch, UTC. Fraction
// digits past microseconds are truncated.
func refParseTimestamp(b []byte) (int64, bool) {
	if len(b) < 20 {
		return 0, false
	}
	days, ok := refParseDate(b[:10])
	if !ok {
		return 0, false
	}
	if c := b[10]; c != 'T' && c != 't' && c != ' ' {
		return 0, false
	}
	if b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	hh, ok1 := refDigits(b[11:13])
	mm, ok2 := refDigits(b[14:16])
	ss, ok3 := refDigits(b[17:19])
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 59 {
		return 0, false
	}
	i := 19
	var frac int64
	if b[i] == '.' {
		i++
		start := i
		scale := int64(microsPerSecond)
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if scale > 1 {
				scale /= 10
				frac += int64(b[i]-'0') * scale
			}
			i++
		}
		if i == start || i-start > 9 {
			return 0, false
		}
	}
	if i >= len(b) {
		return 0, false
	}
	var offset int64
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return 0, false
		}
		oh, ok1 := refDigits(b[i+1 : i+3])
		om, ok2 := refDigits(b[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = (oh*60 + om) * 60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(b) {
		return 0, false
	}
	secs := days*86400 + hh*3600 + mm*60 + ss - offset
	return secs*microsPerSecond + frac, true
}

func checkTimeParsersMatchReference(t *testing.T, s string) {
	t.Helper()
	got, ok := parseTimestamp([]byte(s))
	want, wantOK := refParseTimestamp([]byte(s))
	if got != want || ok != wantOK {
		t.Fatalf("parseTimestamp(%q) = %d, %v; reference %d, %v", s, got, ok, want, wantOK)
	}
	gotD, ok := parseDate([]byte(s))
	wantD, wantOK := refParseDate([]byte(s))
	if gotD != wantD || ok != wantOK {
		t.Fatalf("parseDate(%q) = %d, %v; reference %d, %v", s, gotD, ok, wantD, wantOK)
	}
}

func TestTimeParsersMatchReference(t *testing.T) {
	for _, s := range []string{
		"2026-11-21T07:15:42.123Z", "2026-11-21T07:15:42Z", "2026-11-21t07:15:42z", "2026-11-21 07:15:42+01:00",
		"0000-01-01T00:00:00Z", "0000-02-29T00:00:00Z", "0000-03-01T00:00:00-23:59", "9999-12-31T23:59:59.999999999+23:59",
		"1969-12-31T23:59:59.9Z", "1970-01-01T00:00:00.000001Z", "1970-01-01T00:00:00.1234567891Z", "1970-01-01T00:00:00.Z",
		"2024-02-29", "2023-02-29", "2100-02-29", "2000-02-29", "1900-02-28", "2024-13-01", "2024-00-10", "2024-01-00",
		"2024-01-32", "2024-04-31", "20a4-01-01", "2024-1-01", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z",
		"2024-01-01T23:59:60Z", "2024-01-01T23:59:59+24:00", "2024-01-01T23:59:59+00:60", "2024-01-01T23:59:59+0000",
		"2024-01-01T23:59:59", "2024-01-01T23:59:59ZZ", "2024-01-01T2:59:59Z", "2024-01-01T23:59:5/Z", "2024-01-01T23:59:5:Z",
	} {
		checkTimeParsersMatchReference(t, s)
	}
	// Every year and month, and days around the month ends.
	for y := 0; y <= 9999; y++ {
		for m := 1; m <= 12; m++ {
			for _, d := range []int{1, 28, 29, 30, 31} {
				checkTimeParsersMatchReference(t, fmt.Sprintf("%04d-%02d-%02d", y, m, d))
			}
		}
	}
	// Every fraction length, with a byte that is not a digit but close to
	// one ('/' and ':') at each position.
	for n := 0; n <= 11; n++ {
		frac := "123456789012"[:n]
		checkTimeParsersMatchReference(t, "2026-11-21T07:15:42."+frac+"Z")
		for _, c := range []string{"/", ":"} {
			for k := 0; k < n; k++ {
				checkTimeParsersMatchReference(t, "2026-11-21T07:15:42."+frac[:k]+c+frac[k+1:]+"Z")
			}
		}
	}
}

func FuzzTimeParsersMatchReference(f *testing.F) {
	for _, s := range []string{"2026-11-21T07:15:42.123Z", "1969-12-31T23:59:59.999999999-23:59", "0000-01-01T00:00:00Z", "2024-02-29t00:00:00+01:00", "2023-02-29", "0000-02-29"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkTimeParsersMatchReference(t, s) })
}
