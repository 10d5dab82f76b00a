package engine_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// operatorRequests steers running rollouts the way canaryctl does
// (through the status store's operator side) and checks that the engine
// honours each request at its next step.
func operatorRequests(t *testing.T) {
	ctx := context.Background()
	operator := status.NewOperator(shared.Get(t).Clientset)

	t.Run("pause holds the weight, resume continues", func(t *testing.T) {
		h := newHarness(t)
		h.stable("appmesh", "shop")
		h.metrics.set("shop-2", "healthy")
		analyses, heldAt := 0, -1
		var problems []string
		h.hook = func(state string, _ json.RawMessage) {
			if state != statemachine.StateAnalyse {
				return
			}
			analyses++
			weight := h.weights("appmesh", "shop")["shop-2"]
			switch {
			case analyses == 1:
				heldAt = weight
				if _, err := operator.Request(ctx, h.ns, "shop", status.ActionPause); err != nil {
					problems = append(problems, "pause: "+err.Error())
				}
			case analyses <= 8:
				if weight != heldAt {
					problems = append(problems, "the weight moved while paused")
				}
				if analyses == 8 {
					if phase := h.status("shop").Status.Phase; phase != status.PhasePaused {
						problems = append(problems, "phase while paused: "+phase)
					}
					if _, err := operator.Request(ctx, h.ns, "shop", status.ActionResume); err != nil {
						problems = append(problems, "resume: "+err.Error())
					}
				}
			}
		}
		res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
		requireStatus(t, res, "SUCCEEDED", "")
		if len(problems) > 0 {
			t.Fatal(strings.Join(problems, "; "))
		}
		if heldAt != 25 {
			t.Errorf("paused at %d%%, want 25%%", heldAt)
		}
		if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
			t.Errorf("final route %v", got)
		}
	})

	t.Run("promote skips the remaining steps", func(t *testing.T) {
		h := newHarness(t)
		h.stable("appmesh", "shop")
		h.metrics.set("shop-2", "healthy")
		h.hook = func(state string, _ json.RawMessage) {
			if state == statemachine.StateAnalyse && h.weights("appmesh", "shop")["shop-2"] == 25 {
				_, _ = operator.Request(ctx, h.ns, "shop", status.ActionPromote)
			}
		}
		res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
		requireStatus(t, res, "SUCCEEDED", "")
		if n := count(res.Entered(), statemachine.StateShift); n != 1 {
			t.Errorf("%d shifts, want 1: promote skips 50 and 75", n)
		}
		if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
			t.Errorf("final route %v", got)
		}
		snap := h.status("shop")
		if snap.Control.Request != "" || !strings.Contains(snap.Status.Reason, "promoted") {
			t.Errorf("request %q left pending or reason %q", snap.Control.Request, snap.Status.Reason)
		}
		if _, err := operator.Request(ctx, h.ns, "shop", status.ActionPromote); err == nil {
			t.Error("a promote on a finished rollout was accepted")
		}
	})

	t.Run("abort rolls back to 100% stable", func(t *testing.T) {
		h := newHarness(t)
		h.stable("appmesh", "shop")
		h.metrics.set("shop-2", "healthy")
		h.hook = func(state string, _ json.RawMessage) {
			if state == statemachine.StateAnalyse && h.weights("appmesh", "shop")["shop-2"] == 50 {
				_, _ = operator.Request(ctx, h.ns, "shop", status.ActionAbort)
			}
		}
		res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
		requireStatus(t, res, "FAILED", "RolledBack")
		h.assertRolledBack("appmesh", "shop", "aborted")
		before := h.fingerprint("shop")
		if _, err := operator.Request(ctx, h.ns, "shop", status.ActionAbort); err == nil {
			t.Error("a second abort was accepted")
		}
		if after := h.fingerprint("shop"); !maps.Equal(before, after) {
			t.Error("a refused abort changed objects")
		}
	})
}
