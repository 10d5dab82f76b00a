package engine_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/router/appmesh"
	"github.com/eks-canary/platform/lambdas/router/gatewayapi"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// withAB adds an A/B stage on x-canary: always.
func withAB(router string, change func(map[string]any)) func(map[string]any) {
	return func(d map[string]any) {
		duration := 60
		if router == "gatewayapi" {
			duration = 90
		}
		d["ab"] = map[string]any{"headers": []any{map[string]any{"name": "x-canary", "value": "always"}}, "duration": duration}
		if change != nil {
			change(d)
		}
	}
}

// liveRoute reads the route object of svc as the API server holds it.
func (h *harness) liveRoute(router, svc string) *unstructured.Unstructured {
	h.t.Helper()
	res := appmesh.VirtualRouter.Resource
	if router == "gatewayapi" {
		res = gatewayapi.HTTPRoute.Resource
	}
	obj, err := h.plane.Dynamic.Resource(res).Namespace(h.ns).Get(context.Background(), svc, metav1.GetOptions{})
	if err != nil {
		h.t.Fatalf("read the route of %s: %v", svc, err)
	}
	return obj
}

// routeRule is one rule of a live route: its name, header conditions and
// weights, in either router's terms.
type routeRule struct {
	Name    string
	Headers []string // "name=value" (exact)
	Weights map[string]int
}

func rulesOf(t testing.TB, router string, obj *unstructured.Unstructured) []routeRule {
	t.Helper()
	field, list, backends, backendName := "routes", "httpRoute", "action", "weightedTargets"
	if router == "gatewayapi" {
		field = "rules"
	}
	items, _, err := unstructured.NestedSlice(obj.Object, "spec", field)
	if err != nil {
		t.Fatal(err)
	}
	var out []routeRule
	for _, it := range items {
		m := it.(map[string]any)
		r := routeRule{Weights: map[string]int{}}
		r.Name, _ = m["name"].(string)
		var headers, targets []any
		if router == "gatewayapi" {
			matches, _, _ := unstructured.NestedSlice(m, "matches")
			for _, mm := range matches {
				hs, _, _ := unstructured.NestedSlice(mm.(map[string]any), "headers")
				headers = append(headers, hs...)
			}
			targets, _, _ = unstructured.NestedSlice(m, "backendRefs")
		} else {
			headers, _, _ = unstructured.NestedSlice(m, list, "match", "headers")
			targets, _, _ = unstructured.NestedSlice(m, list, backends, backendName)
		}
		for _, hh := range headers {
			hm := hh.(map[string]any)
			name, _ := hm["name"].(string)
			value, _ := hm["value"].(string)
			if router == "appmesh" {
				value, _, _ = unstructured.NestedString(hm, "match", "exact")
			}
			r.Headers = append(r.Headers, name+"="+value)
		}
		for _, tt := range targets {
			tm := tt.(map[string]any)
			name, _ := tm["name"].(string)
			if router == "appmesh" {
				name, _, _ = unstructured.NestedString(tm, "virtualNodeRef", "name")
			}
			w, _, _ := unstructured.NestedInt64(tm, "weight")
			r.Weights[name] = int(w)
		}
		out = append(out, r)
	}
	return out
}

// The A/B stage sends requests with x-canary: always to the canary while
// the default rule keeps 100% on stable; once it passes, the weighted steps
// follow and the header rule goes with the first of them. A failing stage
// puts everything back on stable, with no header rule, and removes the
// canary.
func abStage(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router+"/passes", func(t *testing.T) {
			h := newHarness(t)
			h.bystander(router)
			h.stable(router, "shop")
			h.metrics.set("shop-2", "healthy")
			var (
				mu     sync.Mutex
				during []routeRule
				after  []routeRule // at the first weighted step
				stages []string
				seen   []int // plan steps at each analysis
			)
			h.hook = func(state string, payload json.RawMessage) {
				if state != statemachine.StateAnalyse {
					return
				}
				var ev struct {
					State struct {
						Rollout struct {
							Step int `json:"step"`
						} `json:"rollout"`
					} `json:"state"`
				}
				_ = json.Unmarshal(payload, &ev)
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, ev.State.Rollout.Step)
				if ev.State.Rollout.Step == 0 && during == nil {
					during = rulesOf(t, router, h.liveRoute(router, "shop"))
					stages = append(stages, h.status("shop").Status.Stage)
				}
				if ev.State.Rollout.Step == 1 && after == nil {
					after = rulesOf(t, router, h.liveRoute(router, "shop"))
					stages = append(stages, h.status("shop").Status.Stage)
				}
			}
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", withAB(router, nil)))
			requireStatus(t, res, "SUCCEEDED", "")
			h.hook = nil

			want := []routeRule{
				{Name: "canary-ab-0", Headers: []string{"x-canary=always"}, Weights: map[string]int{"shop-2": 1}},
				{Headers: nil, Weights: map[string]int{"shop-2": 0, "shop-1": 100}},
			}
			if router == "appmesh" {
				want[0].Name, want[1].Name = "canary-ab-route-to-shop", "route-to-shop"
			}
			if !sameRules(during, want) {
				t.Errorf("route during the A/B stage:\n got %+v\nwant %+v", during, want)
			}
			if !slices.Equal(stages, []string{"ab: x-canary=always → shop-2", ""}) {
				t.Errorf("status stage at the A/B stage and the first weighted step %q, want %q", stages, []string{"ab: x-canary=always → shop-2", ""})
			}
			if !slices.Contains(seen, 1) {
				t.Errorf("the weighted steps did not follow the A/B stage: analyses at steps %v", seen)
			}
			// The shift to 25% removed the header rule in the write that set the weights.
			if len(after) != 1 || len(after[0].Headers) != 0 || !maps.Equal(after[0].Weights, map[string]int{"shop-2": 25, "shop-1": 75}) {
				t.Errorf("route at the first weighted step %+v, want one rule without headers, shop-2 at 25", after)
			}
			final := rulesOf(t, router, h.liveRoute(router, "shop"))
			if len(final) != 1 || len(final[0].Headers) != 0 || !maps.Equal(final[0].Weights, map[string]int{"shop-2": 100}) {
				t.Errorf("final route %+v, want one rule without headers, shop-2 at 100", final)
			}
			st := h.status("shop").Status
			if st.Phase != status.PhaseSucceeded || st.Stage != "" || st.Steps != 5 {
				t.Errorf("final status: phase %s stage %q steps %d (want Succeeded, no stage, 5 steps: A/B, 25, 50, 75, 100)", st.Phase, st.Stage, st.Steps)
			}
			if got := h.deployments("shop"); !slices.Equal(got, []string{"shop-2"}) {
				t.Errorf("deployments after promotion: %v", got)
			}
		})
		t.Run(router+"/fails", func(t *testing.T) {
			h := newHarness(t)
			h.bystander(router)
			h.stable(router, "shop")
			h.metrics.set("shop-2", "failing")
			var headerRules int
			h.hook = func(state string, _ json.RawMessage) {
				if state == statemachine.StateAnalyse {
					for _, r := range rulesOf(t, router, h.liveRoute(router, "shop")) {
						if len(r.Headers) > 0 {
							headerRules++
						}
					}
				}
			}
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", withAB(router, func(d map[string]any) {
				d["analysis"].(map[string]any)["consecutive_failure_limit"] = 1
			})))
			requireStatus(t, res, "FAILED", "RolledBack")
			h.hook = nil
			if n := count(res.Entered(), statemachine.StateAnalyse); n != 1 || headerRules != 1 {
				t.Errorf("%d analyses seeing %d header rules, want 1 analysis during the A/B stage", n, headerRules)
			}
			if n := count(res.Entered(), statemachine.StateShift); n != 1 {
				t.Errorf("%d shifts, want 1 (into the A/B stage)", n)
			}
			h.assertRolledBack(router, "shop", "analysis failed")
			final := rulesOf(t, router, h.liveRoute(router, "shop"))
			if len(final) != 1 || len(final[0].Headers) != 0 || !maps.Equal(final[0].Weights, map[string]int{"shop-1": 100}) {
				t.Errorf("route after roll back %+v, want one rule without headers, shop-1 at 100", final)
			}
			if st := h.status("shop").Status; st.Stage != "" {
				t.Errorf("rolled-back status still shows stage %q", st.Stage)
			}
		})
	}
	t.Run("appmesh/waits for promotion", abStageWaitsForPromotion)
}

// With manual_promotion and nothing between the A/B stage and 100, the
// rollout holds at the stage once ab.duration has passed, its status phase
// WaitingPromotion and the header rule still in the route, until an
// operator promotes it straight to 100.
func abStageWaitsForPromotion(t *testing.T) {
	h := newHarness(t)
	h.bystander("appmesh")
	h.stable("appmesh", "shop")
	h.metrics.set("shop-2", "healthy")
	operator := status.NewOperator(shared.Get(t).Clientset)
	var (
		mu        sync.Mutex
		phases    []string // the status phase as each analysis begins
		held      []routeRule
		heldStage string
		requested bool
		problems  []string
	)
	h.hook = func(state string, _ json.RawMessage) {
		if state != statemachine.StateAnalyse {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		st := h.status("shop").Status
		phases = append(phases, st.Phase)
		waited := len(phases) >= 2 && phases[len(phases)-2] == status.PhaseWaiting && st.Phase == status.PhaseWaiting
		if requested || (!waited && len(phases) < 20) {
			return
		}
		held, heldStage = rulesOf(t, "appmesh", h.liveRoute("appmesh", "shop")), st.Stage
		requested = true
		if _, err := operator.Request(context.Background(), h.ns, "shop", status.ActionPromote); err != nil {
			problems = append(problems, "promote: "+err.Error())
		}
	}
	res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", withAB("appmesh", func(d map[string]any) {
		d["percentage_step"], d["manual_promotion"] = 100, true
	})))
	requireStatus(t, res, "SUCCEEDED", "")
	h.hook = nil
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "; "))
	}
	if len(phases) < 3 || phases[0] != status.PhaseProgressing || phases[len(phases)-1] != status.PhaseWaiting {
		t.Errorf("status phases at each analysis %q, want Progressing while the stage is analysed, then WaitingPromotion", phases)
	}
	want := []routeRule{
		{Name: "canary-ab-route-to-shop", Headers: []string{"x-canary=always"}, Weights: map[string]int{"shop-2": 1}},
		{Name: "route-to-shop", Weights: map[string]int{"shop-2": 0, "shop-1": 100}},
	}
	if !sameRules(held, want) || heldStage != "ab: x-canary=always → shop-2" {
		t.Errorf("while waiting: route %+v stage %q, want %+v and the A/B stage", held, heldStage, want)
	}
	if n := count(res.Entered(), statemachine.StateShift); n != 1 {
		t.Errorf("%d shifts, want 1 (into the A/B stage): the promote goes straight to 100", n)
	}
	final := rulesOf(t, "appmesh", h.liveRoute("appmesh", "shop"))
	if len(final) != 1 || len(final[0].Headers) != 0 || !maps.Equal(final[0].Weights, map[string]int{"shop-2": 100}) {
		t.Errorf("final route %+v, want one rule without headers, shop-2 at 100", final)
	}
	snap := h.status("shop")
	if snap.Status.Phase != status.PhaseSucceeded || snap.Control.Request != "" || !strings.Contains(snap.Status.Reason, "promoted") {
		t.Errorf("final status: phase %s, request %q left, reason %q", snap.Status.Phase, snap.Control.Request, snap.Status.Reason)
	}
}

func sameRules(got, want []routeRule) bool {
	return slices.EqualFunc(got, want, func(a, b routeRule) bool {
		return a.Name == b.Name && slices.Equal(a.Headers, b.Headers) && maps.Equal(a.Weights, b.Weights)
	})
}

// An A/B stage a router cannot carry is refused at Validate with the reason
// and the fix, and nothing is written.
func abStageRefused(t *testing.T) {
	cases := []struct {
		name, router string
		change       func(t testing.TB, d map[string]any)
		want         []string
	}{
		{"lattice matches exactly", "gatewayapi", func(_ testing.TB, d map[string]any) {
			d["ab"] = map[string]any{"headers": []any{
				map[string]any{"name": "x-canary", "value": "always"},
				map[string]any{"name": "x-user", "match": "regex", "value": "^beta-.*"},
			}}
		}, []string{`ab.headers[1].match: "regex" is not supported by router "gatewayapi": VPC Lattice matches headers exactly, at most five per rule; use "exact"`}},
		{"tcp route", "appmesh", func(t testing.TB, d map[string]any) {
			tmpl, err := os.ReadFile("testdata/appmesh-tcp.yml")
			if err != nil {
				t.Fatal(err)
			}
			d["config_file"] = base64.StdEncoding.EncodeToString(tmpl)
			d["ab"] = map[string]any{"headers": []any{map[string]any{"name": "x-canary", "match": "present"}}}
		}, []string{`route "route-to-shop" is a tcpRoute: TCP carries no HTTP headers`, "remove ab from deploy.json"}},
		{"app mesh header limit", "appmesh", func(_ testing.TB, d map[string]any) {
			var headers []any
			for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"} {
				headers = append(headers, map[string]any{"name": "x-" + n, "match": "prefix", "value": "1"})
			}
			d["ab"] = map[string]any{"headers": headers}
		}, []string{`ab.headers: (11 headers) are more than router "appmesh" matches`, "keep at most 10"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.bystander(tc.router)
			h.stable(tc.router, "shop")
			before := h.fingerprint("shop")
			route := h.liveRoute(tc.router, "shop").GetResourceVersion()
			input := h.deployJSON(tc.router, "shop", "registry.local/shop:2", func(d map[string]any) { tc.change(t, d) })
			res := h.run(input)
			requireStatus(t, res, "FAILED", statemachine.ErrValidation)
			// The message the execution's Validate Task failed with.
			raw, err := json.Marshal(input)
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.eng.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: h.executionArn("shop", h.seq.Add(1)), State: raw})
			if engine.ErrorName(err) != statemachine.ErrValidation {
				t.Fatalf("Validate: %v, want %s", err, statemachine.ErrValidation)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the refusal does not say %q:\n%v", w, err)
				}
			}
			if after := h.fingerprint("shop"); !maps.Equal(before, after) {
				t.Errorf("a refused rollout wrote:\nbefore %v\nafter  %v", before, after)
			}
			if got := h.liveRoute(tc.router, "shop").GetResourceVersion(); got != route {
				t.Errorf("the route was written (resourceVersion %s, was %s)", got, route)
			}
			if holder := h.lockHolder("shop"); holder != "" {
				t.Errorf("lock held by %s after a refusal", holder)
			}
		})
	}
}
