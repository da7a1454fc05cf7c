package schemas

import "math"

// Reading the Avro binary encoding: varints, lengths, and skipping data of
// writer types the table has no column for.

// varint reads a zigzag-encoded long: at most 10 bytes, the tenth holding
// only the 64th bit (anything more does not fit a long, and is refused
// rather than cut).
func (d *avroDecoder) varint() (int64, bool) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.pos >= len(d.data) {
			return 0, false
		}
		c := d.data[d.pos]
		d.pos++
		if shift == 63 && c > 1 {
			return 0, false
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), true
		}
	}
	return 0, false
}

// int reads a zigzag-encoded int.
func (d *avroDecoder) int() (int32, bool) {
	v, ok := d.varint()
	if !ok || v < math.MinInt32 || v > math.MaxInt32 {
		return 0, false
	}
	return int32(v), true
}

// take returns the next n bytes of the input.
func (d *avroDecoder) take(n int64) ([]byte, bool) {
	if n < 0 || n > int64(len(d.data)-d.pos) {
		return nil, false
	}
	b := d.data[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return b, true
}

// lenBytes reads a length-prefixed byte string.
func (d *avroDecoder) lenBytes() ([]byte, bool) {
	n, ok := d.varint()
	if !ok {
		return nil, false
	}
	return d.take(n)
}

// skip consumes writer data the table has no column for.
func (d *avroDecoder) skip(op *avroOp, depth int) *DecodeError {
	if depth > maxAvroDecodeDepth {
		return d.invalid(nil, "nesting too deep")
	}
	ok := true
	switch op.code {
	case opSkipNull:
	case opSkipBool:
		_, ok = d.take(1)
	case opSkipVarint:
		_, ok = d.varint()
	case opSkipFloat:
		_, ok = d.take(4)
	case opSkipDouble:
		_, ok = d.take(8)
	case opSkipBytes:
		_, ok = d.lenBytes()
	case opSkipFixed:
		_, ok = d.take(int64(op.size))
	case opSkipRecord:
		for _, f := range op.fields {
			if err := d.skip(f, depth+1); err != nil {
				return err
			}
		}
	case opSkipArray, opSkipMap:
		for {
			count, cok := d.blockCount()
			if !cok {
				return d.invalid(nil, "invalid block count")
			}
			if count == 0 {
				break
			}
			for range count {
				if op.code == opSkipMap {
					if _, ok := d.lenBytes(); !ok {
						return d.invalid(nil, "invalid map key")
					}
				}
				if err := d.skip(op.items, depth+1); err != nil {
					return err
				}
			}
		}
	case opSkipUnion:
		i, vok := d.varint()
		if !vok || i < 0 || i >= int64(len(op.branches)) {
			return d.invalid(nil, "invalid union branch")
		}
		return d.skip(op.branches[i], depth+1)
	}
	if !ok {
		return d.invalid(nil, "truncated value")
	}
	return nil
}
