package engine_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/router/appmesh"
	"github.com/eks-canary/platform/lambdas/router/gatewayapi"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

func blueGreen(change func(map[string]any)) func(map[string]any) {
	return func(d map[string]any) {
		d["strategy"] = "blue-green"
		d["bake_time"] = 180
		d["scale_down_delay"] = 180
		if change != nil {
			change(d)
		}
	}
}

// preview reads the live preview of svc's new version: the backends of the
// preview HTTPRoute, or of the VirtualRouter's preview route; nil when there
// is none.
func (h *harness) preview(router, svc string) map[string]int {
	h.t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	switch router {
	case "gatewayapi":
		hr, err := h.plane.Dynamic.Resource(gatewayapi.HTTPRoute.Resource).Namespace(h.ns).Get(ctx, svc+gatewayapi.PreviewSuffix, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			h.t.Fatal(err)
		}
		rules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
		for _, r := range rules {
			refs, _, _ := unstructured.NestedSlice(r.(map[string]any), "backendRefs")
			for _, ref := range refs {
				m := ref.(map[string]any)
				out[m["name"].(string)] = int(m["weight"].(int64))
			}
		}
	default:
		vr, err := h.plane.Dynamic.Resource(appmesh.VirtualRouter.Resource).Namespace(h.ns).Get(ctx, svc, metav1.GetOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
		routes, _, _ := unstructured.NestedSlice(vr.Object, "spec", "routes")
		found := false
		for _, r := range routes {
			m := r.(map[string]any)
			if m["name"] != appmesh.PreviewRoute {
				continue
			}
			found = true
			targets, _, _ := unstructured.NestedSlice(m, "httpRoute", "action", "weightedTargets")
			for _, t := range targets {
				name, _, _ := unstructured.NestedString(t.(map[string]any), "virtualNodeRef", "name")
				w, _, _ := unstructured.NestedInt64(t.(map[string]any), "weight")
				out[name] = int(w)
			}
		}
		if !found {
			return nil
		}
	}
	return out
}

// bgSample is what one analysis of a blue-green rollout saw.
type bgSample struct {
	live, preview      map[string]int
	stage              string
	keptUntil          bool
	oldReady, newReady int32
	oldExists          bool
}

// routeWrites records, per Task, the writes (server-side apply patches,
// not dry runs) of svc's production route object.
type routeWrites struct {
	mu    sync.Mutex
	state string
	by    map[string]int
	total int
	// oldDeleted is what the live route sent to the old version when its
	// Deployment was deleted; nil until then.
	oldDeleted map[string]int
}

func (w *routeWrites) count(state string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.by[state]
}

func (w *routeWrites) sum() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total
}

// watchBlueGreen samples every analysis and counts route writes; onAnalyse,
// when set, runs after each sample.
func (h *harness) watchBlueGreen(router, svc string, onAnalyse func(bgSample)) (*[]bgSample, *routeWrites) {
	var mu sync.Mutex
	seen := &[]bgSample{}
	writes := &routeWrites{by: map[string]int{}}
	kind := "/virtualrouters/"
	if router == "gatewayapi" {
		kind = "/httproutes/"
	}
	h.faults.mu.Lock()
	h.faults.before = func(req *http.Request) bool {
		if req.Method == http.MethodPatch && strings.HasSuffix(req.URL.Path, kind+svc) && !strings.Contains(req.URL.RawQuery, "dryRun") {
			writes.mu.Lock()
			writes.by[writes.state]++
			writes.total++
			writes.mu.Unlock()
		}
		if req.Method == http.MethodDelete && strings.HasSuffix(req.URL.Path, "/deployments/"+svc+"-1") {
			live, err := routerSet[router].Weights(req.Context(), h.plane.Dynamic, h.ns, svc)
			got := map[string]int{}
			for _, b := range live {
				got[b.Name] = b.Weight
			}
			if err != nil {
				got["error: "+err.Error()] = 0
			}
			writes.mu.Lock()
			writes.oldDeleted = got
			writes.mu.Unlock()
		}
		return false
	}
	h.faults.mu.Unlock()
	h.hook = func(state string, _ json.RawMessage) {
		writes.mu.Lock()
		writes.state = state
		writes.mu.Unlock()
		if state != statemachine.StateAnalyse {
			return
		}
		s := bgSample{live: h.weights(router, svc), preview: h.preview(router, svc)}
		if snap, found, err := status.NewEngine(h.plane.Clientset, h.ns).Load(context.Background(), svc); err == nil && found && snap.Status.BlueGreen != nil {
			s.stage, s.keptUntil = snap.Status.BlueGreen.Stage, snap.Status.BlueGreen.OldKeptUntil != nil
		}
		deps := h.plane.Clientset.AppsV1().Deployments(h.ns)
		if d, err := deps.Get(context.Background(), svc+"-1", metav1.GetOptions{}); err == nil {
			s.oldExists, s.oldReady = true, d.Status.ReadyReplicas
		}
		if d, err := deps.Get(context.Background(), svc+"-2", metav1.GetOptions{}); err == nil {
			s.newReady = d.Status.ReadyReplicas
		}
		mu.Lock()
		*seen = append(*seen, s)
		mu.Unlock()
		if onAnalyse != nil {
			onAnalyse(s)
		}
	}
	return seen, writes
}

// A blue-green rollout: the new version is judged through its preview while
// the stable version keeps 100%, takes all traffic in one route write,
// bakes, and the old version stays running and ready for scale_down_delay;
// it goes only once the live route no longer references it, with the
// preview.
func blueGreenPreviewSwitchBakeAndKeep(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) {
			h := newHarness(t)
			h.bystander(router)
			h.stable(router, "shop")
			h.metrics.set("shop-2", "healthy")
			seen, writes := h.watchBlueGreen(router, "shop", nil)
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", blueGreen(nil)))
			requireStatus(t, res, "SUCCEEDED", "")

			stages := map[string]bool{}
			for _, s := range *seen {
				stages[s.stage] = true
				if s.newReady != 2 {
					t.Errorf("stage %s: the new version had %d ready replicas, want its template's 2 throughout", s.stage, s.newReady)
				}
				if !s.oldExists || s.oldReady != 2 {
					t.Errorf("stage %s: the old version exists %v with %d ready replicas, want 2 until the promotion", s.stage, s.oldExists, s.oldReady)
				}
				if !maps.Equal(s.preview, map[string]int{"shop-2": 100}) {
					t.Errorf("stage %s: preview %v, want shop-2 alone at 100", s.stage, s.preview)
				}
				switch s.stage {
				case status.StagePreview:
					if !maps.Equal(s.live, map[string]int{"shop-2": 0, "shop-1": 100}) {
						t.Errorf("during the preview the route was %v, want shop-1 at 100", s.live)
					}
				case status.StageSwitched, status.StageBaking, status.StageOldKept:
					if !maps.Equal(s.live, map[string]int{"shop-2": 100, "shop-1": 0}) {
						t.Errorf("stage %s: route %v, want shop-2 at 100", s.stage, s.live)
					}
					if s.stage == status.StageOldKept && !s.keptUntil {
						t.Error("stage old-kept without the time the old version goes")
					}
				default:
					t.Errorf("unknown stage %q", s.stage)
				}
			}
			for _, want := range []string{status.StagePreview, status.StageSwitched, status.StageBaking, status.StageOldKept} {
				if !stages[want] {
					t.Errorf("no analysis in stage %s; saw %v", want, stages)
				}
			}
			if n := count(res.Entered(), statemachine.StateShift); n != 2 {
				t.Errorf("%d shifts, want 2: the preview and the switch", n)
			}
			if n := writes.count(statemachine.StateShift); n != 2 {
				t.Errorf("%d route writes in the shifts, want one each: the switch is one write", n)
			}
			if n := writes.count(statemachine.StateAnalyse) + writes.count(statemachine.StateCheck); n != 0 {
				t.Errorf("%d route writes while analysing", n)
			}
			if got := h.weights(router, "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
				t.Errorf("final route %v", got)
			}
			if !maps.Equal(writes.oldDeleted, map[string]int{"shop-2": 100}) {
				t.Errorf("when the old version was deleted the live route was %v, want shop-2 alone", writes.oldDeleted)
			}
			if got := h.preview(router, "shop"); got != nil {
				t.Errorf("the preview is still there after the promotion: %v", got)
			}
			if got := h.deployments("shop"); !slices.Equal(got, []string{"shop-2"}) {
				t.Errorf("deployments left %v, want shop-2 alone", got)
			}
			st := h.status("shop").Status
			if st.Phase != status.PhaseSucceeded || st.StableVersion != 2 || st.Strategy != "blue-green" || st.BlueGreen != nil {
				t.Errorf("final status phase %s stable %d strategy %s blue-green %+v", st.Phase, st.StableVersion, st.Strategy, st.BlueGreen)
			}
		})
	}
}

// A new version that fails its preview analysis never gets production
// traffic: the stable version stays at 100%, and the new version and its
// preview are removed.
func blueGreenFailingPreviewRollsBack(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) {
			h := newHarness(t)
			h.bystander(router)
			h.stable(router, "shop")
			h.metrics.set("shop-2", "failing")
			seen, writes := h.watchBlueGreen(router, "shop", nil)
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", blueGreen(func(d map[string]any) {
				d["analysis"].(map[string]any)["consecutive_failure_limit"] = 1
			})))
			requireStatus(t, res, "FAILED", "RolledBack")
			if len(*seen) != 1 {
				t.Fatalf("%d analyses, want the one that failed", len(*seen))
			}
			if s := (*seen)[0]; s.stage != status.StagePreview || !maps.Equal(s.live, map[string]int{"shop-2": 0, "shop-1": 100}) ||
				!maps.Equal(s.preview, map[string]int{"shop-2": 100}) {
				t.Errorf("the failing analysis saw %+v, want the preview with shop-1 at 100", s)
			}
			if n := count(res.Entered(), statemachine.StateShift); n != 1 {
				t.Errorf("%d shifts, want only the one to the preview", n)
			}
			if n := writes.count(statemachine.StateRollBack); n != 1 {
				t.Errorf("%d route writes in the roll back, want 1", n)
			}
			h.assertRolledBack(router, "shop", "analysis failed 1 time(s) in a row at 0%")
			if got := h.preview(router, "shop"); got != nil {
				t.Errorf("the preview is still there after the roll back: %v", got)
			}
			if got := h.services("shop"); slices.Contains(got, "shop-2") {
				t.Errorf("the new version's Service is left: %v", got)
			}
		})
	}
}

// An abort while the old version is kept after the bake is one route write
// back to it: it never stopped running, so it serves at once; the new
// version and the preview go.
func blueGreenRollBackWhileTheOldVersionIsKept(t *testing.T) {
	ctx := context.Background()
	operator := status.NewOperator(shared.Get(t).Clientset)
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) {
			h := newHarness(t)
			h.bystander(router)
			h.stable(router, "shop")
			old, err := h.plane.Clientset.AppsV1().Deployments(h.ns).Get(ctx, "shop-1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			h.metrics.set("shop-2", "healthy")
			var writes *routeWrites
			before, keptAtAbort := -1, false
			_, writes = h.watchBlueGreen(router, "shop", func(s bgSample) {
				if s.stage == status.StageOldKept && before < 0 {
					before, keptAtAbort = writes.sum(), s.oldExists
					if _, err := operator.Request(ctx, h.ns, "shop", status.ActionAbort); err != nil {
						t.Errorf("abort: %v", err)
					}
				}
			})
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", blueGreen(nil)))
			requireStatus(t, res, "FAILED", "RolledBack")
			if before < 0 {
				t.Fatal("the rollout never reached the window where the old version is kept")
			}
			if n := writes.sum() - before; n != 1 {
				t.Errorf("%d route writes after the abort, want one back to the old version", n)
			}
			h.assertRolledBack(router, "shop", "aborted")
			after, err := h.plane.Clientset.AppsV1().Deployments(h.ns).Get(ctx, "shop-1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !keptAtAbort {
				t.Error("the old version was gone when the abort came")
			}
			if after.UID != old.UID || after.Generation != old.Generation || *after.Spec.Replicas != 2 {
				t.Errorf("the old version was recreated or changed by the roll back: uid %s→%s generation %d→%d replicas %d",
					old.UID, after.UID, old.Generation, after.Generation, *after.Spec.Replicas)
			}
			if got := h.preview(router, "shop"); got != nil {
				t.Errorf("the preview is still there after the roll back: %v", got)
			}
		})
	}
}

// The hook points apply to blue-green in the canary's order: pre_traffic
// once the new version is ready at 0%, confirm_traffic before the switch,
// confirm_promotion before the old version goes. A failing gate rolls back
// to the old version, which never stopped running; before the switch no
// production request ever reached the new version.
func blueGreenHooksGateTheSwitch(t *testing.T) {
	cases := []struct {
		point    string
		switched bool // the failing gate comes after the switch
	}{
		{spec.HookPreTraffic, false},
		{spec.HookConfirmTraffic, false},
		{spec.HookConfirmPromotion, true},
	}
	for _, c := range cases {
		for _, router := range []string{"appmesh", "gatewayapi"} {
			t.Run(c.point+"/"+router, func(t *testing.T) {
				h := newHarness(t)
				h.bystander(router)
				h.stable(router, "shop")
				old, err := h.plane.Clientset.AppsV1().Deployments(h.ns).Get(context.Background(), "shop-1", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				g := &gates{behaviour: map[string]string{}, checks: map[string]int{}}
				srv := g.serve(t)
				name := hookNames[c.point]
				g.behaviour[name] = "fail"
				hk := map[string]any{"name": name, "point": c.point, "kind": spec.HookHTTP, "url": srv.URL + "/" + name, "timeout": 5}
				if spec.IsConfirmPoint(c.point) {
					hk["hold"] = 60
				}
				h.metrics.set("shop-2", "healthy")
				seen, writes := h.watchBlueGreen(router, "shop", nil)
				res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", blueGreen(func(d map[string]any) {
					d["hooks"] = []map[string]any{hk}
				})))
				requireStatus(t, res, "FAILED", "RolledBack")
				if g.count(name) == 0 {
					t.Fatalf("the %s hook was never asked", c.point)
				}
				for _, s := range *seen {
					if !c.switched && s.live["shop-2"] != 0 {
						t.Errorf("stage %s: production route %v before the %s gate passed", s.stage, s.live, c.point)
					}
					if !s.oldExists {
						t.Errorf("stage %s: the old version was gone before the %s gate passed", s.stage, c.point)
					}
				}
				shifts := count(res.Entered(), statemachine.StateShift)
				switch {
				case c.point == spec.HookPreTraffic && shifts != 0:
					t.Errorf("%d shifts, want none: pre_traffic runs before the preview analysis", shifts)
				case c.point == spec.HookConfirmTraffic && shifts != 1:
					t.Errorf("%d shifts, want the preview's only: confirm_traffic gates the switch", shifts)
				case c.switched && shifts != 2:
					t.Errorf("%d shifts, want the preview and the switch", shifts)
				}
				if n := writes.count(statemachine.StateRollBack); n != 1 {
					t.Errorf("%d route writes in the roll back, want 1", n)
				}
				h.assertRolledBack(router, "shop", c.point+" hook "+name)
				after, err := h.plane.Clientset.AppsV1().Deployments(h.ns).Get(context.Background(), "shop-1", metav1.GetOptions{})
				if err != nil || after.UID != old.UID || after.Generation != old.Generation {
					t.Errorf("the old version was recreated or changed: %v", err)
				}
				if got := h.preview(router, "shop"); got != nil {
					t.Errorf("the preview is still there after the roll back: %v", got)
				}
			})
		}
	}
}
