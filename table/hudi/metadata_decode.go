package hudi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeMetadata decodes commit metadata from dec token by token: a write
// stat at a time, never the whole document (json.Decoder.Decode would
// buffer the whole value, about 100 MB for a commit of 100,000 files).
// With skipStats the write stats are read and dropped: callers that need
// only extraMetadata or partitionToReplaceFileIds (checkpoints, the
// archive) then hold nothing per file. Keys match exactly (Hudi writes
// them so); an unknown key's value is skipped.
//
// check, if not nil, is called for every write stat, kept or dropped.
func decodeMetadata(dec *json.Decoder, skipStats bool, check func(part string, i int, ws *WriteStat) error) (*CommitMetadata, error) {
	m := &CommitMetadata{}
	switch tok, err := dec.Token(); {
	case err == io.EOF:
		return nil, errEmpty
	case err != nil:
		return nil, err
	case tok != json.Delim('{'):
		return nil, fmt.Errorf("want an object, found %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		switch key {
		case "partitionToWriteStats":
			if m.PartitionToWriteStats, err = decodeWriteStats(dec, skipStats, check); err != nil {
				return nil, fmt.Errorf("partitionToWriteStats: %w", err)
			}
		case "compacted":
			err = dec.Decode(&m.Compacted)
		case "extraMetadata":
			err = dec.Decode(&m.ExtraMetadata)
		case "operationType":
			err = dec.Decode(&m.OperationType)
		case "partitionToReplaceFileIds":
			err = dec.Decode(&m.PartitionToReplaceFileIDs)
		default:
			err = skipValue(dec)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeWriteStats decodes {"<partition>": [WriteStat, ...], ...} or null.
func decodeWriteStats(dec *json.Decoder, skip bool, check func(part string, i int, ws *WriteStat) error) (map[string][]WriteStat, error) {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want an object, found %v", tok)
	}
	stats := map[string][]WriteStat{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		part, _ := tok.(string)
		if tok, err = dec.Token(); err != nil {
			return nil, err
		}
		if tok == nil {
			stats[part] = nil
			continue
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return nil, fmt.Errorf("partition %q: want an array, found %v", part, tok)
		}
		list := []WriteStat{} // a repeated partition: the last one counts, as with json.Unmarshal
		for i := 0; dec.More(); i++ {
			if skip && check == nil {
				if err := skipValue(dec); err != nil {
					return nil, err
				}
				continue
			}
			var ws WriteStat
			if err := dec.Decode(&ws); err != nil {
				return nil, fmt.Errorf("partition %q: %w", part, err)
			}
			if check != nil {
				if err := check(part, i, &ws); err != nil {
					return nil, errChecked{err}
				}
			}
			if !skip {
				list = append(list, ws)
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, err
		}
		if !skip {
			stats[part] = list
		}
	}
	return stats, expectDelim(dec, '}')
}

// expectDelim reads the next token, which must be want.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, found %v", want, tok)
	}
	return nil
}

// skipValue reads and drops the next value, token by token (Decode into a
// json.RawMessage would buffer it whole).
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// errChecked carries the error of a check function through the decoder's
// wrapping.
type errChecked struct{ err error }

func (e errChecked) Error() string { return e.err.Error() }
func (e errChecked) Unwrap() error { return e.err }

// errEmpty: the document has no value at all.
var errEmpty = errors.New("no JSON value")

// endOfDocument checks that nothing but white space follows.
func endOfDocument(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("trailing data")
		}
		return err
	}
	return nil
}
