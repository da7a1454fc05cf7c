package hudi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/lakestream/lakestream/internal/objstore"
)

// A decision is the single object that settles the fate of an instant:
// the writer completing it and anyone rolling it back both create it with
// put-if-absent, so exactly one of them wins. A commit decision carries the
// whole commit metadata so that a crash between the decision and the
// completed timeline file is finished forward by the next recovery.
//
// The metadata is written last and streamed (CommitMetadata.WriteTo): a
// commit of 100,000 files is about 100 MB of JSON, which is never held in
// memory whole, only as the CommitMetadata struct.
type decision struct {
	Decision string          `json:"decision"` // decisionCommit or decisionRollback
	Instant  string          `json:"instant"`
	Action   string          `json:"action"`
	By       string          `json:"by"`
	Metadata *CommitMetadata `json:"metadata,omitempty"`
}

// writeTo writes the decision as JSON: the small fields, then the metadata
// streamed.
func (d *decision) writeTo(w io.Writer) error {
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
	if _, err := d.Metadata.WriteTo(w); err != nil {
		return err
	}
	_, err = io.WriteString(w, "}")
	return err
}

const (
	decisionCommit   = "commit"
	decisionRollback = "rollback"
)

func decisionKey(ts string) string { return DecisionDir + "/" + ts }

// decide records d unless a decision for the instant exists; it returns the
// decision in force (d, or the one that was there).
func (t *Table) decide(ctx context.Context, d decision) (decision, error) {
	key := decisionKey(d.Instant)
	err := putStreamed(ctx, t.bucket.PutIfAbsent, key, d.writeTo)
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, objstore.ErrExists) {
		return decision{}, fmt.Errorf("record decision for %s: %w", d.Instant, err)
	}
	cur, found, err := t.readDecision(ctx, d.Instant)
	if err != nil {
		return decision{}, err
	}
	if !found {
		return decision{}, fmt.Errorf("record decision for %s: exists but vanished", d.Instant)
	}
	return cur, nil
}

func (t *Table) readDecision(ctx context.Context, ts string) (decision, bool, error) {
	key := decisionKey(ts)
	rc, err := t.bucket.Get(ctx, key)
	if errors.Is(err, objstore.ErrNotExist) {
		return decision{}, false, nil
	}
	if err != nil {
		return decision{}, false, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	var d decision
	dec := json.NewDecoder(rc)
	if err := dec.Decode(&d); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return decision{}, false, &FileError{Path: key, Problem: "corrupt decision", Err: err}
		}
		return decision{}, false, fmt.Errorf("read %s: %w", key, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return decision{}, false, &FileError{Path: key, Problem: "corrupt decision: trailing data"}
	}
	if d.Decision != decisionCommit && d.Decision != decisionRollback {
		return decision{}, false, &FileError{Path: key, Problem: fmt.Sprintf("unknown decision %q", d.Decision)}
	}
	return d, true, nil
}

// putStreamed writes the object at key with put (Bucket.Put or
// PutIfAbsent), its body written by write as the store reads it: nothing
// is buffered whole. A failure of write fails the put, which publishes
// nothing.
func putStreamed(ctx context.Context, put func(context.Context, string, io.Reader) error, key string, write func(io.Writer) error) error {
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

var errPutEnded = errors.New("hudi: put ended before the body was read")
