package main

import (
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/status"
)

// A canary whose replicas follow its weight shows them in the live view and
// the one-line log; others show nothing more.
func TestReplicasShown(t *testing.T) {
	snap := sampleSnapshot()
	snap.Status.Strategy = "canary"
	snap.Status.Replicas = &status.Replicas{Scale: "proportional", Canary: 2, Template: 4}
	frame := Frame(snap, 0)
	if frame[6] != "strategy  canary, replicas 2 of 4 (proportional)" {
		t.Errorf("frame line 6 = %q\n%s", frame[6], strings.Join(frame, "\n"))
	}
	if got := Line(snap); !strings.Contains(got, "50% → next 60% replicas 2/4 |") {
		t.Errorf("line %q does not show the replicas", got)
	}
	snap.Status.Replicas.Scaling = true
	if got := Strategy(snap.Status); got != "canary, replicas 2 of 4 (proportional), scaling up before the next shift" {
		t.Errorf("strategy while scaling = %q", got)
	}
	table := StatusTable([]status.Snapshot{snap, sampleSnapshot()}, snap.Status.UpdatedAt, false)
	if !strings.HasSuffix(table, "\nyelb-appserver: canary, replicas 2 of 4 (proportional), scaling up before the next shift\n") || strings.Count(table, "replicas") != 1 {
		t.Errorf("status table does not list the one proportional canary's replicas once:\n%s", table)
	}
	if got := Frame(sampleSnapshot(), 0); strings.Contains(strings.Join(got, "\n"), "strategy") {
		t.Errorf("a canary at full scale shows a strategy line:\n%s", strings.Join(got, "\n"))
	}
}
