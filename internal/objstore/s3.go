package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"

	"github.com/lakestream/lakestream/internal/redact"
)

// maxS3Parts is the most parts a multipart upload may have.
const maxS3Parts = 10000

// abortTimeout bounds the clean-up of a failed multipart upload, which runs
// even when the caller's context is done.
const abortTimeout = 30 * time.Second

// S3 is a Store in an S3 bucket (AWS or S3-compatible), under a key prefix.
//
// Put sends bodies up to the part size in one PutObject and larger ones as a
// multipart upload; S3 publishes either atomically. PutIfAbsent is a
// conditional write (If-None-Match: *). As with any conditional write over a
// network, a retried request whose first attempt did succeed reports
// ErrExists: callers that need to tell the cases apart must read the object.
type S3 struct {
	client    *s3.Client
	transport *http.Transport
	cfg       S3Config
	closeOnce sync.Once
}

var _ Store = (*S3)(nil)

// NewS3 returns an S3 bucket. It validates cfg and sets up the client but
// does not contact the store.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithLogger(logging.Nop{}),
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	switch {
	case cfg.MaxRetries > 0:
		opts = append(opts, config.WithRetryMaxAttempts(cfg.MaxRetries+1))
	case cfg.MaxRetries < 0:
		opts = append(opts, config.WithRetryMaxAttempts(1))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("new s3 bucket: load aws config: %w", err)
	}

	// The S3 client gets an HTTP client of its own, whose connections Close
	// can release. Its transport is a copy of the one the SDK configured,
	// which carries settings such as AWS_CA_BUNDLE.
	builder, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		builder = awshttp.NewBuildableClient()
	}
	transport := builder.GetTransport()
	transport.MaxIdleConnsPerHost = 64
	httpClient := &http.Client{
		Transport: transport,
		// Like the SDK's own client: S3 answers are never redirects to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.HTTPClient = httpClient
		o.UsePathStyle = cfg.UsePathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &S3{client: client, transport: transport, cfg: cfg}, nil
}

// Location returns the bucket's location for logs: "s3://bucket/prefix/",
// followed by " at " and the endpoint (through redact.URL) if one is set.
func (s *S3) Location() string {
	loc := "s3://" + s.cfg.Bucket + "/" + s.cfg.Prefix
	if s.cfg.Endpoint != "" {
		loc += " at " + redact.URL(s.cfg.Endpoint)
	}
	return loc
}

// String is Location: it holds no credentials.
func (s *S3) String() string { return s.Location() }

// GoString is String, so that %#v does not print the credentials either.
func (s *S3) GoString() string { return s.String() }

// Client returns the underlying SDK client, for operations the Store
// interface does not cover.
func (s *S3) Client() *s3.Client { return s.client }

// objectKey returns the S3 key of a bucket key.
func (s *S3) objectKey(key string) string { return s.cfg.Prefix + key }

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) error {
	if err := s.put(ctx, key, r, false); err != nil {
		return s3OpError("put", key, err)
	}
	return nil
}

// PutIfAbsent implements Store.
func (s *S3) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	if err := s.put(ctx, key, r, true); err != nil {
		return s3OpError("put if absent", key, err)
	}
	return nil
}

func (s *S3) put(ctx context.Context, key string, r io.Reader, ifAbsent bool) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	body := contextReader{ctx: ctx, r: r}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(body, s.cfg.PartSize))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if n < s.cfg.PartSize {
		return s.putObject(ctx, key, buf.Bytes(), ifAbsent)
	}
	if ifAbsent {
		// Skip uploading a large body that cannot be published.
		if _, err := s.stat(ctx, key); err == nil {
			return ErrExists
		} else if !errors.Is(err, ErrNotExist) {
			return err
		}
	}
	return s.putMultipart(ctx, key, &buf, body, ifAbsent)
}

func (s *S3) putObject(ctx context.Context, key string, data []byte, ifAbsent bool) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(s.objectKey(key)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if ifAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		if ifAbsent && isS3Conflict(err) {
			return ErrExists
		}
		return err
	}
	return nil
}

// putMultipart uploads buf, which holds the first part, and the rest of body
// as a multipart upload, aborting the upload on any error.
func (s *S3) putMultipart(ctx context.Context, key string, buf *bytes.Buffer, body io.Reader, ifAbsent bool) error {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(s.objectKey(key)),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	uploadID := created.UploadId
	fail := func(err error) error {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, abortErr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket:   aws.String(s.cfg.Bucket),
			Key:      aws.String(s.objectKey(key)),
			UploadId: uploadID,
		})
		if abortErr != nil {
			return errors.Join(err, fmt.Errorf("abort multipart upload: %w", abortErr))
		}
		return err
	}

	var parts []types.CompletedPart
	for num := int32(1); buf.Len() > 0; num++ {
		if num > maxS3Parts {
			return fail(fmt.Errorf("body exceeds %d parts of %d bytes", maxS3Parts, s.cfg.PartSize))
		}
		up, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:            aws.String(s.cfg.Bucket),
			Key:               aws.String(s.objectKey(key)),
			UploadId:          uploadID,
			PartNumber:        aws.Int32(num),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			Body:              bytes.NewReader(buf.Bytes()),
			ContentLength:     aws.Int64(int64(buf.Len())),
		})
		if err != nil {
			return fail(fmt.Errorf("upload part %d: %w", num, err))
		}
		parts = append(parts, types.CompletedPart{
			PartNumber:        aws.Int32(num),
			ETag:              up.ETag,
			ChecksumCRC32:     up.ChecksumCRC32,
			ChecksumCRC32C:    up.ChecksumCRC32C,
			ChecksumCRC64NVME: up.ChecksumCRC64NVME,
			ChecksumSHA1:      up.ChecksumSHA1,
			ChecksumSHA256:    up.ChecksumSHA256,
		})
		buf.Reset()
		if _, err := buf.ReadFrom(io.LimitReader(body, s.cfg.PartSize)); err != nil {
			return fail(fmt.Errorf("read body: %w", err))
		}
	}

	in := &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.cfg.Bucket),
		Key:             aws.String(s.objectKey(key)),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if ifAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, in); err != nil {
		if ifAbsent && isS3Conflict(err) {
			return fail(ErrExists)
		}
		return fail(fmt.Errorf("complete multipart upload: %w", err))
	}
	return nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := s.get(ctx, key, "")
	if err != nil {
		return nil, s3OpError("get", key, err)
	}
	return rc, nil
}

// GetRange implements Store.
func (s *S3) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	rc, err := s.getRange(ctx, key, off, length)
	if err != nil {
		return nil, s3OpError("get range", key, err)
	}
	return rc, nil
}

func (s *S3) getRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := checkRange(off, length); err != nil {
		return nil, err
	}
	switch {
	case length == 0:
		if _, err := s.stat(ctx, key); err != nil {
			return nil, err
		}
		return emptyReadCloser(), nil
	case off == 0 && length == -1:
		return s.get(ctx, key, "")
	case length == -1:
		return s.get(ctx, key, fmt.Sprintf("bytes=%d-", off))
	default:
		return s.get(ctx, key, fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	}
}

// get opens the object with an optional HTTP Range.
func (s *S3) get(ctx context.Context, key, rng string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.objectKey(key)),
	}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := s.client.GetObject(ctx, in)
	switch {
	case err == nil:
		return out.Body, nil
	case isS3NotFound(err):
		return nil, ErrNotExist
	case rng != "" && isS3InvalidRange(err):
		// The range starts at or past the end of an existing object.
		return emptyReadCloser(), nil
	default:
		return nil, err
	}
}

// List implements Store. Keys in the store that are not valid bucket keys,
// such as "dir/" markers made by other tools, are skipped.
func (s *S3) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket),
		Prefix: aws.String(s.objectKey(prefix)),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, redactURLError(err))
		}
		for _, obj := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(obj.Key), s.cfg.Prefix)
			if !ok || ValidateKey(key) != nil {
				continue
			}
			info := ObjectInfo{Key: key, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	info, err := s.stat(ctx, key)
	if err != nil {
		return ObjectInfo{}, s3OpError("stat", key, err)
	}
	return info, nil
}

func (s *S3) stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil {
		if isS3NotFound(err) {
			return ObjectInfo{}, ErrNotExist
		}
		return ObjectInfo{}, err
	}
	return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return s3OpError("delete", key, err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil && !isS3NotFound(err) {
		return s3OpError("delete", key, err)
	}
	return nil
}

// Close releases the client's idle connections. Calls in flight finish.
func (s *S3) Close() error {
	s.closeOnce.Do(s.transport.CloseIdleConnections)
	return nil
}
