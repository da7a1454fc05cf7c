package objstore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
)

// The operation labels that Observe passes to its function, one per Store
// method (Close is not observed).
const (
	ObservePut         = "put"
	ObservePutIfAbsent = "put_if_absent"
	ObserveGet         = "get"
	ObserveGetRange    = "get_range"
	ObserveList        = "list"
	ObserveStat        = "stat"
	ObserveDelete      = "delete"
)

// ObserveOps lists the operation labels of Observe, for registering metric
// series up front.
func ObserveOps() []string {
	return []string{ObservePut, ObservePutIfAbsent, ObserveGet, ObserveGetRange, ObserveList, ObserveStat, ObserveDelete}
}

// Observe wraps b so that fn is called once for every request made through
// it, after it ends, with the operation label (ObservePut, ...), how long it
// took and its error (nil on success; classify it with ErrorClass). fn runs
// on the caller's goroutine and must be cheap and safe for concurrent use.
//
//   - For Get and GetRange, d is the time until the call returned (the
//     latency to the first byte), and fn is called when the call fails, or
//     else once the body is done with: at its first read error (err is that
//     error), at EOF or at Close (err nil), whichever comes first. A body
//     that is never closed nor read to the end is never reported.
//   - For List, d leaves out the time spent in the caller's callback, and an
//     error that the callback returned to stop the listing counts as
//     success: it is not a storage error.
//
// Describe sees through the wrapper (it has an Inner method). Observe starts
// no goroutines.
func Observe(b Store, fn func(op string, d time.Duration, err error)) Store {
	return &observed{inner: b, fn: fn}
}

type observed struct {
	inner Store
	fn    func(op string, d time.Duration, err error)
}

// Inner returns the observed bucket.
func (o *observed) Inner() Store { return o.inner }

func (o *observed) Put(ctx context.Context, key string, r io.Reader) error {
	start := time.Now()
	err := o.inner.Put(ctx, key, r)
	o.fn(ObservePut, time.Since(start), err)
	return err
}

func (o *observed) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	start := time.Now()
	err := o.inner.PutIfAbsent(ctx, key, r)
	o.fn(ObservePutIfAbsent, time.Since(start), err)
	return err
}

func (o *observed) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := o.inner.Get(ctx, key)
	return o.body(ObserveGet, start, rc, err)
}

func (o *observed) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := o.inner.GetRange(ctx, key, off, length)
	return o.body(ObserveGetRange, start, rc, err)
}

func (o *observed) body(op string, start time.Time, rc io.ReadCloser, err error) (io.ReadCloser, error) {
	d := time.Since(start)
	if err != nil {
		o.fn(op, d, err)
		return rc, err
	}
	return &observedBody{rc: rc, op: op, d: d, fn: o.fn}, nil
}

// observedBody reports its request once, at its first read error, EOF or
// Close.
type observedBody struct {
	rc   io.ReadCloser
	op   string
	d    time.Duration
	fn   func(op string, d time.Duration, err error)
	once sync.Once
}

func (b *observedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.report(nil)
	case err != nil:
		b.report(err)
	}
	return n, err
}

func (b *observedBody) Close() error {
	err := b.rc.Close()
	b.report(nil)
	return err
}

func (b *observedBody) report(err error) { b.once.Do(func() { b.fn(b.op, b.d, err) }) }

func (o *observed) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	var (
		inFn    time.Duration
		stopped error
	)
	start := time.Now()
	err := o.inner.List(ctx, prefix, func(info ObjectInfo) error {
		t := time.Now()
		err := fn(info)
		inFn += time.Since(t)
		if err != nil {
			stopped = err
		}
		return err
	})
	d := time.Since(start) - inFn
	if stopped != nil && errors.Is(err, stopped) {
		o.fn(ObserveList, d, nil)
	} else {
		o.fn(ObserveList, d, err)
	}
	return err
}

func (o *observed) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	start := time.Now()
	info, err := o.inner.Stat(ctx, key)
	o.fn(ObserveStat, time.Since(start), err)
	return info, err
}

func (o *observed) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := o.inner.Delete(ctx, key)
	o.fn(ObserveDelete, time.Since(start), err)
	return err
}

// Close closes the inner bucket; it is not observed.
func (o *observed) Close() error { return o.inner.Close() }

// ErrorClasses lists every label ErrorClass returns, for registering metric
// series up front.
func ErrorClasses() []string {
	return []string{
		"ok", "not_found", "exists", "invalid", "symlink", "injected", "canceled", "timeout",
		"no_space", "permission", "no_bucket", "throttled", "server", "network", "other",
	}
}

// ErrorClass sorts the error of a Store call into a short, stable label
// for metrics (one of ErrorClasses):
//
//	ok          nil
//	not_found   ErrNotExist: a missing object (an answer, not a failure)
//	exists      ErrExists: PutIfAbsent lost (an answer, not a failure)
//	invalid     a *KeyError
//	symlink     ErrSymlink: a Filesystem met a symbolic link
//	injected    ErrInjected: a fault of a Faulty (tests)
//	canceled    context.Canceled
//	timeout     a deadline: context.DeadlineExceeded, a network timeout,
//	            S3 RequestTimeout
//	no_space    ENOSPC, EDQUOT
//	permission  EACCES, EPERM, EROFS; S3 AccessDenied, bad or expired
//	            credentials, HTTP 401 and 403
//	no_bucket   S3 NoSuchBucket: a configuration error
//	throttled   S3 SlowDown and other throttling codes, HTTP 429 and 503,
//	            the SDK's retry quota running out
//	server      another HTTP 5xx
//	network     another transport error: refused or reset connections,
//	            DNS, a body cut short (io.ErrUnexpectedEOF)
//	other       anything else
func ErrorClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotExist):
		return "not_found"
	case errors.Is(err, ErrExists):
		return "exists"
	case errors.As(err, new(*KeyError)):
		return "invalid"
	case errors.Is(err, ErrSymlink):
		return "symlink"
	case errors.Is(err, ErrInjected):
		return "injected"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "no_space"
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return "permission"
	case errors.As(err, new(*ratelimit.QuotaExceededError)):
		return "throttled"
	}
	code, status := s3Error(err)
	switch code {
	case "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
		"RequestThrottledException", "RequestLimitExceeded", "TooManyRequests", "TooManyRequestsException",
		"BandwidthLimitExceeded", "EC2ThrottledException", "ProvisionedThroughputExceededException",
		"PriorRequestNotComplete", "TransactionInProgressException":
		return "throttled"
	case "AccessDenied", "AccountProblem", "AllAccessDisabled", "InvalidAccessKeyId", "InvalidToken",
		"ExpiredToken", "SignatureDoesNotMatch", "RequestTimeTooSkewed", "InvalidSecurity":
		return "permission"
	case "NoSuchBucket":
		return "no_bucket"
	case "RequestTimeout", "RequestTimeoutException":
		return "timeout"
	}
	switch {
	case status == 429 || status == 503:
		return "throttled"
	case status == 401 || status == 403:
		return "permission"
	case status >= 500:
		return "server"
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		if netErr.Timeout() {
			return "timeout"
		}
		return "network"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return "network"
	}
	return "other"
}
