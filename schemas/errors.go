package schemas

import (
	"errors"
	"fmt"
)

// Reasons of a DecodeError: stable short codes used as dead-letter headers
// and metric labels.
const (
	ReasonInvalidJSON         = "invalid-json"         // not well-formed JSON, or not an object
	ReasonInvalidAvro         = "invalid-avro"         // Avro bytes that do not follow the writer schema
	ReasonSchemaMismatch      = "schema-mismatch"      // a value of the wrong type or out of range for its column
	ReasonMissingField        = "missing-field"        // a required field absent or null
	ReasonBadTimestamp        = "bad-timestamp"        // the event-time field is unparsable or out of range
	ReasonUnknownSchemaID     = "unknown-schema-id"    // the registry does not know the writer schema ID
	ReasonBadMagic            = "bad-magic"            // not the Confluent wire format
	ReasonRegistryUnavailable = "registry-unavailable" // the registry could not be asked: retry, never dead-letter
)

// DecodeError reports a record value that could not be decoded. Reason is
// one of the Reason* codes; Field is the dotted path of the field at fault
// ("" when the whole value is at fault).
type DecodeError struct {
	Reason string
	Field  string
	Err    error
}

func (e *DecodeError) Error() string {
	msg := "decode: " + e.Reason
	if e.Field != "" {
		msg += fmt.Sprintf(": field %q", e.Field)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *DecodeError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth retrying later with the same
// record: the schema registry was unreachable or failing. Such records must
// not be dead-lettered.
func IsRetryable(err error) bool {
	var de *DecodeError
	if errors.As(err, &de) && de.Reason == ReasonRegistryUnavailable {
		return true
	}
	var re *RegistryError
	return errors.As(err, &re) && re.Retryable()
}

// decodeErr builds a DecodeError; the message is formatted only here, on the
// error path.
func decodeErr(reason, field, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: reason, Field: field, Err: fmt.Errorf(format, args...)}
}
