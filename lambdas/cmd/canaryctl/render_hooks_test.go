package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/status"
)

func TestHookResultsAreShown(t *testing.T) {
	snap := sampleSnapshot()
	at := time.Date(2026, 11, 25, 18, 31, 0, 0, time.UTC)
	snap.Status.Hooks = []status.HookResult{
		{Hook: "load-test", Point: "confirm_traffic", Kind: "http", Passed: false, Output: "HTTP 500:\nerror rate 3%", At: at},
		{Hook: "acceptance", Point: "pre_traffic", Kind: "job", Passed: true, Output: "Job acceptance-4-pre-traffic succeeded", At: at.Add(-time.Minute)},
	}
	frame := Frame(snap, 0)
	want := []string{
		"hooks     " + clock(at) + "  confirm_traffic   http   load-test  FAILED: HTTP 500: error rate 3%",
		"          " + clock(at.Add(-time.Minute)) + "  pre_traffic       job    acceptance  passed: Job acceptance-4-pre-traffic succeeded",
	}
	for _, w := range want {
		if !slices.Contains(frame, w) {
			t.Errorf("frame lacks %q:\n%s", w, strings.Join(frame, "\n"))
		}
	}
	table := StatusTable([]status.Snapshot{snap}, at, false)
	if !strings.Contains(table, snap.Status.Microservice+" "+clock(at)+"  confirm_traffic   http   load-test  FAILED: HTTP 500: error rate 3%") {
		t.Errorf("status table lacks the latest hook result:\n%s", table)
	}
}
