package schemas

// Hand-written parsers for RFC 3339 timestamps and ISO dates: time.Parse
// needs a string and does more than a row needs.

const microsPerSecond = 1_000_000

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm) for a year of 0 to 9999, as parseDate
// reads. Shifting the year by one 400-year cycle (146097 days) keeps every
// quantity non-negative, so the divisions by constants are plain unsigned
// multiply-shifts.
func daysFromCivil(y, m, d int64) int64 {
	yy := uint64(y + 400)
	if m <= 2 {
		yy--
	}
	era := yy / 400
	yoe := yy - era*400
	mp := uint64(m + 9)
	if m > 2 {
		mp = uint64(m - 3)
	}
	doy := (153*mp+2)/5 + uint64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468 - 146097
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// twoDigits parses the decimal digits b[i] and b[i+1].
func twoDigits(b []byte, i int) (int64, bool) {
	hi, lo := b[i]-'0', b[i+1]-'0'
	return int64(hi)*10 + int64(lo), hi <= 9 && lo <= 9
}

// parseDate parses YYYY-MM-DD into days since the epoch.
func parseDate(b []byte) (int64, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y1, ok1 := twoDigits(b, 0)
	y2, ok2 := twoDigits(b, 2)
	m, ok3 := twoDigits(b, 5)
	d, ok4 := twoDigits(b, 8)
	y := y1*100 + y2
	if !(ok1 && ok2 && ok3 && ok4) || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// parseTimestamp parses an RFC 3339 timestamp
// (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); 't' or ' ' may stand for
// 'T' and 'z' for 'Z') into microseconds since the epoch, UTC. Fraction
// digits past microseconds are truncated.
func parseTimestamp(b []byte) (int64, bool) {
	if len(b) < 20 {
		return 0, false
	}
	days, ok := parseDate(b[:10])
	if !ok {
		return 0, false
	}
	if c := b[10]; c != 'T' && c != 't' && c != ' ' {
		return 0, false
	}
	if b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	hh, ok1 := twoDigits(b, 11)
	mm, ok2 := twoDigits(b, 14)
	ss, ok3 := twoDigits(b, 17)
	if !(ok1 && ok2 && ok3) || hh > 23 || mm > 59 || ss > 59 {
		return 0, false
	}
	i := 19
	var frac int64
	if b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i]-'0' <= 9 {
			if i-start < 6 { // digits past microseconds are truncated
				frac = frac*10 + int64(b[i]-'0')
			}
			i++
		}
		n := i - start
		if n == 0 || n > 9 {
			return 0, false
		}
		for ; n < 6; n++ {
			frac *= 10
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
		oh, ok1 := twoDigits(b, i+1)
		om, ok2 := twoDigits(b, i+4)
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
