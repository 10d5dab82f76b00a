package main

import (
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/status"
)

// A rollout at its A/B stage shows the stage and strategy in the live view,
// the one-line log and the status table; others show nothing more.
func TestABStageShown(t *testing.T) {
	snap := sampleSnapshot()
	snap.Status.Strategy = "canary"
	snap.Status.Weight, snap.Status.NextWeight, snap.Status.Step = 0, 0, 1
	snap.Status.Stage = "ab: x-canary=always → yelb-appserver-4"
	frame := Frame(snap, 0)
	if frame[6] != "stage     ab: x-canary=always → yelb-appserver-4 (canary)" {
		t.Errorf("frame line 6 = %q\n%s", frame[6], strings.Join(frame, "\n"))
	}
	if got := Line(snap); !strings.Contains(got, " ab: x-canary=always → yelb-appserver-4 |") {
		t.Errorf("line %q does not show the stage", got)
	}
	table := StatusTable([]status.Snapshot{snap, sampleSnapshot()}, snap.Status.UpdatedAt, false)
	if !strings.HasSuffix(table, "\nyelb-appserver: canary, ab: x-canary=always → yelb-appserver-4\n") || strings.Count(table, "ab:") != 1 {
		t.Errorf("status table does not list the stage once:\n%s", table)
	}
	if got := strings.Join(Frame(sampleSnapshot(), 0), "\n"); strings.Contains(got, "stage") {
		t.Errorf("a rollout without a stage shows one:\n%s", got)
	}
}
