package engine_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/engine"
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

// A sped-up schedule (canary-run --speed) makes the waits pass sooner, but
// every time the status shows stays on the wall clock: nothing is stamped
// later than now, and one rollout's record ends before the next one starts.
func spedUpScheduleShowsWallClockTimes(t *testing.T) {
	const factor = 10
	h := newHarness(t)
	h.eng.Speedup = &engine.Speedup{From: h.clock.Now(), Factor: factor}
	h.stable("gatewayapi", "shop")
	h.metrics.set("shop-2", "healthy")
	began := h.clock.Now()
	d := h.deployJSON("gatewayapi", "shop", "registry.local/shop:2", nil)
	res := h.run(d)
	requireStatus(t, res, "SUCCEEDED", "")
	ended := h.clock.Now()

	// Four steps, each held for wait_time on the schedule.
	schedule := 4 * time.Duration(d["wait_time"].(int)) * time.Second
	if took := ended.Sub(began); took >= schedule/2 || took < schedule/factor {
		t.Errorf("the rollout took %s of wall time, want about %s / %d", took, schedule, factor)
	}
	snap := h.status("shop")
	st := snap.Status
	shown := map[string]time.Time{"startedAt": st.StartedAt, "updatedAt": st.UpdatedAt}
	for i, v := range st.Verdicts {
		shown[fmt.Sprintf("verdicts[%d].at", i)] = v.At
	}
	for i, p := range st.Timeline {
		shown[fmt.Sprintf("timeline[%d].at", i)] = p.At
	}
	if len(snap.History) < 2 {
		t.Fatalf("history has %d records, want both rollouts", len(snap.History))
	}
	latest, previous := snap.History[0], snap.History[1]
	shown["history[0].finishedAt"] = latest.FinishedAt
	for name, at := range shown {
		if at.After(ended) {
			t.Errorf("%s is %s, %s after the wall clock", name, at.Format(time.RFC3339), at.Sub(ended))
		}
	}
	if st.StartedAt.Before(began) {
		t.Errorf("startedAt %s is before the rollout began (%s)", st.StartedAt, began)
	}
	if latest.StartedAt.Before(previous.FinishedAt) {
		t.Errorf("version 2 started at %s, before version 1 finished (%s)", latest.StartedAt, previous.FinishedAt)
	}
}
