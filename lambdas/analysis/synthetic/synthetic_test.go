package synthetic

import (
	"context"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/spec"
)

func TestModesDriveTheVerdict(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := analysis.Query{Canary: "svc-2", Baseline: "svc-1", Start: start, End: start.Add(5 * time.Minute)}
	cfg := analysis.ConfigFromSpec(spec.Spec{FailureThresholdTime: 300, FailureThresholdValue: 0}.WithDefaults())
	for mode, want := range map[string]string{Healthy: analysis.ResultPass, Failing: analysis.ResultFail, NoData: analysis.ResultNoData} {
		p, err := New(mode)
		if err != nil {
			t.Fatal(err)
		}
		m, err := p.Fetch(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got := analysis.Evaluate(cfg, m).Result; got != want {
			t.Errorf("mode %s: verdict %s, want %s", mode, got, want)
		}
	}
}

func TestUnknownModeIsRefused(t *testing.T) {
	if _, err := New("flaky"); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

func TestPaceFillsASpedUpWindow(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := analysis.Query{Canary: "svc-2", Start: start, End: start.Add(30 * time.Second)}
	for _, tt := range []struct {
		pace float64
		want int
	}{{0, 1}, {1, 1}, {10, 5}} {
		p := &Provider{Mode: Healthy, RequestsPerMin: 120, Pace: tt.pace}
		m, err := p.Fetch(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(m.Canary.Requests); got != tt.want {
			t.Errorf("pace %g: %d periods in 30 s, want %d", tt.pace, got, tt.want)
		}
	}
}
