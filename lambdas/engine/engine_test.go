package engine_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/eks-canary/platform/internal/asl"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

func requireStatus(t testing.TB, res asl.Result, status, errName string) {
	t.Helper()
	if res.Status != status || (errName != "" && res.Error != errName) {
		t.Fatalf("execution ended %s %q (%s), want %s %q; states %q", res.Status, res.Error, res.Cause, status, errName, res.Entered())
	}
}

func count(states []string, name string) int {
	n := 0
	for _, s := range states {
		if s == name {
			n++
		}
	}
	return n
}

// stable deploys version 1 of svc, which goes straight to 100%.
func (h *harness) stable(router, svc string) {
	h.t.Helper()
	h.metrics.set(svc+"-1", "healthy")
	res := h.run(h.deployJSON(router, svc, "registry.local/"+svc+":1", nil))
	requireStatus(h.t, res, "SUCCEEDED", "")
	if got := h.weights(router, svc); !maps.Equal(got, map[string]int{svc + "-1": 100}) {
		h.t.Fatalf("after the first deployment the route is %v", got)
	}
}

// bystander deploys another microservice in the namespace and checks, when
// the test ends, that nothing of it changed.
func (h *harness) bystander(router string) {
	h.t.Helper()
	h.stable(router, "bystander")
	before := h.fingerprint("bystander")
	h.t.Cleanup(func() {
		if after := h.fingerprint("bystander"); !maps.Equal(before, after) {
			h.t.Errorf("another microservice changed:\nbefore %v\nafter  %v", before, after)
		}
	})
}

// canaryWeights records the canary's live weight at every analysis.
func (h *harness) canaryWeights(router, svc, canary string) *[]int {
	var mu sync.Mutex
	seen := &[]int{}
	h.hook = func(state string, _ json.RawMessage) {
		if state != statemachine.StateAnalyse {
			return
		}
		w := h.weights(router, svc)[canary]
		mu.Lock()
		defer mu.Unlock()
		if n := len(*seen); n == 0 || (*seen)[n-1] != w {
			*seen = append(*seen, w)
		}
	}
	return seen
}

func canaryIsPromotedStepByStep(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) {
			h := newHarness(t)
			h.bystander(router)
			h.stable(router, "shop")

			h.metrics.set("shop-2", "healthy")
			seen := h.canaryWeights(router, "shop", "shop-2")
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", nil))
			requireStatus(t, res, "SUCCEEDED", "")

			if !slices.Equal(*seen, []int{25, 50, 75, 100}) {
				t.Errorf("canary weights at the analyses: %v, want 25 50 75 100", *seen)
			}
			if got := h.weights(router, "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
				t.Errorf("final route %v, want shop-2 alone at 100", got)
			}
			if got := h.deployments("shop"); !slices.Equal(got, []string{"shop-2"}) {
				t.Errorf("deployments left: %v, want only shop-2", got)
			}
			for _, s := range h.services("shop") {
				if s == "shop-1" {
					t.Errorf("the old version's Service is still there")
				}
			}
			snap := h.status("shop")
			if st := snap.Status; st.Phase != status.PhaseSucceeded || st.StableVersion != 2 || st.StableImage != "registry.local/shop:2" || st.Weight != 100 {
				t.Errorf("status %+v", st)
			}
			if len(snap.History) != 2 || snap.History[0].CanaryVersion != 2 || snap.History[0].Phase != status.PhaseSucceeded {
				t.Errorf("history %+v", snap.History)
			}
			if holder := h.lockHolder("shop"); holder != "" {
				t.Errorf("lock still held by %s", holder)
			}
			if n := len(h.notices.got); n != 3 || h.notices.got[n-1].Outcome != status.PhaseSucceeded {
				t.Errorf("notices %+v", h.notices.got)
			}
		})
	}
}

func failingCanaryRollsBackWithinOneInterval(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) {
			h := newHarness(t)
			h.bystander(router)
			h.stable(router, "shop")
			h.metrics.set("shop-2", "failing")
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", func(d map[string]any) {
				d["analysis"].(map[string]any)["consecutive_failure_limit"] = 1
			}))
			requireStatus(t, res, "FAILED", "RolledBack")
			if n := count(res.Entered(), statemachine.StateAnalyse); n != 1 {
				t.Errorf("%d analyses before rolling back, want 1", n)
			}
			h.assertRolledBack(router, "shop", "analysis failed")
			if v := h.status("shop").Status.Verdicts; len(v) == 0 || v[0].Result != "fail" {
				t.Errorf("the verdict behind the roll back is not in the status: %+v", v)
			}
		})
	}
}

func (h *harness) assertRolledBack(router, svc, reason string) {
	h.t.Helper()
	if got := h.weights(router, svc); !maps.Equal(got, map[string]int{svc + "-1": 100}) {
		h.t.Errorf("route after roll back %v, want %s-1 alone at 100", got, svc)
	}
	if got := h.deployments(svc); !slices.Equal(got, []string{svc + "-1"}) {
		h.t.Errorf("deployments after roll back: %v", got)
	}
	st := h.status(svc).Status
	if st.Phase != status.PhaseRolledBack || st.StableVersion != 1 || st.Weight != 0 || !strings.Contains(st.Reason, reason) {
		h.t.Errorf("status after roll back: phase %s stable %d weight %d reason %q (want it to mention %q)", st.Phase, st.StableVersion, st.Weight, st.Reason, reason)
	}
	if holder := h.lockHolder(svc); holder != "" {
		h.t.Errorf("lock still held by %s", holder)
	}
	if st.Steps == 0 {
		h.t.Errorf("the rolled-back status lost its plan: %+v", st)
	}
}

func noDataPolicy(t *testing.T) {
	t.Run("fail rolls back", func(t *testing.T) {
		h := newHarness(t)
		h.bystander("appmesh")
		h.stable("appmesh", "shop")
		h.metrics.set("shop-2", "nodata")
		res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", func(d map[string]any) {
			d["analysis"] = map[string]any{"interval": 30, "no_data": "fail", "consecutive_failure_limit": 2}
		}))
		requireStatus(t, res, "FAILED", "RolledBack")
		if n := count(res.Entered(), statemachine.StateAnalyse); n != 2 {
			t.Errorf("%d analyses, want 2 (the consecutive failure limit)", n)
		}
		h.assertRolledBack("appmesh", "shop", "no data")
	})
	t.Run("hold gives up at the progress deadline", func(t *testing.T) {
		h := newHarness(t)
		h.bystander("appmesh")
		h.stable("appmesh", "shop")
		h.metrics.set("shop-2", "nodata")
		res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", func(d map[string]any) {
			d["analysis"] = map[string]any{"interval": 30, "no_data": "hold"}
			d["progress_deadline"] = 300
		}))
		requireStatus(t, res, "FAILED", "RolledBack")
		if n := count(res.Entered(), statemachine.StateAnalyse); n < 10 {
			t.Errorf("only %d analyses: hold should wait 300 s at 30 s intervals", n)
		}
		h.assertRolledBack("appmesh", "shop", "progress_deadline")
	})
}

func canaryThatNeverBecomesReadyRollsBack(t *testing.T) {
	h := newHarness(t)
	h.bystander("appmesh")
	h.stable("appmesh", "shop")
	tmpl, err := os.ReadFile("testdata/appmesh.yml")
	if err != nil {
		t.Fatal(err)
	}
	// No node matches: the pods stay Pending and the Deployment's progress
	// deadline passes.
	broken := strings.Replace(string(tmpl), "      containers:", "      nodeSelector: {pool: none}\n      containers:", 1)
	res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", func(d map[string]any) {
		d["config_file"] = base64.StdEncoding.EncodeToString([]byte(broken))
		d["progress_deadline"] = 60
	}))
	requireStatus(t, res, "FAILED", "RolledBack")
	if n := count(res.Entered(), statemachine.StateShift); n != 0 {
		t.Errorf("traffic shifted %d times to a canary that was never ready", n)
	}
	// The engine's clock or, on a loaded machine, the Deployment
	// controller's own deadline may pass first; both say why.
	h.assertRolledBack("appmesh", "shop", "CanaryNotReady: shop version 2")
}

func apiServerErrors(t *testing.T) {
	t.Run("transient errors mid-shift are retried", func(t *testing.T) {
		h := newHarness(t)
		h.bystander("appmesh")
		h.stable("appmesh", "shop")
		h.metrics.set("shop-2", "healthy")
		h.faults.add("PATCH", "/virtualrouters/shop", 503, 2)
		res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
		requireStatus(t, res, "SUCCEEDED", "")
		retried := 0
		for _, e := range res.Events {
			if e.Event == "StateRetried" {
				retried++
			}
		}
		if retried != 2 {
			t.Errorf("%d retries, want 2", retried)
		}
		if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
			t.Errorf("final route %v", got)
		}
	})
	t.Run("a permanent error mid-shift rolls back", func(t *testing.T) {
		h := newHarness(t)
		h.bystander("appmesh")
		h.stable("appmesh", "shop")
		h.metrics.set("shop-2", "healthy")
		shifts := 0
		h.hook = func(state string, _ json.RawMessage) {
			if state == statemachine.StateShift {
				shifts++
				if shifts == 2 {
					h.faults.add("PATCH", "/virtualrouters/shop", 403, 1)
				}
			}
		}
		res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
		requireStatus(t, res, "FAILED", "RolledBack")
		h.assertRolledBack("appmesh", "shop", "shift shop to 50%")
	})
}

func abortedExecutionIsRolledBack(t *testing.T) {
	h := newHarness(t)
	h.bystander("appmesh")
	h.stable("appmesh", "shop")
	h.metrics.set("shop-2", "healthy")
	reached, release := make(chan struct{}), make(chan struct{})
	var inflight sync.WaitGroup
	analyses := 0
	h.hook = func(state string, _ json.RawMessage) {
		if state == statemachine.StateAnalyse {
			if analyses++; analyses == 3 {
				inflight.Add(1)
				close(reached)
				<-release
				inflight.Done()
			}
		}
	}
	input := h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil)
	x, id := h.start(input)
	h.reach(reached, x, "the first analysis")
	if w := h.weights("appmesh", "shop")["shop-2"]; w == 0 {
		t.Fatalf("the canary has no traffic when the execution is stopped")
	}
	if err := x.Abort(); err != nil {
		t.Fatal(err)
	}
	close(release)
	requireStatus(t, x.Wait(), "ABORTED", "")
	inflight.Wait()

	// The EventBridge rule delivers the execution's input to the rollback entry point.
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ev := engine.ExecutionEnded{ExecutionArn: id, Status: "ABORTED", Input: string(raw)}
	if err := h.eng.RollBackEnded(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	h.assertRolledBack("appmesh", "shop", "ABORTED")
	// Delivered twice, it changes nothing.
	before := h.fingerprint("shop")
	if err := h.eng.RollBackEnded(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if after := h.fingerprint("shop"); !maps.Equal(before, after) {
		t.Errorf("a second roll back changed objects:\n%v\n%v", before, after)
	}
}

func concurrentRolloutsNeverInterleave(t *testing.T) {
	h := newHarness(t)
	h.bystander("appmesh")
	h.stable("appmesh", "shop")
	h.metrics.set("shop-2", "healthy")
	h.metrics.set("shop-3", "healthy")
	firstAnalysis, secondDone := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.hook = func(state string, _ json.RawMessage) {
		if state == statemachine.StateAnalyse {
			once.Do(func() {
				close(firstAnalysis)
				<-secondDone
			})
		}
	}
	a, _ := h.start(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
	h.reach(firstAnalysis, a, "its first analysis")
	b, _ := h.start(h.deployJSON("appmesh", "shop", "registry.local/shop:3", nil))
	resB := b.Wait()
	close(secondDone)
	requireStatus(t, resB, "FAILED", statemachine.ErrInProgress)
	if !slices.Equal(resB.Entered(), []string{statemachine.StateValidate, statemachine.StateLock, statemachine.StateInProgress}) {
		t.Errorf("second execution went through %q", resB.Entered())
	}
	requireStatus(t, a.Wait(), "SUCCEEDED", "")
	if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
		t.Errorf("final route %v", got)
	}
	if got := h.deployments("shop"); !slices.Equal(got, []string{"shop-2"}) {
		t.Errorf("deployments %v: the second rollout must not have deployed anything", got)
	}
	if hist := h.status("shop").History; len(hist) != 2 {
		t.Errorf("history %+v", hist)
	}
}

func invalidInputChangesNothing(t *testing.T) {
	h := newHarness(t)
	cases := map[string]func(map[string]any){
		"bad field": func(d map[string]any) { d["percentage_step"] = 0 },
		"canary workload not named after its version": func(d map[string]any) {
			tmpl, err := os.ReadFile("testdata/appmesh.yml")
			if err != nil {
				t.Fatal(err)
			}
			shared := strings.Replace(string(tmpl), "kind: Deployment\nmetadata:\n  name: ${MICROSERVICE_NAME}-${CANARY_VERSION}", "kind: Deployment\nmetadata:\n  name: ${MICROSERVICE_NAME}", 1)
			if shared == string(tmpl) {
				t.Fatal("test template changed: the Deployment name was not found")
			}
			d["config_file"] = base64.StdEncoding.EncodeToString([]byte(shared))
		},
		"prometheus without an endpoint": func(d map[string]any) {
			d["analysis"] = map[string]any{"interval": 30, "provider": contract.ProviderPrometheus}
		},
		"template in another namespace": func(d map[string]any) {
			d["config_file"] = base64.StdEncoding.EncodeToString([]byte(
				"apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: kube-system}\nspec: {ports: [{port: 80}]}\n"))
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:1", change))
			requireStatus(t, res, "FAILED", statemachine.ErrValidation)
			cms, err := h.plane.Clientset.CoreV1().ConfigMaps(h.ns).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, cm := range cms.Items {
				if cm.Name != "kube-root-ca.crt" {
					t.Errorf("ConfigMap %s was written", cm.Name)
				}
			}
			if got := h.deployments("shop"); len(got) != 0 {
				t.Errorf("deployments written: %v", got)
			}
		})
	}
}

func inPlaceReplacesTheStatefulSet(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) { inPlace(t, router) })
	}
}

func inPlace(t *testing.T, router string) {
	h := newHarness(t)
	// The datastore's volume: a pre-provisioned PersistentVolume the claim binds to.
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: h.ns + "-data"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + h.ns}},
			ClaimRef:               &corev1.ObjectReference{Namespace: h.ns, Name: "data-db-0"},
		},
	}
	if _, err := h.plane.Clientset.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.plane.Clientset.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
	})
	inPlace := func(image string) map[string]any {
		tmpl, err := os.ReadFile("testdata/inplace.yml")
		if err != nil {
			t.Fatal(err)
		}
		return h.deployJSON(router, "db", image, func(d map[string]any) {
			d["config_file"] = base64.StdEncoding.EncodeToString(tmpl)
			d["strategy"] = "in-place"
		})
	}
	image := func() string {
		s, err := h.plane.Clientset.AppsV1().StatefulSets(h.ns).Get(context.Background(), "db", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Spec.Template.Spec.Containers[0].Image
	}
	h.metrics.set("db-1", "healthy")
	requireStatus(t, h.run(inPlace("registry.local/db:1")), "SUCCEEDED", "")
	h.metrics.set("db-2", "healthy")
	res := h.run(inPlace("registry.local/db:2"))
	requireStatus(t, res, "SUCCEEDED", "")
	if n := count(res.Entered(), statemachine.StateShift); n != 1 {
		t.Errorf("%d shifts for an in-place rollout, want 1", n)
	}
	if got := image(); got != "registry.local/db:2" {
		t.Errorf("image after the in-place rollout: %s", got)
	}
	h.metrics.set("db-3", "failing")
	requireStatus(t, h.run(inPlace("registry.local/db:3")), "FAILED", "RolledBack")
	if got := image(); got != "registry.local/db:2" {
		t.Errorf("image after rolling back: %s, want the stable registry.local/db:2", got)
	}
	// A version whose pod never becomes ready: after the roll back the
	// datastore must run the stable version again, not stay down.
	tmpl, err := os.ReadFile("testdata/inplace.yml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(tmpl), "      containers:", "      nodeSelector: {pool: none}\n      containers:", 1)
	stuck := inPlace("registry.local/db:4")
	stuck["config_file"] = base64.StdEncoding.EncodeToString([]byte(broken))
	stuck["progress_deadline"] = 60
	requireStatus(t, h.run(stuck), "FAILED", "RolledBack")
	if got := image(); got != "registry.local/db:2" {
		t.Errorf("image after rolling back a stuck version: %s", got)
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := h.plane.Clientset.CoreV1().Pods(h.ns).Get(ctx, "db-0", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		sts, err := h.plane.Clientset.AppsV1().StatefulSets(h.ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		// Scheduled and running on the stable revision: no longer stuck.
		// (Readiness of a re-created pod is up to the fake kubelet.)
		return p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning &&
			p.Labels[appsv1.StatefulSetRevisionLabel] == sts.Status.UpdateRevision &&
			p.Spec.Containers[0].Image == "registry.local/db:2", nil
	}); err != nil {
		pods, _ := h.plane.Clientset.CoreV1().Pods(h.ns).List(context.Background(), metav1.ListOptions{})
		sts, _ := h.plane.Clientset.AppsV1().StatefulSets(h.ns).Get(context.Background(), "db", metav1.GetOptions{})
		for _, p := range pods.Items {
			t.Logf("pod %s rev %s image %s phase %s deleting %v", p.Name, p.Labels["controller-revision-hash"], p.Spec.Containers[0].Image, p.Status.Phase, p.DeletionTimestamp)
		}
		t.Logf("sts status %+v", sts.Status)
		t.Errorf("the datastore's pod is not back on the stable version: %v", err)
	}
	sets, err := h.plane.Clientset.AppsV1().StatefulSets(h.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sets.Items) != 1 {
		t.Errorf("%d StatefulSets: an in-place rollout must never create a second datastore", len(sets.Items))
	}
}

// rollBackDuringAShiftWins stops an execution while its shift is on the
// wire: the rollback entry point finishes first, then the shift's route
// write lands. The shift must notice and put the stable route back.
// rollBackDuringAShiftWins reproduces the race between a roll back from
// outside and a shift in flight: the shift's route write leaves the engine,
// the whole roll back runs (canary deleted), then the write reaches the API
// server. The roll back's fence refuses it, so no route the API server
// accepts after the roll back sends traffic to the deleted canary.
func rollBackDuringAShiftWins(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) { rollBackDuringAShift(t, router) })
	}
}

func rollBackDuringAShift(t *testing.T, router string) {
	h := newHarness(t)
	h.bystander(router)
	h.stable(router, "shop")
	h.metrics.set("shop-2", "healthy")
	input := h.deployJSON(router, "shop", "registry.local/shop:2", nil)
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	route := map[string]string{"appmesh": "/virtualrouters/shop", "gatewayapi": "/httproutes/shop"}[router]
	isRouteWrite := func(req *http.Request) bool {
		return req.Method == "PATCH" && strings.HasSuffix(req.URL.Path, route) && req.URL.Query().Get("dryRun") == ""
	}
	ids := make(chan string, 1)
	writes := 0
	var mu sync.Mutex
	rolledBack, refused := false, 0
	var afterRollBack []string // route writes the API server accepted once the roll back had ended
	h.faults.before = func(req *http.Request) bool {
		if !isRouteWrite(req) {
			return false
		}
		if writes++; writes != 2 { // the route at 0%, then the first step
			return false
		}
		id := <-ids
		// Runs inside the shift's request, before it reaches the API server.
		done := make(chan error, 1)
		go func() {
			done <- h.eng.RollBackEnded(context.Background(), engine.ExecutionEnded{ExecutionArn: id, Status: "ABORTED", Input: string(raw)})
		}()
		if err := <-done; err != nil {
			t.Errorf("roll back: %v", err)
		}
		mu.Lock()
		rolledBack = true
		mu.Unlock()
		return true
	}
	h.faults.seen = func(req *http.Request, code int, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		if !rolledBack || !isRouteWrite(req) {
			return
		}
		switch {
		case code == http.StatusConflict:
			refused++
		case code < 300:
			afterRollBack = append(afterRollBack, string(body))
		}
	}
	x, id := h.start(input)
	ids <- id
	res := x.Wait()
	requireStatus(t, res, "FAILED", statemachine.ErrEnded)
	h.assertRolledBack(router, "shop", "ABORTED")
	mu.Lock()
	defer mu.Unlock()
	if refused == 0 {
		t.Error("the shift's route write never reached the API server after the roll back: the race was not reproduced")
	}
	for _, b := range afterRollBack {
		if strings.Contains(b, `"name":"shop-2"`) {
			t.Errorf("after the roll back deleted shop-2, the API server accepted a route that sends traffic to it: %s", b)
		}
	}
}

func lostStatusIsNotAFirstDeployment(t *testing.T) {
	h := newHarness(t)
	h.stable("appmesh", "shop")
	err := h.plane.Clientset.CoreV1().ConfigMaps(h.ns).Delete(context.Background(), "shop-rollout", metav1.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.metrics.set("shop-1", "healthy")
	res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
	requireStatus(t, res, "FAILED", statemachine.ErrRefused)
	if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-1": 100}) {
		t.Errorf("route %v: a refused start must not move traffic", got)
	}
	if got := h.deployments("shop"); !slices.Equal(got, []string{"shop-1"}) {
		t.Errorf("deployments %v", got)
	}
	if holder := h.lockHolder("shop"); holder != "" {
		t.Errorf("lock still held by %s", holder)
	}
}
