package kube

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// IsTransient reports whether err is worth retrying unchanged: the API server
// or AWS was busy, throttled, briefly unreachable, or another writer won a
// race. Everything else (bad object, forbidden, not found, unknown kind) is
// permanent: retrying the same request gives the same answer.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if IsSchemaRefusal(err) {
		return false
	}
	if apierrors.IsConflict(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsUnexpectedServerError(err) {
		return true
	}
	if _, delay := apierrors.SuggestsClientDelay(err); delay {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		// Any other answer from the API server is its final word.
		code := status.Status().Code
		return code == 429 || code >= 500
	}
	if utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) ||
		utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err) || utilnet.IsTimeout(err) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && (dnsErr.IsTemporary || dnsErr.IsTimeout) {
		return true
	}
	// AWS calls (DescribeCluster, the token's STS signing) after the SDK's
	// own retries: throttling, 5xx and connection errors.
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// IsSchemaRefusal reports a server-side apply the API server could not map
// onto the kind's schema (a field the schema lacks in an object that
// exists). It answers 500, but the same object always gets the same answer.
func IsSchemaRefusal(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status) && status.Status().Code == 500 &&
		strings.Contains(status.Status().Message, "failed to create typed patch object")
}
