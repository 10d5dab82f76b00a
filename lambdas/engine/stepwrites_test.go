package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router/appmesh"
	"github.com/eks-canary/platform/lambdas/router/gatewayapi"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// requestLog counts the API requests of one step by object: "GET route",
// "PATCH status 409".
type requestLog struct {
	mu  sync.Mutex
	got map[string]int
}

func (l *requestLog) watch(h *harness, router string) {
	route := map[string]string{"appmesh": "/virtualrouters/shop", "gatewayapi": "/httproutes/shop"}[router]
	h.faults.seen = func(req *http.Request, code int, _ []byte) {
		var what string
		switch {
		case strings.HasSuffix(req.URL.Path, route):
			what = "route"
		case strings.HasSuffix(req.URL.Path, "/configmaps/"+naming.StatusConfigMap("shop")):
			what = "status"
		default:
			return
		}
		key := req.Method + " " + what
		if code >= 300 {
			key += fmt.Sprintf(" %d", code)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.got[key]++
	}
}

// take returns the counts so far and starts again.
func (l *requestLog) take() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.got
	l.got = map[string]int{}
	return got
}

func sameCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, n := range want {
		if got[k] != n {
			return false
		}
	}
	return true
}

// patchRoute changes the live route as another writer would, with a JSON
// merge patch under its own field manager.
func patchRoute(t *testing.T, h *harness, router, patch string) {
	t.Helper()
	res := map[string]schema.GroupVersionResource{"appmesh": appmesh.VirtualRouter.Resource, "gatewayapi": gatewayapi.HTTPRoute.Resource}[router]
	_, err := h.plane.Dynamic.Resource(res).Namespace(h.ns).Patch(context.Background(), "shop", types.MergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: "someone-else"})
	if err != nil {
		t.Fatal(err)
	}
}

// shiftWritesOnlyTheRoute follows a traffic step's API writes: the
// shift writes the route alone, at the resourceVersion its last write
// left, and the check after it writes the status; a route changed or
// created in between falls back to the read and the guarded status write.
func shiftWritesOnlyTheRoute(t *testing.T) {
	execution := func(h *harness) string { return h.executionArn("shop", 2) }
	for _, tc := range []struct {
		name, router    string
		firstDeployment bool
		// before runs after the canary is ready, ahead of the shift.
		before      func(t *testing.T, h *harness, router string)
		wantShift   map[string]int
		wantErr     string // the shift's error name; the check is not run then
		wantWeights map[string]int
		wantBehind  bool
		wantPhase   string
		wantCheck   map[string]int // the first check after the shift
	}{
		{
			name: "appmesh, carried resourceVersion", router: "appmesh",
			wantShift:   map[string]int{"GET status": 1, "PATCH route": 1},
			wantWeights: map[string]int{"shop-1": 75, "shop-2": 25}, wantBehind: true, wantPhase: status.PhaseProgressing,
			wantCheck: map[string]int{"GET status": 1, "PATCH status": 1},
		},
		{
			name: "gatewayapi, carried resourceVersion", router: "gatewayapi",
			wantShift:   map[string]int{"GET status": 1, "PATCH route": 1},
			wantWeights: map[string]int{"shop-1": 75, "shop-2": 25}, wantBehind: true, wantPhase: status.PhaseProgressing,
			wantCheck: map[string]int{"GET status": 1, "PATCH status": 1},
		},
		{
			name: "route changed by someone else since", router: "gatewayapi",
			before: func(t *testing.T, h *harness, router string) {
				patchRoute(t, h, router, `{"metadata":{"annotations":{"example.com/note":"edited"}}}`)
			},
			wantShift:   map[string]int{"GET status": 1, "PATCH route 409": 1, "GET route": 1, "PATCH route": 1},
			wantWeights: map[string]int{"shop-1": 75, "shop-2": 25}, wantBehind: true, wantPhase: status.PhaseProgressing,
			wantCheck: map[string]int{"GET status": 1, "PATCH status": 1},
		},
		{
			name: "roll back has begun", router: "appmesh",
			before: func(t *testing.T, h *harness, router string) {
				patchRoute(t, h, router, fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, naming.AnnotationRollingBack, execution(h)))
			},
			wantShift:   map[string]int{"GET status": 1, "PATCH route 409": 1, "GET route": 1},
			wantErr:     statemachine.ErrEnded,
			wantWeights: map[string]int{"shop-1": 100, "shop-2": 0},
		},
		{
			name: "first deployment creates its route", router: "gatewayapi", firstDeployment: true,
			wantShift:   map[string]int{"GET status": 1, "GET route 404": 1, "PATCH route": 1, "PATCH status": 1},
			wantWeights: map[string]int{"shop-1": 100}, wantPhase: status.PhaseBaking,
			wantCheck: map[string]int{"GET status": 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			ctx := context.Background()
			var st json.RawMessage
			if tc.firstDeployment {
				st = readyToShift(t, h, tc.router, "registry.local/shop:1", h.executionArn("shop", 2))
			} else {
				st = prepareShift(t, h, tc.router)
			}
			if tc.before != nil {
				tc.before(t, h, tc.router)
			}
			before := h.status("shop").Status
			log := &requestLog{got: map[string]int{}}
			log.watch(h, tc.router)

			out, err := h.eng.Handle(ctx, engine.Event{Action: statemachine.ActionShift, Execution: execution(h), State: st})
			if got := log.take(); !sameCounts(got, tc.wantShift) {
				t.Errorf("shift requests %v, want %v", got, tc.wantShift)
			}
			if w := h.weights(tc.router, "shop"); !sameCounts(w, tc.wantWeights) {
				t.Errorf("route weights %v, want %v", w, tc.wantWeights)
			}
			if tc.wantErr != "" {
				if engine.ErrorName(err) != tc.wantErr {
					t.Fatalf("shift: %v, want error %s", err, tc.wantErr)
				}
				if after := h.status("shop").Status; after.Weight != before.Weight || after.Phase != before.Phase {
					t.Errorf("status went from %d%% %s to %d%% %s, want it unchanged", before.Weight, before.Phase, after.Weight, after.Phase)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var shifted engine.State
			if err := json.Unmarshal(out, &shifted); err != nil {
				t.Fatal(err)
			}
			r := shifted.Rollout
			if r.StatusBehind != tc.wantBehind {
				t.Errorf("status behind %v, want %v", r.StatusBehind, tc.wantBehind)
			}
			if shown := h.status("shop").Status.Weight; tc.wantBehind && shown != before.Weight {
				t.Errorf("status shows %d%% after the shift, want the %d%% before it until the check", shown, before.Weight)
			}

			out, err = h.eng.Handle(ctx, engine.Event{Action: statemachine.ActionCheck, Execution: execution(h), State: out})
			if err != nil {
				t.Fatal(err)
			}
			if got := log.take(); !sameCounts(got, tc.wantCheck) {
				t.Errorf("check requests %v, want %v", got, tc.wantCheck)
			}
			shown := h.status("shop").Status
			if shown.Weight != r.Weight || shown.Step != r.Step+1 || shown.Phase != tc.wantPhase {
				t.Errorf("status after the check: %d%% step %d %s, want %d%% step %d %s", shown.Weight, shown.Step, shown.Phase, r.Weight, r.Step+1, tc.wantPhase)
			}
			if !shown.UpdatedAt.Equal(r.StepStartedAt) {
				t.Errorf("status updated at %s, want the shift's %s", shown.UpdatedAt, r.StepStartedAt)
			}

			if _, err := h.eng.Handle(ctx, engine.Event{Action: statemachine.ActionCheck, Execution: execution(h), State: out}); err != nil {
				t.Fatal(err)
			}
			if got, want := log.take(), map[string]int{"GET status": 1}; !sameCounts(got, want) {
				t.Errorf("a check that changes nothing: requests %v, want %v", got, want)
			}
		})
	}
}

// checkStatusLosesToAnOperator: the check's status write after a shift
// is guarded by its read; an operator request in between wins, and the
// next check writes the status over it without losing the request.
func checkStatusLosesToAnOperator(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	execution := h.executionArn("shop", 2)
	st, err := h.eng.Handle(ctx, engine.Event{Action: statemachine.ActionShift, Execution: execution, State: prepareShift(t, h, "gatewayapi")})
	if err != nil {
		t.Fatal(err)
	}
	paused := false
	h.faults.before = func(req *http.Request) bool {
		if req.Method != http.MethodPatch || !strings.HasSuffix(req.URL.Path, "/configmaps/"+naming.StatusConfigMap("shop")) {
			return false
		}
		if _, err := status.NewOperator(h.plane.Clientset).Request(context.Background(), h.ns, "shop", status.ActionPause); err != nil {
			t.Errorf("pause: %v", err)
		}
		paused = true
		return true
	}
	for i, want := range []bool{true, false} {
		out, err := h.eng.Handle(ctx, engine.Event{Action: statemachine.ActionCheck, Execution: execution, State: st})
		if err != nil {
			t.Fatalf("check %d: %v", i+1, err)
		}
		var checked engine.State
		if err := json.Unmarshal(out, &checked); err != nil {
			t.Fatal(err)
		}
		if checked.Rollout.StatusBehind != want {
			t.Errorf("check %d: status behind %v, want %v", i+1, checked.Rollout.StatusBehind, want)
		}
		st = out
	}
	if !paused {
		t.Fatal("the operator's request never ran")
	}
	snap := h.status("shop")
	if snap.Status.Weight != 25 || !snap.Control.Paused {
		t.Errorf("status %d%%, paused %v; want 25%% and the operator's pause kept", snap.Status.Weight, snap.Control.Paused)
	}
}
