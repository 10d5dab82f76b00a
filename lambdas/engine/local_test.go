package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// TestLocalRunnerSequencesLikeTheStateMachine runs the in-process sequencer
// that canary-run uses: a first deployment, a promotion and a roll back.
func TestLocalRunnerSequencesLikeTheStateMachine(t *testing.T) {
	h := newHarness(t)
	// canary-run's engine: run with the operator's credentials, no pipeline.
	h.eng.PipelineExecutions = false
	waited := time.Duration(0)
	local := &engine.Local{
		Engine: h.eng,
		Sleep: func(_ context.Context, d time.Duration) error {
			waited += d
			h.clock.advance(d)
			time.Sleep(20 * time.Millisecond) // real time for the plane to start pods
			return nil
		},
	}
	run := func(image, mode string, version int) engine.Outcome {
		t.Helper()
		h.metrics.set(fmt.Sprintf("shop-%d", version), mode)
		raw, err := json.Marshal(h.deployJSON("appmesh", "shop", image, nil))
		if err != nil {
			t.Fatal(err)
		}
		out, err := local.Run(context.Background(), raw, "local:"+image)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := run("registry.local/shop:1", "healthy", 1); out.Phase != "Succeeded" {
		t.Fatalf("first deployment: %s %s", out.Phase, out.Reason)
	}
	waited = 0
	if out := run("registry.local/shop:2", "healthy", 2); out.Phase != "Succeeded" {
		t.Fatalf("healthy canary: %s %s", out.Phase, out.Reason)
	}
	// 25, 50 and 75% for wait_time 60 s each, then one 30 s analysis at 100%.
	if want := 3*time.Minute + 30*time.Second; waited < want {
		t.Errorf("the schedule took %s of waits, want at least %s", waited, want)
	}
	if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
		t.Errorf("route after promotion %v", got)
	}
	out := run("registry.local/shop:3", "failing", 3)
	if out.Phase != "RolledBack" {
		t.Fatalf("failing canary: %s %s", out.Phase, out.Reason)
	}
	if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
		t.Errorf("route after roll back %v", got)
	}

	// A lock held by someone else stops the runner before it writes anything.
	sess, err := h.eng.Connector.Connect(context.Background(), "local", h.ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Locks.Acquire(context.Background(), "shop", "someone-else"); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(h.deployJSON("appmesh", "shop", "registry.local/shop:4", nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = local.Run(context.Background(), raw, "local:4")
	if engine.ErrorName(err) != statemachine.ErrInProgress {
		t.Fatalf("runner with the lock held elsewhere: %v", err)
	}
	if got := h.deployments("shop"); len(got) != 1 || got[0] != "shop-2" {
		t.Errorf("deployments %v", got)
	}

	// The API server refusing the canary in the dry run ends the runner
	// without a roll back, as the definition's Catch does.
	if err := sess.Locks.Release(context.Background(), "shop", "someone-else"); err != nil {
		t.Fatal(err)
	}
	h.quota(corev1.ResourceList{"count/deployments.apps": resource.MustParse("1")})
	_, err = local.Run(context.Background(), raw, "local:4b")
	if engine.ErrorName(err) != statemachine.ErrValidation || !strings.Contains(err.Error(), "exceeded quota") {
		t.Fatalf("runner against a full quota: %v", err)
	}
	if got := h.deployments("shop"); len(got) != 1 || got[0] != "shop-2" {
		t.Errorf("deployments %v", got)
	}
	if st := h.status("shop").Status; st.Phase != status.PhaseInvalid {
		t.Errorf("phase %s, want Invalid", st.Phase)
	}
}
