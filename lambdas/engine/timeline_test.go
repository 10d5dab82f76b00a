package engine_test

import (
	"slices"
	"testing"

	"github.com/eks-canary/platform/lambdas/status"
)

// A rollout leaves in its status the timeline a plot needs: every weight it
// shifted to, in order, the figures of each analysis, and the final phase.
func rolloutLeavesItsTimelineInTheStatus(t *testing.T) {
	h := newHarness(t)
	h.stable("gatewayapi", "shop")
	h.metrics.set("shop-2", "healthy")
	res := h.run(h.deployJSON("gatewayapi", "shop", "registry.local/shop:2", nil))
	requireStatus(t, res, "SUCCEEDED", "")

	st := h.status("shop").Status
	var weights []int
	analysed := 0
	for i, p := range st.Timeline {
		if i > 0 && p.At.Before(st.Timeline[i-1].At) {
			t.Errorf("point %d at %s is older than the one before it", i, p.At)
		}
		if len(weights) == 0 || weights[len(weights)-1] != p.Weight {
			weights = append(weights, p.Weight)
		}
		if p.Result != "" {
			analysed++
			if p.Requests == nil || p.SuccessRate == nil {
				t.Errorf("analysed point %d lacks its figures: %+v", i, p)
			}
		}
	}
	if !slices.Equal(weights, []int{0, 25, 50, 75, 100}) {
		t.Errorf("timeline weights %v, want 0 25 50 75 100", weights)
	}
	if analysed < 4 {
		t.Errorf("%d analysed points in the timeline, want one per step (4): %+v", analysed, st.Timeline)
	}
	if last := st.Timeline[len(st.Timeline)-1]; last.Phase != status.PhaseSucceeded {
		t.Errorf("last point's phase %s, want %s", last.Phase, status.PhaseSucceeded)
	}
}
