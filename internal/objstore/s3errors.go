package objstore

import (
	"errors"
	"net/url"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/lakestream/lakestream/internal/redact"
)

// s3OpError is opError for the errors of S3 requests, with the request URL
// that a transport error quotes redacted.
func s3OpError(op, key string, err error) error {
	return opError(op, key, redactURLError(err))
}

// redactURLError passes the URL of the first *url.Error in err's chain (the
// SDK wraps transport errors in one, quoting the request URL) through
// redact.URL, in place: the error was made for this one request.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redact.URL(ue.URL)
	}
	return err
}

// s3Error returns the S3 error code (such as "NoSuchKey") and HTTP status of
// an SDK error; either is zero if unknown.
func s3Error(err error) (code string, status int) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

// isS3NotFound reports whether err says that the object does not exist. A
// missing bucket is a configuration error, not a missing object.
func isS3NotFound(err error) bool {
	code, status := s3Error(err)
	switch code {
	case "NoSuchKey", "NotFound":
		return true
	case "NoSuchBucket":
		return false
	}
	return status == 404
}

// isS3Conflict reports whether a conditional write failed because the object
// exists (412 PreconditionFailed) or because a concurrent conditional write
// on the same key won (409 ConditionalRequestConflict).
func isS3Conflict(err error) bool {
	code, status := s3Error(err)
	switch code {
	case "PreconditionFailed", "ConditionalRequestConflict":
		return true
	}
	return status == 412 || (status == 409 && code == "")
}

// isS3InvalidRange reports a 416: a range that starts at or past the end.
func isS3InvalidRange(err error) bool {
	code, status := s3Error(err)
	return code == "InvalidRange" || status == 416
}
