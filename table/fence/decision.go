package fence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/lakestream/lakestream/internal/objstore"
)

// The decisions.
const (
	DecisionCommit   = "commit"
	DecisionRollback = "rollback"
)

// A Decision is the single object that settles the fate of an instant:
// the writer completing it and anyone rolling it back both create it with
// put-if-absent (Decide), so exactly one of them wins. A commit decision
// carries the format's whole commit metadata M, so that a crash between the
// decision and the completed commit is finished forward by the next
// recovery.
//
// The metadata is written last, streamed if *M is an io.WriterTo (a
// commit of 100,000 files is about 100 MB of JSON, never held in memory
// whole, only as the M struct).
type Decision[M any] struct {
	Decision string `json:"decision"` // DecisionCommit or DecisionRollback
	Instant  string `json:"instant"`
	Action   string `json:"action"`
	By       string `json:"by"`
	Metadata *M     `json:"metadata,omitempty"`
}

// writeTo writes the decision as JSON: the small fields, then the metadata
// streamed.
func (d *Decision[M]) writeTo(w io.Writer) error {
	head := *d
	head.Metadata = nil
	b, err := json.Marshal(&head)
	if err != nil {
		return err
	}
	if d.Metadata == nil {
		_, err = w.Write(b)
		return err
	}
	// b is {...}: reopen it for the metadata.
	b = append(b[:len(b)-1], `,"metadata":`...)
	if _, err := w.Write(b); err != nil {
		return err
	}
	if wt, ok := any(d.Metadata).(io.WriterTo); ok {
		if _, err := wt.WriteTo(w); err != nil {
			return err
		}
	} else {
		m, err := json.Marshal(d.Metadata)
		if err != nil {
			return err
		}
		if _, err := w.Write(m); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "}")
	return err
}

// Decide records d at key unless a decision exists there; it returns the
// decision in force (d, or the one that was there).
func Decide[M any](ctx context.Context, b objstore.Store, key string, d Decision[M]) (Decision[M], error) {
	err := PutStreamed(ctx, b.PutIfAbsent, key, d.writeTo)
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, objstore.ErrExists) {
		return Decision[M]{}, fmt.Errorf("record decision for %s: %w", d.Instant, err)
	}
	cur, found, err := ReadDecision[M](ctx, b, key)
	if err != nil {
		return Decision[M]{}, err
	}
	if !found {
		return Decision[M]{}, fmt.Errorf("record decision for %s: exists but vanished", d.Instant)
	}
	return cur, nil
}

// ReadDecision reads the decision at key; found is false if there is none.
// A decision that cannot be read is a *FileError.
func ReadDecision[M any](ctx context.Context, b objstore.Store, key string) (Decision[M], bool, error) {
	rc, err := b.Get(ctx, key)
	if errors.Is(err, objstore.ErrNotExist) {
		return Decision[M]{}, false, nil
	}
	if err != nil {
		return Decision[M]{}, false, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	var d Decision[M]
	dec := json.NewDecoder(rc)
	if err := dec.Decode(&d); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return Decision[M]{}, false, &FileError{Path: key, Problem: "corrupt decision", Err: err}
		}
		return Decision[M]{}, false, fmt.Errorf("read %s: %w", key, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Decision[M]{}, false, &FileError{Path: key, Problem: "corrupt decision: trailing data"}
	}
	if d.Decision != DecisionCommit && d.Decision != DecisionRollback {
		return Decision[M]{}, false, &FileError{Path: key, Problem: fmt.Sprintf("unknown decision %q", d.Decision)}
	}
	return d, true, nil
}

// PutStreamed writes the object at key with put (Bucket.Put or
// PutIfAbsent), its body written by write as the store reads it: nothing
// is buffered whole. A failure of write fails the put, which publishes
// nothing. write runs on a goroutine of its own, ended before PutStreamed
// returns.
func PutStreamed(ctx context.Context, put func(context.Context, string, io.Reader) error, key string, write func(io.Writer) error) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(write(pw))
	}()
	err := put(ctx, key, pr)
	// A put that returned before reading everything unblocks the writer.
	pr.CloseWithError(errPutEnded)
	<-done
	return err
}

var errPutEnded = errors.New("put ended before the body was read")
