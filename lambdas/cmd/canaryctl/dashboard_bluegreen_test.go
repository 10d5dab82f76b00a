package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/status"
)

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
