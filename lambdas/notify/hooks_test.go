package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/engine"
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
