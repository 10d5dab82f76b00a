package main

import (
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/status"
)

// A blue-green rollout shows its stage in the live view, the one-line log
// and the status table.
func TestBlueGreenStageShown(t *testing.T) {
	snap := sampleSnapshot()
	snap.Status.Strategy = "blue-green"
	snap.Status.BlueGreen = &status.BlueGreen{Stage: status.StagePreview, Preview: "host shop-preview.shop.example.internal"}
	frame := strings.Join(Frame(snap, 0), "\n")
	if !strings.Contains(frame, "strategy  blue-green, preview: the new version has no production traffic; test it by host shop-preview.shop.example.internal") {
		t.Errorf("frame does not show the preview:\n%s", frame)
	}
	until := time.Date(2026, 11, 25, 12, 30, 0, 0, time.UTC)
	snap.Status.BlueGreen = &status.BlueGreen{Stage: status.StageOldKept, OldKeptUntil: &until}
	if got := Strategy(snap.Status); got != "blue-green, old version kept until 12:30:00 for an instant roll back" {
		t.Errorf("strategy = %q", got)
	}
	if got := Line(snap); !strings.Contains(got, " stage old-kept until 12:30:00") {
		t.Errorf("line %q does not show the stage", got)
	}
	table := StatusTable([]status.Snapshot{snap}, snap.Status.UpdatedAt, false)
	if !strings.Contains(table, "\nyelb-appserver: blue-green, old version kept until 12:30:00") {
		t.Errorf("status table does not show the stage:\n%s", table)
	}
	for stage, want := range map[string]string{status.StageSwitched: "switched: all traffic on the new version", status.StageBaking: "baking: all traffic on the new version"} {
		if got := BlueGreenStage(status.BlueGreen{Stage: stage}); !strings.HasPrefix(got, want) {
			t.Errorf("stage %s reads %q", stage, got)
		}
	}
}
