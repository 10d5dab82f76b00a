package hooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCallRetriesThenPasses(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("fine"))
	}))
	defer srv.Close()
	res := Call(context.Background(), srv.Client(), HTTP{URL: srv.URL, Timeout: time.Second, Retries: 2, Backoff: time.Millisecond}, Payload{Hook: "gate"})
	if !res.Passed || res.Output != "fine" || calls.Load() != 3 {
		t.Errorf("result %+v after %d calls", res, calls.Load())
	}
}

func TestCallFailsWithTheLastAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, strings.Repeat("e", 10<<10), http.StatusInternalServerError)
	}))
	defer srv.Close()
	res := Call(context.Background(), srv.Client(), HTTP{URL: srv.URL, Timeout: time.Second, Retries: 1, Backoff: time.Millisecond}, Payload{})
	if res.Passed || !strings.HasPrefix(res.Output, "after 2 attempts: HTTP 500: eee") || len(res.Output) > OutputLimit {
		t.Errorf("result %q (%d bytes)", res.Output[:40], len(res.Output))
	}
}

func TestCallTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	res := Call(context.Background(), srv.Client(), HTTP{URL: srv.URL, Timeout: 50 * time.Millisecond}, Payload{})
	if res.Passed || !strings.Contains(res.Output, "no answer within 50ms (timeout)") {
		t.Errorf("result %+v", res)
	}
}

func TestJudgeLambda(t *testing.T) {
	tests := []struct {
		result, errName, cause string
		passed                 bool
		output                 string
	}{
		{`{"ok": true, "message": "tests passed"}`, "", "", true, "tests passed"},
		{`{"ok": false, "message": {"failed": 3}}`, "", "", false, `{"failed": 3}`},
		{`{"status": "fine"}`, "", "", false, `the function returned {"status": "fine"}: return {"ok": true} to pass`},
		{"", "Sandbox.Timedout", `{"errorMessage":"Task timed out after 30.00 seconds"}`, false, "the function failed: Sandbox.Timedout: Task timed out after 30.00 seconds"},
		{"", ErrDataLimitExceeded, "The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes service limit.", false,
			"the function's answer is larger than the 256 KiB Step Functions carries between states: return {\"ok\": true}"},
	}
	for _, tt := range tests {
		got := JudgeLambda([]byte(tt.result), tt.errName, tt.cause)
		if got.Passed != tt.passed || !strings.HasPrefix(got.Output, tt.output) {
			t.Errorf("JudgeLambda(%s, %s) = %+v, want %v %q", tt.result, tt.errName, got, tt.passed, tt.output)
		}
	}
}

func TestAllowedFunctions(t *testing.T) {
	allowed, err := ParseFunctions(" arn:aws:lambda:us-west-2:123456789012:function:approve , arn:aws:lambda:us-west-2:123456789012:function:canary-hook-*")
	if err != nil {
		t.Fatal(err)
	}
	for arn, want := range map[string]bool{
		"arn:aws:lambda:us-west-2:123456789012:function:approve":          true,
		"arn:aws:lambda:us-west-2:123456789012:function:approve:live":     true,
		"arn:aws:lambda:us-west-2:123456789012:function:approver":         false,
		"arn:aws:lambda:us-west-2:123456789012:function:canary-hook-load": true,
		"arn:aws:lambda:us-west-2:210987654321:function:approve":          false,
	} {
		if FunctionAllowed(arn, allowed) != want {
			t.Errorf("FunctionAllowed(%s) = %v", arn, !want)
		}
	}
	if FunctionAllowed("arn:aws:lambda:us-west-2:123456789012:function:approve", nil) {
		t.Error("an empty list allows a function")
	}
	if got := PolicyResources(allowed); !slices.Equal(got, []string{allowed[0], allowed[0] + ":*", allowed[1]}) {
		t.Errorf("policy resources %v", got)
	}
	if _, err := ParseFunctions("approve,arn:aws:lambda:us-west-2:123456789012:function:*-hook"); err == nil ||
		!strings.Contains(err.Error(), `CANARY_HOOK_FUNCTIONS: "approve", "arn:aws:lambda:us-west-2:123456789012:function:*-hook": give Lambda function ARNs`) {
		t.Errorf("ParseFunctions = %v", err)
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("é", OutputLimit)
	got := Excerpt(long)
	if len(got) > OutputLimit || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") {
		t.Errorf("excerpt of %d bytes: %d bytes", len(long), len(got))
	}
	if got := Excerpt(" a\x1bb\n"); got != "a?b" {
		t.Errorf("Excerpt = %q", got)
	}
}
