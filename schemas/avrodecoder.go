package schemas

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"unicode/utf8"
)

// NewAvroDecoder returns a Decoder for Avro values in the Confluent wire
// format: a zero magic byte, the 4-byte big-endian writer schema ID, then
// the Avro binary encoding. Writer schemas come from reg (cached) and are
// resolved against the table by field name, as Avro schema resolution
// does; each writer schema is compiled once into a decoding plan. The
// writer types each column accepts are listed in docs/format/types.md.
func NewAvroDecoder(ts *TableSchema, reg *Registry, opts ...DecoderOption) Decoder {
	o := defaultDecoderOptions()
	for _, opt := range opts {
		opt(&o)
	}
	d := &avroDecoder{ts: ts, reg: reg, opts: o, plans: map[uint32]*avroPlan{}}
	d.b.init(ts)
	return d
}

type avroDecoder struct {
	ts       *TableSchema
	reg      *Registry
	opts     decoderOptions
	plans    map[uint32]*avroPlan
	lastID   uint32
	lastPlan *avroPlan
	b        rowBuilder
	rec      *Record
	data     []byte
	pos      int
	budget   int // array and map entries left for this record
}

// maxAvroDecodeDepth bounds nesting while decoding (recursive writer
// types can nest as deep as the data says).
const maxAvroDecodeDepth = 256

// badMagic explains a value that is not in the Confluent wire format,
// naming what it looks like when that is plain (JSON text, empty).
func badMagic(value []byte) *DecodeError {
	const want = "not the Confluent wire format (magic byte 0 and a 4-byte schema id)"
	switch {
	case len(value) == 0:
		return decodeErr(ReasonBadMagic, "", "empty value: %s", want)
	case value[0] == 0:
		return decodeErr(ReasonBadMagic, "", "%d bytes, too short for a schema id: %s", len(value), want)
	case value[0] == '{' || value[0] == '[':
		return decodeErr(ReasonBadMagic, "", "first byte %q: this looks like JSON text, %s; is the topic's format json?", value[0], want)
	default:
		return decodeErr(ReasonBadMagic, "", "first byte 0x%02x: %s", value[0], want)
	}
}

// Decode implements Decoder. Enum symbols in rec.Row point into the
// decoder's plans, which are never modified.
func (d *avroDecoder) Decode(value []byte, rec *Record) error {
	rec.EventTime, rec.HasEventTime = 0, false
	if len(value) < 5 || value[0] != 0 {
		rec.Row = rec.Row[:0]
		return badMagic(value)
	}
	id := binary.BigEndian.Uint32(value[1:5])
	plan, err := d.plan(id)
	if err != nil {
		rec.Row = rec.Row[:0]
		return err
	}
	if plan.err != nil {
		rec.Row = rec.Row[:0]
		return plan.err
	}
	d.data, d.pos, d.rec = value, 5, rec
	d.budget = 4*len(value) + 1024
	d.b.begin(rec.Row)
	derr := d.exec(plan.root, 0, 0)
	if derr == nil && d.pos != len(d.data) {
		derr = d.invalid(nil, "bytes left after the record")
	}
	d.data = nil
	if derr != nil {
		rec.Row = d.b.abort()
		rec.EventTime, rec.HasEventTime = 0, false
		return derr
	}
	rec.Row = d.b.finish()
	return nil
}

// plan returns the cached plan for a writer schema ID, fetching and
// compiling it on first use.
func (d *avroDecoder) plan(id uint32) (*avroPlan, error) {
	if d.lastPlan != nil && d.lastID == id {
		return d.lastPlan, nil
	}
	p, ok := d.plans[id]
	if !ok {
		ctx := context.Background()
		if d.opts.registryTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d.opts.registryTimeout)
			defer cancel()
		}
		s, err := d.reg.Schema(ctx, id)
		if err != nil {
			reason := ReasonRegistryUnavailable
			var re *RegistryError
			if errors.As(err, &re) {
				switch {
				case re.NotFound:
					reason = ReasonUnknownSchemaID
				case re.Invalid:
					reason = ReasonInvalidAvro
				}
			}
			return nil, &DecodeError{Reason: reason, Err: err}
		}
		p = compilePlan(s, d.ts)
		d.plans[id] = p
	}
	d.lastID, d.lastPlan = id, p
	return p, nil
}

func (d *avroDecoder) invalid(n *node, msg string) *DecodeError {
	return decodeErr(ReasonInvalidAvro, pathOf(n), "at offset %d: %s", d.pos, msg)
}

// exec runs op at the input position. rep is the repetition level of the
// values it writes.
func (d *avroDecoder) exec(op *avroOp, rep uint8, depth int) *DecodeError {
	if depth > maxAvroDecodeDepth {
		return d.invalid(op.target, "nesting too deep")
	}
	n := op.target
	switch op.code {
	case opNull:
		d.b.nulls(n, rep, n.nullDef())
	case opNullRequired:
		return decodeErr(ReasonMissingField, n.path, "required field is null")
	case opMismatch:
		return d.mismatchErr(n, op.msg)
	case opBool:
		b, ok := d.take(1)
		if !ok || b[0] > 1 {
			return d.invalid(n, "invalid boolean")
		}
		d.b.bool(n, b[0] == 1, rep)
	case opIntToInt32:
		v, ok := d.int()
		if !ok {
			return d.invalid(n, "invalid int")
		}
		d.b.int32(n, v, rep)
	case opIntToInt64, opLongToInt64:
		v, ok := d.varint()
		if ok && op.code == opIntToInt64 && (v < math.MinInt32 || v > math.MaxInt32) {
			ok = false
		}
		if !ok {
			return d.invalid(n, "invalid long")
		}
		if n.eventTime {
			if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
				return decodeErr(ReasonBadTimestamp, n.path, "epoch milliseconds %d out of range", v)
			}
			d.rec.EventTime, d.rec.HasEventTime = v*1000, true
		}
		d.b.int64(n, v, rep)
	case opIntToFloat32, opLongToFloat32, opIntToFloat64, opLongToFloat64:
		v, ok := d.varint()
		if !ok {
			return d.invalid(n, "invalid long")
		}
		if op.code == opIntToFloat32 || op.code == opLongToFloat32 {
			d.b.float32(n, float32(v), rep)
		} else {
			d.b.float64(n, float64(v), rep)
		}
	case opFloatToFloat32, opFloatToFloat64:
		b, ok := d.take(4)
		if !ok {
			return d.invalid(n, "truncated float")
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(b))
		if op.code == opFloatToFloat32 {
			d.b.float32(n, f, rep)
		} else {
			d.b.float64(n, float64(f), rep)
		}
	case opDoubleToFloat64:
		b, ok := d.take(8)
		if !ok {
			return d.invalid(n, "truncated double")
		}
		d.b.float64(n, math.Float64frombits(binary.LittleEndian.Uint64(b)), rep)
	case opString:
		b, ok := d.lenBytes()
		if !ok {
			return d.invalid(n, "invalid string length")
		}
		if !utf8.Valid(b) {
			return d.invalid(n, "invalid UTF-8 in string")
		}
		d.b.bytes(n, b, rep)
	case opBytes:
		b, ok := d.lenBytes()
		if !ok {
			return d.invalid(n, "invalid bytes length")
		}
		d.b.bytes(n, b, rep)
	case opEnumString:
		i, ok := d.int()
		if !ok || i < 0 || int(i) >= len(op.symbols) {
			return d.invalid(n, "invalid enum index")
		}
		d.b.bytes(n, op.symbols[i], rep)
	case opFixedBytes:
		b, ok := d.take(int64(op.size))
		if !ok {
			return d.invalid(n, "truncated fixed")
		}
		d.b.bytes(n, b, rep)
	case opTimeMillis, opTimeMicros:
		v, ok := d.varint()
		if !ok {
			return d.invalid(n, "invalid long")
		}
		if op.code == opTimeMillis {
			if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
				return d.mismatchErr(n, "timestamp-millis out of range")
			}
			v *= 1000
		}
		if n.eventTime {
			d.rec.EventTime, d.rec.HasEventTime = v, true
		}
		d.b.int64(n, v, rep)
	case opDate:
		v, ok := d.int()
		if !ok {
			return d.invalid(n, "invalid int")
		}
		d.b.int32(n, v, rep)
	case opDecimalBytes, opDecimalFixed:
		var b []byte
		var ok bool
		if op.code == opDecimalFixed {
			b, ok = d.take(int64(op.size))
		} else {
			b, ok = d.lenBytes()
		}
		if !ok {
			return d.invalid(n, "truncated decimal")
		}
		mag, neg, ok := decimalFromTwos(b)
		if !ok {
			return d.mismatchErr(n, "decimal wider than 38 digits")
		}
		mag, e := rescale(mag, op.scale, n.scale, n.decimal.limit)
		if e != decimalOK {
			return d.mismatchErr(n, e.String())
		}
		d.b.decimal(n, mag, neg, rep)
	case opRecord:
		for _, f := range op.fields {
			if err := d.exec(f, rep, depth+1); err != nil {
				return err
			}
		}
		for _, f := range op.missing {
			d.b.nulls(f, rep, f.nullDef())
		}
	case opArray, opMap:
		return d.entries(op, rep, depth)
	case opUnion:
		i, ok := d.varint()
		if !ok || i < 0 || i >= int64(len(op.branches)) {
			return d.invalid(n, "invalid union branch")
		}
		return d.exec(op.branches[i], rep, depth+1)
	default:
		return d.skip(op, depth)
	}
	return nil
}

func (d *avroDecoder) mismatchErr(n *node, msg string) *DecodeError {
	if n != nil && n.eventTime {
		return decodeErr(ReasonBadTimestamp, n.path, "%s", msg)
	}
	return decodeErr(ReasonSchemaMismatch, pathOf(n), "%s", msg)
}

// blockCount reads the item count of an array or map block.
func (d *avroDecoder) blockCount() (int64, bool) {
	count, ok := d.varint()
	if !ok {
		return 0, false
	}
	if count < 0 {
		if count == math.MinInt64 {
			return 0, false
		}
		count = -count
		if _, ok := d.varint(); !ok { // block size in bytes
			return 0, false
		}
	}
	if count > int64(d.budget) {
		return 0, false
	}
	d.budget -= int(count)
	return count, true
}

// entries decodes an array into a list or a map into a map.
func (d *avroDecoder) entries(op *avroOp, rep uint8, depth int) *DecodeError {
	n := op.target
	erep, total := rep, 0
	for {
		count, ok := d.blockCount()
		if !ok {
			return d.invalid(n, "invalid block count")
		}
		if count == 0 {
			break
		}
		for range count {
			if op.code == opMap {
				key, ok := d.lenBytes()
				if !ok || !utf8.Valid(key) {
					return d.invalid(n, "invalid map key")
				}
				d.b.bytes(n.key, key, erep)
			}
			if err := d.exec(op.items, erep, depth+1); err != nil {
				return err
			}
			erep = n.elemRep
			total++
		}
	}
	if total == 0 {
		d.b.nulls(n, rep, n.def) // empty
	}
	return nil
}
