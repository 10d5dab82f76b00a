package main

import (
	"encoding/json"
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

// The dashboard's data carries a blue-green rollout's stage as the engine
// wrote it.
func TestDashboardDataCarriesTheBlueGreenStage(t *testing.T) {
	st := rollout("shop", status.PhaseBaking, 100, 100, 2)
	st.Strategy = "blue-green"
	until := time.Now().Add(5 * time.Minute).UTC().Truncate(time.Second)
	st.BlueGreen = &status.BlueGreen{Stage: status.StageOldKept, Preview: "host shop-preview.shop.example.internal", OldKeptUntil: &until}
	s := seed(t, st)
	srv, _ := testDashboard(t, s, s.ns)
	res, err := srv.Client().Get(srv.URL + "/api/rollouts")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var views []rolloutView
	if err := json.NewDecoder(res.Body).Decode(&views); err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 || views[0].Status.BlueGreen == nil {
		t.Fatalf("rollouts %+v: want shop with its blue-green stage", views)
	}
	if bg := views[0].Status.BlueGreen; bg.Stage != status.StageOldKept || bg.OldKeptUntil == nil || !bg.OldKeptUntil.Equal(until) || bg.Preview != st.BlueGreen.Preview {
		t.Errorf("dashboard data %+v, want %+v", bg, st.BlueGreen)
	}
}
