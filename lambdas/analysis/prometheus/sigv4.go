package prometheus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/eks-canary/platform/lambdas/contract"
)

// SigV4 signs each request with AWS Signature Version 4, as Amazon Managed
// Service for Prometheus requires of every query.
type SigV4 struct {
	Next        http.RoundTripper // nil: http.DefaultTransport
	Credentials aws.CredentialsProvider
	Region      string
	// Service is the signing name; empty means
	// contract.PrometheusSigningService.
	Service string
	// Now is the signing time; nil means time.Now.
	Now func() time.Time
}

// RoundTrip signs a copy of req, its body hashed, and sends it.
func (s *SigV4) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	signed := req.Clone(ctx)
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("sign prometheus query: read body: %w", err)
		}
		req.Body.Close()
		signed.Body = io.NopCloser(bytes.NewReader(body))
		signed.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	sum := sha256.Sum256(body)
	creds, err := s.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("sign prometheus query: credentials: %w", err)
	}
	service, now := s.Service, time.Now
	if service == "" {
		service = contract.PrometheusSigningService
	}
	if s.Now != nil {
		now = s.Now
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, signed, hex.EncodeToString(sum[:]), service, s.Region, now()); err != nil {
		return nil, fmt.Errorf("sign prometheus query: %w", err)
	}
	next := s.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(signed)
}

// ForEndpoint builds the provider for a query URL. Queries to an Amazon
// Managed Service for Prometheus workspace are signed with the credentials
// that credentials gives; it is called for such a URL only, so a
// self-run Prometheus needs no AWS configuration.
func ForEndpoint(address string, credentials func() (aws.CredentialsProvider, error)) (*Provider, error) {
	region, _, workspace, err := contract.PrometheusWorkspace(address)
	if err != nil {
		return nil, err
	}
	if !workspace {
		return New(address, nil)
	}
	creds, err := credentials()
	if err != nil {
		return nil, fmt.Errorf("credentials to sign queries to %s: %w", address, err)
	}
	return New(address, &SigV4{Credentials: creds, Region: region})
}
