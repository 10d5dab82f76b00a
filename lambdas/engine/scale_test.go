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
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-canary/platform/lambdas/rollout"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// withReplicas is the router's test template with n replicas per version.
func withReplicas(t testing.TB, router string, n int) string {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/" + router + ".yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tmpl), "  replicas: 2\n") {
		t.Fatalf("testdata/%s.yml no longer has replicas: 2", router)
	}
	return base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(tmpl), "  replicas: 2\n", "  replicas: "+string(rune('0'+n))+"\n", 1)))
}

// replicaSample is the canary's and the stable version's Deployments as
// one analysis saw them.
type replicaSample struct {
	weight                      int
	canarySpec, canaryAvailable int32
	stableSpec                  int32
	scaling                     bool // the status said a scale-up was waited for
}

// sampleReplicas records, at every analysis, the canary's weight and the
// replicas of both versions. Analyses are paced a little, as readiness
// polls are, so the pods a scale-up adds have real time to start.
func (h *harness) sampleReplicas(router, svc string, canary, stable string) *[]replicaSample {
	var mu sync.Mutex
	seen := &[]replicaSample{}
	h.hook = func(state string, _ json.RawMessage) {
		if state != statemachine.StateAnalyse {
			return
		}
		time.Sleep(100 * time.Millisecond)
		s := replicaSample{weight: h.weights(router, svc)[canary]}
		deps := h.plane.Clientset.AppsV1().Deployments(h.ns)
		if d, err := deps.Get(context.Background(), canary, metav1.GetOptions{}); err == nil {
			s.canarySpec, s.canaryAvailable = *d.Spec.Replicas, d.Status.AvailableReplicas
		}
		if d, err := deps.Get(context.Background(), stable, metav1.GetOptions{}); err == nil {
			s.stableSpec = *d.Spec.Replicas
		}
		if snap, found, err := status.NewEngine(h.plane.Clientset, h.ns).Load(context.Background(), svc); err == nil && found && snap.Status.Replicas != nil {
			s.scaling = snap.Status.Replicas.Scaling
		}
		mu.Lock()
		defer mu.Unlock()
		*seen = append(*seen, s)
	}
	return seen
}

func (h *harness) replicas(name string) int32 {
	h.t.Helper()
	d, err := h.plane.Clientset.AppsV1().Deployments(h.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// stableWith deploys version 1 of svc with n replicas.
func (h *harness) stableWith(router, svc string, n int) {
	h.t.Helper()
	h.metrics.set(svc+"-1", "healthy")
	res := h.run(h.deployJSON(router, svc, "registry.local/"+svc+":1", func(d map[string]any) {
		d["config_file"] = withReplicas(h.t, router, n)
	}))
	requireStatus(h.t, res, "SUCCEEDED", "")
	if got := h.replicas(svc + "-1"); got != int32(n) {
		h.t.Fatalf("stable version has %d replicas, want %d", got, n)
	}
}

func proportional(t testing.TB, router string) func(map[string]any) {
	return func(d map[string]any) {
		d["config_file"] = withReplicas(t, router, 4)
		d["canary_scale"] = "proportional"
	}
}

// A proportional canary of a 4-replica template runs 1, 2, 3 and 4
// replicas at 25, 50, 75 and 100%: each shift waits until the new count is
// available, and the stable version keeps its 4 until it is removed.
func proportionalCanaryScalesWithWeight(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) {
			h := newHarness(t)
			h.bystander(router)
			h.stableWith(router, "shop", 4)

			h.metrics.set("shop-2", "healthy")
			seen := h.sampleReplicas(router, "shop", "shop-2", "shop-1")
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", proportional(t, router)))
			requireStatus(t, res, "SUCCEEDED", "")

			first := map[int]int32{} // weight -> the canary's replicas when traffic reached it
			var weights []int
			for _, s := range *seen {
				want := int32(rollout.CanaryReplicas(4, s.weight, 1))
				if _, ok := first[s.weight]; !ok {
					first[s.weight] = s.canarySpec
					weights = append(weights, s.weight)
				}
				if s.canaryAvailable < want {
					t.Errorf("at %d%% the canary had %d available replicas, fewer than its %d: the shift did not wait", s.weight, s.canaryAvailable, want)
				}
				if s.weight < 100 && s.stableSpec != 4 {
					t.Errorf("at %d%% the stable version was scaled to %d before promotion", s.weight, s.stableSpec)
				}
			}
			if !slices.Equal(weights, []int{25, 50, 75, 100}) {
				t.Errorf("weights at the analyses %v, want 25 50 75 100", weights)
			}
			if want := map[int]int32{25: 1, 50: 2, 75: 3, 100: 4}; !maps.Equal(first, want) {
				t.Errorf("canary replicas when traffic reached each weight %v, want %v", first, want)
			}
			if n := count(res.Entered(), statemachine.StateShift); n != 4 {
				t.Errorf("%d shifts, want 4", n)
			}
			if got := h.deployments("shop"); !slices.Equal(got, []string{"shop-2"}) {
				t.Errorf("deployments left %v, want shop-2 alone", got)
			}
			if got := h.replicas("shop-2"); got != 4 {
				t.Errorf("promoted version runs %d replicas, want the template's 4", got)
			}
			if got := h.weights(router, "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
				t.Errorf("final route %v", got)
			}
			st := h.status("shop").Status
			if r := st.Replicas; r == nil || *r != (status.Replicas{Scale: "proportional", Canary: 4, Template: 4}) {
				t.Errorf("status replicas %+v, want proportional 4 of 4", st.Replicas)
			}
		})
	}
}

// A failing proportional canary rolls back like any other: its one replica
// goes, the stable version was never scaled.
func proportionalCanaryRollsBack(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) {
			h := newHarness(t)
			h.bystander(router)
			h.stableWith(router, "shop", 4)
			h.metrics.set("shop-2", "failing")
			seen := h.sampleReplicas(router, "shop", "shop-2", "shop-1")
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", func(d map[string]any) {
				proportional(t, router)(d)
				d["analysis"].(map[string]any)["consecutive_failure_limit"] = 1
			}))
			requireStatus(t, res, "FAILED", "RolledBack")
			if len(*seen) != 1 || (*seen)[0] != (replicaSample{weight: 25, canarySpec: 1, canaryAvailable: 1, stableSpec: 4}) {
				t.Errorf("analyses saw %+v, want one at 25%% with 1 canary replica and 4 stable", *seen)
			}
			h.assertRolledBack(router, "shop", "analysis failed")
			if got := h.replicas("shop-1"); got != 4 {
				t.Errorf("stable version runs %d replicas after the roll back, want 4", got)
			}
		})
	}
}

// A scale-up that cannot complete (a pod quota leaves room for one canary
// pod) holds the canary at its weight and rolls back at progress_deadline:
// traffic never moves to a canary without the replicas for it.
func proportionalScaleThatCannotCompleteRollsBack(t *testing.T) {
	h := newHarness(t)
	h.bystander("appmesh")
	h.stableWith("appmesh", "shop", 4)
	// bystander 2 + stable 4 + one canary pod.
	_, err := h.plane.Clientset.CoreV1().ResourceQuotas(h.ns).Create(context.Background(), &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "pods"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("7")}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.metrics.set("shop-2", "healthy")
	seen := h.sampleReplicas("appmesh", "shop", "shop-2", "shop-1")
	res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", func(d map[string]any) {
		proportional(t, "appmesh")(d)
		d["progress_deadline"] = 60
	}))
	requireStatus(t, res, "FAILED", "RolledBack")
	for _, s := range *seen {
		if s.weight != 25 {
			t.Errorf("traffic reached %d%% with %d canary replicas available", s.weight, s.canaryAvailable)
		}
	}
	if n := count(res.Entered(), statemachine.StateShift); n != 1 {
		t.Errorf("%d shifts, want only the first", n)
	}
	if last := (*seen)[len(*seen)-1]; last.canarySpec != 2 || !last.scaling {
		t.Errorf("last analysis saw %+v: want the canary set to 2 replicas and the status saying it scales", last)
	}
	h.assertRolledBack("appmesh", "shop", "did not reach 2 ready replicas for 50%")
	if got := h.replicas("shop-1"); got != 4 {
		t.Errorf("stable version runs %d replicas, want 4", got)
	}
}
