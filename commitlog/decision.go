package commitlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lakestream/lakestream/internal/objstore"
)

// A decision is the single object that settles the fate of an instant:
// the writer completing it and anyone rolling it back both create it with
// put-if-absent, so exactly one of them wins. A commit decision carries the
// whole commit metadata so that a crash between the decision and the
// completed timeline file is finished forward by the next recovery.
type decision struct {
	Decision string          `json:"decision"` // decisionCommit or decisionRollback
	Instant  string          `json:"instant"`
	Action   string          `json:"action"`
	By       string          `json:"by"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

const (
	decisionCommit   = "commit"
	decisionRollback = "rollback"
)

func decisionKey(ts string) string { return DecisionDir + "/" + ts }

// decide records d unless a decision for the instant exists; it returns the
// decision in force (d, or the one that was there).
func (t *Table) decide(ctx context.Context, d decision) (decision, error) {
	body, err := json.Marshal(d)
	if err != nil {
		return decision{}, err
	}
	key := decisionKey(d.Instant)
	err = t.bucket.PutIfAbsent(ctx, key, bytes.NewReader(body))
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
	data, err := objstore.ReadAll(ctx, t.bucket, key)
	if errors.Is(err, objstore.ErrNotExist) {
		return decision{}, false, nil
	}
	if err != nil {
		return decision{}, false, fmt.Errorf("read %s: %w", key, err)
	}
	var d decision
	if err := json.Unmarshal(data, &d); err != nil {
		return decision{}, false, &FileError{Path: key, Problem: "corrupt decision", Err: err}
	}
	if d.Decision != decisionCommit && d.Decision != decisionRollback {
		return decision{}, false, &FileError{Path: key, Problem: fmt.Sprintf("unknown decision %q", d.Decision)}
	}
	return d, true, nil
}
