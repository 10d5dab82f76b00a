package kube

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-canary/platform/lambdas/kube/typed"
)

func staticSTS(region string) *sts.PresignClient {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "session-token", Source: "test"}, nil
	})
	return sts.NewPresignClient(sts.New(sts.Options{Region: region, Credentials: creds}))
}

// decodeToken undoes the token format and returns the presigned URL.
func decodeToken(t *testing.T, token string) *url.URL {
	t.Helper()
	if !strings.HasPrefix(token, TokenPrefix) {
		t.Fatalf("token %q lacks prefix %q", token, TokenPrefix)
	}
	body := strings.TrimPrefix(token, TokenPrefix)
	if strings.ContainsAny(body, "=+/") {
		t.Fatalf("token body %q is not unpadded base64url", body)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("decode token: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatalf("parse presigned URL: %v", err)
	}
	return u
}

func TestTokenIsAPresignedGetCallerIdentityBoundToTheCluster(t *testing.T) {
	src := NewTokenSource("blogpost", staticSTS("eu-west-1"))
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	src.now = func() time.Time { return now }
	token, expires, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u := decodeToken(t, token)
	if u.Scheme != "https" || u.Host != "sts.eu-west-1.amazonaws.com" {
		t.Errorf("presigned URL %s: want https to the regional STS endpoint", u)
	}
	q := u.Query()
	if q.Get("Action") != "GetCallerIdentity" || q.Get("Version") != "2011-06-15" {
		t.Errorf("query %v: want Action=GetCallerIdentity and Version=2011-06-15", q)
	}
	signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	if !contains(signed, "host") || !contains(signed, ClusterIDHeader) {
		t.Errorf("signed headers %v: want host and %s", signed, ClusterIDHeader)
	}
	if q.Get("X-Amz-Expires") != "60" {
		t.Errorf("X-Amz-Expires = %q, want 60", q.Get("X-Amz-Expires"))
	}
	if !strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIDEXAMPLE/") || !strings.Contains(q.Get("X-Amz-Credential"), "/eu-west-1/sts/aws4_request") {
		t.Errorf("credential scope %q", q.Get("X-Amz-Credential"))
	}
	if q.Get("X-Amz-Security-Token") != "session-token" || q.Get("X-Amz-Signature") == "" || q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		t.Errorf("query %v lacks the session token, signature or algorithm", q)
	}
	// The EKS authenticator refuses tokens carrying any other parameter.
	allowed := map[string]bool{"action": true, "version": true, "x-amz-algorithm": true, "x-amz-credential": true, "x-amz-date": true,
		"x-amz-expires": true, "x-amz-security-token": true, "x-amz-signature": true, "x-amz-signedheaders": true}
	for k := range q {
		if !allowed[strings.ToLower(k)] {
			t.Errorf("query parameter %s is not accepted by the EKS authenticator", k)
		}
	}
	if want := now.Add(15 * time.Minute); !expires.Equal(want) {
		t.Errorf("expires %s, want %s", expires, want)
	}
}

// countingPresigner records the cluster header each presign carries.
type countingPresigner struct {
	calls atomic.Int32
	err   error
}

func (p *countingPresigner) PresignGetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.PresignOptions)) (*v4.PresignedHTTPRequest, error) {
	n := p.calls.Add(1)
	if p.err != nil {
		return nil, p.err
	}
	return &v4.PresignedHTTPRequest{URL: fmt.Sprintf("https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&n=%d", n), Method: "GET"}, nil
}

func TestTokenIsCachedAndRefreshedBeforeExpiry(t *testing.T) {
	p := &countingPresigner{}
	src := NewTokenSource("c1", p)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src.now = func() time.Time { return now }
	ctx := context.Background()

	first, _, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(13*time.Minute + 59*time.Second)
	again, _, _ := src.Token(ctx)
	if again != first || p.calls.Load() != 1 {
		t.Fatalf("token re-signed within its lifetime (%d presigns)", p.calls.Load())
	}
	now = now.Add(2 * time.Second) // 14m01s: inside the refresh margin
	renewed, _, _ := src.Token(ctx)
	if renewed == first || p.calls.Load() != 2 {
		t.Fatalf("token not refreshed one minute before expiry (%d presigns)", p.calls.Load())
	}
}

func TestTokenErrorNamesTheCluster(t *testing.T) {
	src := NewTokenSource("prod-eks", &countingPresigner{err: errors.New("no credentials")})
	_, _, err := src.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "prod-eks") || !strings.Contains(err.Error(), "no credentials") {
		t.Fatalf("error %v: want the cluster name and the cause", err)
	}
}

type fakeEKS struct {
	out *eks.DescribeClusterOutput
	err error
	got string
}

func (f *fakeEKS) DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, _ ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	f.got = aws.ToString(in.Name)
	return f.out, f.err
}

func TestEKSConfigSendsAFreshBearerTokenToTheEndpoint(t *testing.T) {
	var auth []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"yelb"}}`))
	}))
	defer srv.Close()
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	describer := &fakeEKS{out: &eks.DescribeClusterOutput{Cluster: &ekstypes.Cluster{
		Endpoint:             aws.String(srv.URL),
		CertificateAuthority: &ekstypes.Certificate{Data: aws.String(ca)},
		Status:               ekstypes.ClusterStatusActive,
	}}}
	p := &countingPresigner{}
	tokens := NewTokenSource("blogpost", p)
	now := time.Now()
	tokens.now = func() time.Time { return now }

	cfg, err := EKSConfig(context.Background(), describer, tokens, "blogpost")
	if err != nil {
		t.Fatal(err)
	}
	if describer.got != "blogpost" {
		t.Errorf("described cluster %q", describer.got)
	}
	cs, err := typed.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func() {
		if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "yelb", metav1.GetOptions{}); err != nil {
			t.Fatalf("request through the EKS config (CA from DescribeCluster): %v", err)
		}
	}
	get()
	now = now.Add(20 * time.Minute)
	get()
	if len(auth) != 2 || auth[0] == auth[1] {
		t.Fatalf("authorization headers %q: want two different bearer tokens", auth)
	}
	for _, a := range auth {
		if !strings.HasPrefix(a, "Bearer "+TokenPrefix) {
			t.Errorf("authorization %q is not an EKS bearer token", a)
		}
	}
}

func TestEKSConfigRejectsAClusterWithoutEndpoint(t *testing.T) {
	describer := &fakeEKS{out: &eks.DescribeClusterOutput{Cluster: &ekstypes.Cluster{Status: ekstypes.ClusterStatusCreating}}}
	_, err := EKSConfig(context.Background(), describer, NewTokenSource("c", &countingPresigner{}), "c")
	if err == nil || !strings.Contains(err.Error(), "CREATING") || !strings.Contains(err.Error(), "ACTIVE") {
		t.Fatalf("error %v: want the status and what to wait for", err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
