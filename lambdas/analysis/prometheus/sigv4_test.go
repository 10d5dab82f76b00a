package prometheus_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	prom "github.com/eks-canary/platform/lambdas/analysis/prometheus"
)

// recorder keeps the request it was asked to send.
type recorder struct{ got *http.Request }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.got = req
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

// The transport signs as the AWS Signature Version 4 test suite expects
// (its credentials, date, region and service "service"): get-vanilla and
// get-vanilla-query-order-key-case.
func TestSigV4MatchesTheAWSTestSuite(t *testing.T) {
	for _, tc := range []struct{ name, url, signature string }{
		{"get-vanilla", "https://example.amazonaws.com/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", "https://example.amazonaws.com/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			signer := &prom.SigV4{
				Next:        rec,
				Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
				Region:      "us-east-1",
				Service:     "service",
				Now:         func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) },
			}
			req, err := http.NewRequest(http.MethodGet, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := signer.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + tc.signature
			if got := rec.got.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization\n got %s\nwant %s", got, want)
			}
			if req.Header.Get("Authorization") != "" {
				t.Error("the caller's request was changed; sign a copy")
			}
		})
	}
}

// A query to a workspace is signed for service aps in the URL's region,
// with the body it carries hashed, and the body still sent.
func TestSigV4SignsWorkspaceQueries(t *testing.T) {
	address := "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234"
	rec := &recorder{}
	signer := &prom.SigV4{Next: rec, Region: "eu-west-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: "token"}, nil
		})}
	body := "query=up&start=1&end=2&step=60"
	req, err := http.NewRequest(http.MethodPost, address+"/api/v1/query_range", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := signer.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	auth := rec.got.Header.Get("Authorization")
	if !strings.Contains(auth, "/eu-west-1/aps/aws4_request") || !strings.Contains(auth, "content-type") {
		t.Errorf("Authorization %q: want the aps scope in eu-west-1 and the content type signed", auth)
	}
	if rec.got.Header.Get("X-Amz-Security-Token") != "token" {
		t.Error("the session token is not sent")
	}
	sent, err := io.ReadAll(rec.got.Body)
	if err != nil || string(sent) != body {
		t.Errorf("body sent %q, %v; want %q", sent, err, body)
	}
}

// Only a workspace URL asks for AWS credentials; a bad URL is refused
// before anything is asked.
func TestForEndpointAsksCredentialsForWorkspacesOnly(t *testing.T) {
	for _, tc := range []struct {
		address string
		asks    bool
		err     string
	}{
		{"http://prometheus.monitoring:9090", false, ""},
		{"https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-9", true, ""},
		{"ftp://prometheus", false, "is not an http(s) base URL"},
	} {
		asked := false
		_, err := prom.ForEndpoint(tc.address, func() (aws.CredentialsProvider, error) {
			asked = true
			return credentials.NewStaticCredentialsProvider("AKID", "secret", ""), nil
		})
		if asked != tc.asks || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ForEndpoint(%q): asked %v, err %v; want asked %v, error containing %q", tc.address, asked, err, tc.asks, tc.err)
		}
	}
}
