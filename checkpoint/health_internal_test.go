package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/table/hudi"
)

// TestErrorClass sorts the errors the pipeline really meets.
func TestErrorClass(t *testing.T) {
	diskFull := fmt.Errorf("writer: upload k: put k: %w", &fs.PathError{Op: "write", Path: "/t/k", Err: syscall.ENOSPC})
	for _, c := range []struct {
		err  error
		want string
	}{
		{diskFull, ClassNoSpace},
		{fatal(fmt.Errorf("worker 1: %w", diskFull)), ClassNoSpace},
		{fmt.Errorf("commit: %w", &hudi.FencedError{Instant: "1", Reason: "rolled back"}), ClassFenced},
		{fmt.Errorf("put if absent x: %w", objstore.ErrExists), ClassFenced},
		{fmt.Errorf("writer: before upload of k: %w", fmt.Errorf("journal: add: %w", journal.ErrFailed)), ClassJournal},
		{fmt.Errorf("put k: %w", context.DeadlineExceeded), ClassTimeout},
		{&net.OpError{Op: "dial", Err: timeoutError{}}, ClassTimeout},
		{fmt.Errorf("put k: %w", context.Canceled), ClassCanceled},
		{fmt.Errorf("writer: upload k: %w", &objstore.FaultError{Op: objstore.OpPut, Key: "k"}), ClassStorage},
		{fmt.Errorf("put k: %w", &smithy.GenericAPIError{Code: "InternalError", Message: "We encountered an internal error"}), ClassStorage},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, ClassStorage},
		{fmt.Errorf("stat k: %w", &fs.PathError{Op: "stat", Path: "/t/k", Err: syscall.EACCES}), ClassStorage},
		{&failpoint.Error{Name: failpoint.AfterFileWrite}, ClassOther},
		{fatal(errors.New("flush dead letters: broker down")), ClassOther},
	} {
		if got := ErrorClass(c.err); got != c.want {
			t.Errorf("ErrorClass(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestRedactMessage: every URL in an error keeps its shape and loses its
// credentials and query values; the rest of the message stays.
func TestRedactMessage(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`put k: Put "https://minio:9000/b/k?X-Amz-Signature=s3cr3t&x-id=PutObject": dial tcp 10.0.0.1:9000: connect: connection refused`,
			`put k: Put "https://minio:9000/b/k?X-Amz-Signature=REDACTED&x-id=REDACTED": dial tcp 10.0.0.1:9000: connect: connection refused`},
		{"open s3://b/p?endpoint=http://admin:s3cr3t@127.0.0.1:9/ failed", "open s3://b/p?endpoint=REDACTED failed"},
		{"registry http://user:s3cr3t@registry:8081, retrying", "registry http://REDACTED@registry:8081, retrying"},
		{"writer: upload dt=2025-01-01/hr=00/a.parquet: injected fault", "writer: upload dt=2025-01-01/hr=00/a.parquet: injected fault"},
		{"why?\tno\nidea", "why?\tno\nidea"},
	} {
		got := redactMessage(c.in)
		if got != c.want {
			t.Errorf("redactMessage(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
		if strings.Contains(got, "s3cr3t") {
			t.Errorf("secret kept: %q", got)
		}
	}
}

// TestHealthCountsWriteRetries: a worker's uploads while writing rows are
// counted under the write phase, listed while retried, and the one that
// fails for good is not counted as retried and leaves no retry behind.
func TestHealthCountsWriteRetries(t *testing.T) {
	ctx := context.Background()
	faulty := objstore.NewFaulty(objstore.NewMemory())
	schema := workerTestSchema()
	w := newTestWorker(t, faulty, schema)
	w.retryMin, w.retryMax = time.Millisecond, time.Millisecond
	var during []RetryState
	failed := 0
	faulty.SetMatcher(func(op objstore.Op, _ string) objstore.Injection {
		if op != objstore.OpPut {
			return objstore.InjectNone
		}
		if failed == 2 {
			during = w.health.retryingList() // the third attempt: two failed
		}
		if failed < 2 {
			failed++
			return objstore.InjectBefore
		}
		return objstore.InjectNone
	})
	if err := w.writeBatch(ctx, workerTestBatch(t, schema, 3000)); err != nil {
		t.Fatal(err)
	}
	if len(during) != 1 || during[0].Phase != PhaseWrite || during[0].Worker != 0 || during[0].Attempts != 2 || during[0].Class != ClassStorage {
		t.Errorf("retrying during the third attempt: %+v", during)
	}
	if r := w.health.retryingList(); len(r) != 0 {
		t.Errorf("still retrying after the batch was written: %+v", r)
	}
	h := (&Coordinator{health: w.health}).Health()
	if f := failureCount(h, PhaseWrite, ClassStorage); f.Failures != 2 || f.Retries != 2 {
		t.Errorf("write failures %+v, want 2 retried", f)
	}

	faulty.SetMatcher(nil)
	faulty.SetFailing(true)
	if err := w.writeBatch(ctx, workerTestBatch(t, schema, 3000)); !errors.Is(err, errFatal) {
		t.Fatalf("write on failing storage: %v", err)
	}
	h = (&Coordinator{health: w.health}).Health()
	if f := failureCount(h, PhaseWrite, ClassStorage); f.Failures != 2+maxWriteAttempts || f.Retries != 2+maxWriteAttempts-1 {
		t.Errorf("write failures %+v, want %d, %d retried", f, 2+maxWriteAttempts, 2+maxWriteAttempts-1)
	}
	if len(h.Retrying) != 0 || h.LastError == nil || h.LastError.Retried || h.LastError.Phase != PhaseWrite {
		t.Errorf("after giving up: retrying %+v, last error %+v", h.Retrying, h.LastError)
	}
}

func failureCount(h Health, phase, class string) FailureCount {
	for _, f := range h.Failures {
		if f.Phase == phase && f.Class == class {
			return f
		}
	}
	return FailureCount{Phase: phase, Class: class}
}
