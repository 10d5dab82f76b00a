package notify

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/hooks"
	"github.com/eks-canary/platform/lambdas/status"
)

func TestNoticesListHookResults(t *testing.T) {
	at := time.Date(2026, 11, 25, 18, 31, 0, 0, time.UTC)
	n := engine.Notice{Microservice: "yelb-ui", Namespace: "yelb", Version: 4, StableVersion: 3, Outcome: status.PhaseSucceeded,
		Reason: "post_rollout hook slack (http) failed: HTTP 502: bad gateway; the outcome stands (post_rollout hooks only report)", HookFailure: true,
		Hooks: []status.HookResult{{Hook: "slack", Point: "post_rollout", Kind: "http", Output: "HTTP 502: bad gateway", At: at}}}
	subject, body := Message(n)
	if subject != "yelb-ui version 4: a notify-only hook failed (Succeeded stands)" {
		t.Errorf("subject %q", subject)
	}
	if !strings.Contains(body, "Hooks (newest first):\n  2026-11-25T18:31:00Z post_rollout hook slack (http) FAILED: HTTP 502: bad gateway\n") {
		t.Errorf("body:\n%s", body)
	}
}

// TestNoticesNeverShowAWebhooksSecrets: a Slack-style webhook that fails
// appears in the message and in the log line by scheme://host:port only.
func TestNoticesNeverShowAWebhooksSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid_token for "+r.URL.Path, http.StatusForbidden)
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "http://bot:xoxb-s3cret@", 1) + "/services/T0001/B0001/tokenABCDEF"
	res := hooks.Call(context.Background(), srv.Client(), hooks.HTTP{URL: url, Timeout: time.Second}, hooks.Payload{})
	if res.Passed {
		t.Fatal("a 403 passed")
	}
	n := engine.Notice{Microservice: "yelb-ui", Version: 4, Outcome: status.PhaseSucceeded, HookFailure: true,
		Reason: "post_rollout hook slack (http) failed: " + res.Output,
		Hooks:  []status.HookResult{{Hook: "slack", Point: "post_rollout", Kind: "http", Output: res.Output}}}
	var logged bytes.Buffer
	if err := (Log{Logger: slog.New(slog.NewJSONHandler(&logged, nil))}).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	subject, body := Message(n)
	for _, text := range []string{subject, body, logged.String()} {
		if !strings.Contains(text, "yelb-ui") {
			t.Errorf("no notice in %q", text)
		}
		for _, secret := range []string{"xoxb-s3cret", "bot:", "tokenABCDEF", "/services/"} {
			if strings.Contains(text, secret) {
				t.Errorf("%q shows %q", text, secret)
			}
		}
	}
	if !strings.Contains(body, "HTTP 403: invalid_token for /…") {
		t.Errorf("body lacks the hook's answer:\n%s", body)
	}
}
