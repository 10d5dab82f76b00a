package kube

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"k8s.io/client-go/rest"
)

const (
	// TokenPrefix marks an EKS bearer token made from a presigned STS request.
	TokenPrefix = "k8s-aws-v1."
	// ClusterIDHeader binds the signed request to one cluster, so a token
	// for one cluster is refused by another.
	ClusterIDHeader = "x-k8s-aws-id"
	// TokenLifetime: EKS accepts the presigned request for 15 minutes after
	// its X-Amz-Date, whatever X-Amz-Expires says.
	TokenLifetime = 15 * time.Minute
	// tokenRefreshMargin renews a token this long before it lapses, so a
	// request in flight never carries an expired one.
	tokenRefreshMargin = time.Minute
	// presignExpires is sent for compatibility with older authenticators,
	// which require a value of at most 60; STS ignores it.
	presignExpires = "60"
)

// STSPresigner is the part of *sts.PresignClient a token needs.
type STSPresigner interface {
	PresignGetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// ClusterDescriber is the part of *eks.Client the connection needs.
type ClusterDescriber interface {
	DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, optFns ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
}

// TokenSource makes EKS bearer tokens for one cluster, as aws-iam-authenticator
// does, and caches each one until shortly before it expires. A warm Lambda
// reuses it across invocations. Safe for concurrent use.
type TokenSource struct {
	cluster   string
	presigner STSPresigner
	now       func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// NewTokenSource returns tokens for cluster, signed with presigner's credentials.
func NewTokenSource(cluster string, presigner STSPresigner) *TokenSource {
	return &TokenSource{cluster: cluster, presigner: presigner, now: time.Now}
}

// Token returns a valid token and when it expires.
func (s *TokenSource) Token(ctx context.Context) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.expires.Add(-tokenRefreshMargin)) {
		return s.token, s.expires, nil
	}
	presigned, err := s.presigner.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, sts.WithAPIOptions(
			smithyhttp.SetHeaderValue(ClusterIDHeader, s.cluster),
			smithyhttp.SetHeaderValue("X-Amz-Expires", presignExpires),
		))
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("presign sts:GetCallerIdentity for EKS cluster %s: %w", s.cluster, err)
	}
	s.token = TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(presigned.URL))
	// Counted from before signing, so the cache never outlives the signature.
	s.expires = now.Add(TokenLifetime)
	return s.token, s.expires, nil
}

// EKSConfig builds a client configuration for an EKS cluster: endpoint and
// CA from DescribeCluster, and a bearer token from tokens on every request.
func EKSConfig(ctx context.Context, describer ClusterDescriber, tokens *TokenSource, cluster string) (*rest.Config, error) {
	out, err := describer.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cluster)})
	if err != nil {
		return nil, fmt.Errorf("describe EKS cluster %s: %w", cluster, err)
	}
	c := out.Cluster
	if c == nil || aws.ToString(c.Endpoint) == "" {
		return nil, fmt.Errorf("EKS cluster %s has no API endpoint yet (status %s): wait until it is ACTIVE", cluster, clusterStatus(out))
	}
	if c.CertificateAuthority == nil || aws.ToString(c.CertificateAuthority.Data) == "" {
		return nil, fmt.Errorf("EKS cluster %s has no certificate authority data", cluster)
	}
	ca, err := base64.StdEncoding.DecodeString(aws.ToString(c.CertificateAuthority.Data))
	if err != nil {
		return nil, fmt.Errorf("decode certificate authority of EKS cluster %s: %w", cluster, err)
	}
	// Fail here, not on the first request, when signing is impossible
	// (no credentials in the environment).
	if _, _, err := tokens.Token(ctx); err != nil {
		return nil, err
	}
	cfg := &rest.Config{
		Host:            aws.ToString(c.Endpoint),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		UserAgent:       "canary-engine",
		QPS:             50,
		Burst:           100,
		Timeout:         30 * time.Second,
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &bearerTransport{tokens: tokens, next: rt} })
	return cfg, nil
}

// ForEKS connects to an EKS cluster with the AWS configuration's credentials
// (the Lambda role). Build it once per Lambda container: the token is cached.
func ForEKS(ctx context.Context, awsCfg aws.Config, cluster string) (*rest.Config, error) {
	tokens := NewTokenSource(cluster, sts.NewPresignClient(sts.NewFromConfig(awsCfg)))
	return EKSConfig(ctx, eks.NewFromConfig(awsCfg), tokens, cluster)
}

func clusterStatus(out *eks.DescribeClusterOutput) string {
	if out.Cluster == nil {
		return "unknown"
	}
	return string(out.Cluster.Status)
}

// bearerTransport sets a current token on every request, so a client built
// once keeps working after its first token expires.
type bearerTransport struct {
	tokens *TokenSource
	next   http.RoundTripper
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	token, _, err := t.tokens.Token(req.Context())
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return t.next.RoundTrip(r)
}
