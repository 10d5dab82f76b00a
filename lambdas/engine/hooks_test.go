package engine_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/hooks"
	"github.com/eks-canary/platform/lambdas/hooks/job"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

const (
	hookFunctionArn = "arn:aws:lambda:us-west-2:123456789012:function:canary-hook-gates"
	hookFunctions   = "arn:aws:lambda:us-west-2:123456789012:function:canary-hook-*"
)

// hookJobDocument is the template's hook Job. spec.managedBy keeps the
// control plane's Job controller away from it (no kubelet runs pods here):
// the test plays the controller and writes its status.
const hookJobDocument = `
---
apiVersion: batch/v1
kind: Job
metadata:
  name: ${MICROSERVICE_NAME}-smoke
  namespace: ${KUBERNETES_NAMESPACE}
spec:
  managedBy: canary.test/hook-runner
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: smoke
          image: registry.local/smoke:1
          args: ["http://${MICROSERVICE_NAME}-${CANARY_VERSION}:8080/"]
`

// gates answers every hook of a test by its name: "pass", "fail",
// "error" (the Lambda function fails), "hold" (fails twice, then passes)
// or "hang" (a Job that never finishes).
type gates struct {
	mu        sync.Mutex
	behaviour map[string]string
	checks    map[string]int
	payloads  []hooks.Payload
}

func (g *gates) answer(p hooks.Payload) (bool, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checks[p.Hook]++
	g.payloads = append(g.payloads, p)
	switch g.behaviour[p.Hook] {
	case "pass":
		return true, "all good from " + p.Hook
	case "hold":
		if g.checks[p.Hook] > 2 {
			return true, "finally good from " + p.Hook
		}
		return false, fmt.Sprintf("not yet from %s (check %d)", p.Hook, g.checks[p.Hook])
	default:
		return false, "boom from " + p.Hook
	}
}

func (g *gates) count(name string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.checks[name]
}

// serve answers HTTP hooks: 2xx passes, 500 fails.
func (g *gates) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p hooks.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.URL.Path != "/"+p.Hook {
			http.Error(w, "unexpected request "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		ok, msg := g.answer(p)
		if !ok {
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(msg))
	}))
	t.Cleanup(srv.Close)
	srv.URL = strings.Replace(srv.URL, "127.0.0.1", gatesHost, 1) // Validate refuses loopback; webhookClient dials it
	return srv
}

// function answers Lambda hooks as the function would.
func (g *gates) function(payload json.RawMessage) (json.RawMessage, error) {
	var p hooks.Payload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	if g.behaviour[p.Hook] == "error" {
		g.answer(p)
		return nil, errors.New("the function crashed in " + p.Hook)
	}
	ok, msg := g.answer(p)
	return json.Marshal(map[string]any{"ok": ok, "message": msg})
}

// runJobs plays the Job controller: before every "Run hooks" step it
// finishes the hook Jobs it finds, by their hook's behaviour, through the
// status subresource.
func (g *gates) runJobs(h *harness) func(state string, payload json.RawMessage) {
	return func(state string, _ json.RawMessage) {
		if state != statemachine.StateRunHooks {
			return
		}
		ctx := context.Background()
		jobs := h.plane.Clientset.BatchV1().Jobs(h.ns)
		list, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: job.LabelHook})
		if err != nil {
			h.t.Errorf("list hook Jobs: %v", err)
			return
		}
		for _, j := range list.Items {
			if len(j.Status.Conditions) > 0 {
				continue
			}
			name := j.Labels[job.LabelHook]
			if img := j.Spec.Template.Spec.Containers[0].Image; img != "registry.local/smoke:1" || j.Spec.ActiveDeadlineSeconds == nil {
				h.t.Errorf("Job %s was not rendered from the template: image %s, activeDeadlineSeconds %v", j.Name, img, j.Spec.ActiveDeadlineSeconds)
			}
			g.mu.Lock()
			g.checks[name]++
			pass, hang := g.behaviour[name] == "pass", g.behaviour[name] == "hang"
			g.mu.Unlock()
			if hang {
				continue
			}
			now := metav1.Now()
			j.Status.StartTime = &now
			if pass {
				j.Status.Succeeded = 1
				j.Status.CompletionTime = &now
				j.Status.Conditions = []batchv1.JobCondition{
					{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "CompletionsReached"},
					{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "CompletionsReached"},
				}
			} else {
				j.Status.Failed = 1
				j.Status.Conditions = []batchv1.JobCondition{
					{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded", Message: "boom from " + name},
					{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded", Message: "boom from " + name},
				}
			}
			if _, err := jobs.UpdateStatus(ctx, &j, metav1.UpdateOptions{}); err != nil {
				h.t.Errorf("finish Job %s: %v", j.Name, err)
			}
		}
	}
}

var hookNames = map[string]string{
	spec.HookPreRollout: "pre-rollout", spec.HookPreTraffic: "pre-traffic", spec.HookConfirmTraffic: "confirm-traffic",
	spec.HookConfirmPromotion: "confirm-promotion", spec.HookPostRollout: "post-rollout", spec.HookOnRollback: "on-rollback",
}

// rolloutHooks runs every hook kind passing and failing at every point,
// on both routers, through the real definition on the real API server.
func rolloutHooks(t *testing.T) {
	all := func(b string) map[string]string {
		out := map[string]string{}
		for _, p := range spec.HookPoints() {
			out[p] = b
		}
		return out
	}
	with := func(base map[string]string, point, b string) map[string]string {
		out := maps.Clone(base)
		out[point] = b
		return out
	}
	type hookCase struct {
		name   string
		kind   string
		points map[string]string // point -> behaviour
		// promoted, or rolled back with a reason containing want.
		promoted bool
		want     string
		// ran and passed: the results the final status must show.
		ran    map[string]bool
		notRun []string
	}
	var cases []hookCase
	for _, kind := range []string{spec.HookHTTP, spec.HookLambda, spec.HookJob} {
		fail := "fail"
		if kind == spec.HookLambda {
			fail = "error" // and "fail" below: both ways a function fails
		}
		cases = append(cases,
			hookCase{name: "every gate passes", kind: kind, points: all("pass"), promoted: true,
				ran:    map[string]bool{spec.HookPreRollout: true, spec.HookPreTraffic: true, spec.HookConfirmTraffic: true, spec.HookConfirmPromotion: true, spec.HookPostRollout: true},
				notRun: []string{spec.HookOnRollback}},
			hookCase{name: "pre_rollout fails", kind: kind, points: with(all("pass"), spec.HookPreRollout, fail),
				want: "pre_rollout hook pre-rollout (" + kind + ") failed", ran: map[string]bool{spec.HookPreRollout: false},
				notRun: []string{spec.HookPreTraffic, spec.HookOnRollback}},
			hookCase{name: "pre_traffic fails", kind: kind, points: with(all("pass"), spec.HookPreTraffic, "fail"),
				want: "pre_traffic hook pre-traffic (" + kind + ") failed", ran: map[string]bool{spec.HookPreRollout: true, spec.HookPreTraffic: false, spec.HookOnRollback: true},
				notRun: []string{spec.HookConfirmTraffic}},
			hookCase{name: "confirm_traffic fails until its hold expires, on_rollback fails too", kind: kind,
				points: with(with(all("pass"), spec.HookConfirmTraffic, "fail"), spec.HookOnRollback, fail),
				want:   "confirm_traffic hook confirm-traffic (" + kind + ") failed", ran: map[string]bool{spec.HookConfirmTraffic: false, spec.HookOnRollback: false},
				notRun: []string{spec.HookConfirmPromotion}},
			hookCase{name: "confirm_promotion fails until its hold expires", kind: kind, points: with(all("pass"), spec.HookConfirmPromotion, fail),
				want: "confirm_promotion hook confirm-promotion (" + kind + ") failed", ran: map[string]bool{spec.HookConfirmTraffic: true, spec.HookConfirmPromotion: false, spec.HookOnRollback: true},
				notRun: []string{spec.HookPostRollout}},
			hookCase{name: "post_rollout fails and the promotion stands", kind: kind, points: with(all("pass"), spec.HookPostRollout, "fail"), promoted: true,
				ran: map[string]bool{spec.HookConfirmPromotion: true, spec.HookPostRollout: false}, notRun: []string{spec.HookOnRollback}},
		)
	}
	cases = append(cases,
		hookCase{name: "confirm gates hold, then pass", kind: spec.HookHTTP,
			points:   map[string]string{spec.HookConfirmTraffic: "hold", spec.HookConfirmPromotion: "pass"},
			promoted: true, ran: map[string]bool{spec.HookConfirmTraffic: true, spec.HookConfirmPromotion: true}},
		hookCase{name: "confirm gates hold, then pass", kind: spec.HookLambda,
			points:   map[string]string{spec.HookConfirmPromotion: "hold"},
			promoted: true, ran: map[string]bool{spec.HookConfirmPromotion: true}},
	)
	t.Run("job/a hook Job at every rollout", func(t *testing.T) {
		t.Parallel()
		jobHookAtEveryRollout(t)
	})
	for i, c := range cases {
		router := []string{"appmesh", "gatewayapi"}[i%2]
		t.Run(fmt.Sprintf("%s/%s/%s", c.kind, router, c.name), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			g := &gates{behaviour: map[string]string{}, checks: map[string]int{}}
			srv := g.serve(t)
			h.function = g.function
			h.hook = g.runJobs(h)
			h.eng.HookFunctions = []string{hookFunctions}
			h.stable(router, "shop")

			var list []map[string]any
			for _, point := range spec.HookPoints() {
				b, ok := c.points[point]
				if !ok {
					continue
				}
				name := hookNames[point]
				g.behaviour[name] = b
				hk := map[string]any{"name": name, "point": point, "kind": c.kind, "metadata": map[string]string{"suite": "smoke"}}
				switch c.kind {
				case spec.HookHTTP:
					hk["url"] = srv.URL + "/" + name
					hk["timeout"] = 5
				case spec.HookLambda:
					hk["function"] = hookFunctionArn
				case spec.HookJob:
					hk["job"] = "shop-smoke"
				}
				if spec.IsConfirmPoint(point) {
					hk["hold"] = 2 * h.deployJSON(router, "shop", "x", nil)["analysis"].(map[string]any)["interval"].(int)
				}
				list = append(list, hk)
			}
			tmpl, err := os.ReadFile("testdata/" + router + ".yml")
			if err != nil {
				t.Fatal(err)
			}
			h.metrics.set("shop-2", "healthy")
			x, id := h.start(h.deployJSON(router, "shop", "registry.local/shop:2", func(d map[string]any) {
				d["percentage_step"] = 50
				d["hooks"] = list
				d["config_file"] = base64.StdEncoding.EncodeToString(append(tmpl, hookJobDocument...))
			}))
			res := x.Wait()
			snap := h.status("shop")
			if c.promoted {
				requireStatus(t, res, "SUCCEEDED", "")
				if got := h.weights(router, "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
					t.Errorf("route %v, want shop-2 alone at 100", got)
				}
				if snap.Status.Phase != status.PhaseSucceeded {
					t.Errorf("phase %s (%s), want Succeeded", snap.Status.Phase, snap.Status.Reason)
				}
			} else {
				requireStatus(t, res, "FAILED", "RolledBack")
				if got := h.weights(router, "shop"); !maps.Equal(got, map[string]int{"shop-1": 100}) {
					t.Errorf("route %v, want shop-1 alone at 100", got)
				}
				if got := h.deployments("shop"); !slices.Equal(got, []string{"shop-1"}) {
					t.Errorf("deployments %v, want shop-1 alone", got)
				}
				if snap.Status.Phase != status.PhaseRolledBack || !strings.Contains(snap.Status.Reason, c.want) || !strings.Contains(snap.Status.Reason, "boom from") && !strings.Contains(snap.Status.Reason, "crashed") {
					t.Errorf("phase %s, reason %q: want RolledBack naming %q and the hook's output", snap.Status.Phase, snap.Status.Reason, c.want)
				}
				if snap.History[0].Reason != snap.Status.Reason {
					t.Errorf("history reason %q, status reason %q", snap.History[0].Reason, snap.Status.Reason)
				}
			}
			if strings.Contains(c.want, "pre_rollout") {
				if !strings.Contains(snap.Status.Reason, "nothing was deployed") || slices.Contains(res.Entered(), statemachine.StateDeploy) || slices.Contains(res.Entered(), statemachine.StateRollBack) {
					t.Errorf("a failed pre_rollout hook: reason %q, states %q: want nothing deployed and no roll back", snap.Status.Reason, res.Entered())
				}
			}
			// The newest result of each point that ran.
			latest := map[string]status.HookResult{}
			for _, r := range slices.Backward(snap.Status.Hooks) {
				latest[r.Point] = r
			}
			for point, passed := range c.ran {
				r, ok := latest[point]
				switch {
				case !ok:
					t.Errorf("no %s result in the status %+v", point, snap.Status.Hooks)
				case r.Passed != passed || r.Kind != c.kind || r.Hook != hookNames[point] || r.Output == "" || r.At.IsZero():
					t.Errorf("%s result %+v, want passed %v", point, r, passed)
				}
			}
			for _, point := range c.notRun {
				if n := g.count(hookNames[point]); n > 0 {
					t.Errorf("the %s hook ran %d times, want never", point, n)
				}
			}
			if b := c.points[spec.HookConfirmTraffic]; b == "fail" || b == "hold" {
				if n := g.count(hookNames[spec.HookConfirmTraffic]); n < 2 {
					t.Errorf("confirm_traffic was checked %d times: a failing gate holds and is checked again", n)
				}
			}
			if c.points[spec.HookConfirmPromotion] == "hold" {
				if n := g.count(hookNames[spec.HookConfirmPromotion]); n != 3 {
					t.Errorf("confirm_promotion was checked %d times, want 3 (two failures, then a pass)", n)
				}
			}
			// A failing notify-only hook is reported, never reverses the outcome.
			for _, point := range []string{spec.HookPostRollout, spec.HookOnRollback} {
				if b := c.points[point]; (b == "fail" || b == "error") && g.count(hookNames[point]) > 0 {
					found := false
					for _, n := range h.notices.got {
						found = found || (n.HookFailure && strings.Contains(n.Reason, point+" hook "+hookNames[point]))
					}
					if !found {
						t.Errorf("no notice of the failed %s hook: %+v", point, h.notices.got)
					}
				}
			}
			if last := h.notices.got[len(h.notices.got)-1]; len(last.Hooks) == 0 {
				t.Errorf("the last notice carries no hook results: %+v", last)
			}
			if left, err := h.plane.Clientset.BatchV1().Jobs(h.ns).List(context.Background(), metav1.ListOptions{LabelSelector: job.LabelHook}); err != nil || len(left.Items) > 0 {
				t.Errorf("hook Jobs left behind: %v %v", left, err)
			}
			if holder := h.lockHolder("shop"); holder != "" {
				t.Errorf("lock still held by %s", holder)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if c.kind != spec.HookJob && len(g.payloads) == 0 {
				t.Fatal("no hook was called")
			}
			for _, p := range g.payloads {
				if p.Name != "shop" || p.Microservice != "shop" || p.Namespace != h.ns || p.CanaryVersion != 2 || p.StableVersion != 1 ||
					p.CanaryService != "shop-2" || p.CanaryImage != "registry.local/shop:2" || p.Execution != id || p.Checksum == "" ||
					p.Kind != c.kind || hookNames[p.Point] != p.Hook || p.Metadata["suite"] != "smoke" || p.Phase == "" {
					t.Errorf("payload %+v", p)
				}
				if p.Point == spec.HookConfirmTraffic && p.NextWeight <= p.Weight {
					t.Errorf("confirm_traffic asked about weight %d at %d", p.NextWeight, p.Weight)
				}
			}
		})
	}
}

// jobHookAtEveryRollout: a hook Job runs at every rollout, each run under a
// name of its own and rendered at its own version. A Job named after the
// version passed Validate (which renders version 1) and failed the hook of
// every later rollout with the canary deployed ("hook Job shop-smoke-1 is
// not in kubernetes_template.yml", then a roll back); it is refused at
// Validate, before anything is written.
func jobHookAtEveryRollout(t *testing.T) {
	h := newHarness(t)
	g := &gates{behaviour: map[string]string{"smoke": "pass"}, checks: map[string]int{}}
	runJobs := g.runJobs(h)
	jobs := h.plane.Clientset.BatchV1().Jobs(h.ns)
	var mu sync.Mutex
	ran := map[string]string{} // hook Job -> the address its container checks
	h.hook = func(state string, payload json.RawMessage) {
		if state == statemachine.StateRunHooks {
			list, err := jobs.List(context.Background(), metav1.ListOptions{LabelSelector: job.LabelHook})
			if err != nil {
				t.Errorf("list hook Jobs: %v", err)
			}
			mu.Lock()
			for _, j := range list.Items {
				ran[j.Name] = strings.Join(j.Spec.Template.Spec.Containers[0].Args, " ")
			}
			mu.Unlock()
		}
		runJobs(state, payload)
	}
	tmpl, err := os.ReadFile("testdata/appmesh.yml")
	if err != nil {
		t.Fatal(err)
	}
	input := func(version int, jobName, doc string) map[string]any {
		return h.deployJSON("appmesh", "shop", fmt.Sprintf("registry.local/shop:%d", version), func(d map[string]any) {
			d["hooks"] = []map[string]any{{"name": "smoke", "point": spec.HookPreTraffic, "kind": spec.HookJob, "job": jobName}}
			d["config_file"] = base64.StdEncoding.EncodeToString(append(slices.Clone(tmpl), doc...))
		})
	}
	// The first deployment and the two rollouts after it.
	for version := 1; version <= 3; version++ {
		h.metrics.set(fmt.Sprintf("shop-%d", version), "healthy")
		requireStatus(t, h.run(input(version, "shop-smoke", hookJobDocument)), "SUCCEEDED", "")
		st := h.status("shop").Status
		name := job.Name("shop-smoke", version, spec.HookPreTraffic)
		if st.CanaryVersion != version || len(st.Hooks) == 0 || !st.Hooks[0].Passed || !strings.Contains(st.Hooks[0].Output, "Job "+name+" succeeded") {
			t.Errorf("rollout of version %d: status version %d, hooks %+v: want Job %s passed", version, st.CanaryVersion, st.Hooks, name)
		}
	}
	want := map[string]string{
		"shop-smoke-1-pre-traffic": "http://shop-1:8080/",
		"shop-smoke-2-pre-traffic": "http://shop-2:8080/",
		"shop-smoke-3-pre-traffic": "http://shop-3:8080/",
	}
	mu.Lock()
	if !maps.Equal(ran, want) {
		t.Errorf("hook Jobs run %v, want one per rollout, each at its version: %v", ran, want)
	}
	mu.Unlock()
	if left, err := jobs.List(context.Background(), metav1.ListOptions{LabelSelector: job.LabelHook}); err != nil || len(left.Items) > 0 {
		t.Errorf("hook Jobs left behind: %v %v", left, err)
	}

	before := h.fingerprint("shop")
	versioned := strings.Replace(hookJobDocument, "name: ${MICROSERVICE_NAME}-smoke\n", "name: ${MICROSERVICE_NAME}-smoke-${CANARY_VERSION}\n", 1)
	h.metrics.set("shop-4", "healthy")
	res := h.run(input(4, "shop-smoke-1", versioned))
	requireStatus(t, res, "FAILED", statemachine.ErrValidation)
	if entered := res.Entered(); slices.Contains(entered, statemachine.StateLock) {
		t.Errorf("states %q: nothing may run after Validate", entered)
	}
	if after := h.fingerprint("shop"); !maps.Equal(before, after) {
		t.Errorf("objects changed:\nbefore %v\nafter  %v", before, after)
	}
	if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-3": 100}) {
		t.Errorf("route %v, want shop-3 alone at 100", got)
	}
	raw, err := json.Marshal(input(4, "shop-smoke-1", versioned))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.eng.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: h.executionArn("shop", h.seq.Add(1)), State: raw})
	if err == nil || engine.ErrorName(err) != statemachine.ErrValidation ||
		!strings.Contains(err.Error(), `hooks[0].job: "shop-smoke-1" names the Job shop-smoke-${CANARY_VERSION}, whose name follows the version`) {
		t.Errorf("Validate error %v, want the versioned Job name refused", err)
	}
}

// An execution stopped while a hook Job runs leaves no Job behind: the
// rollback entry point removes it with the canary.
func abortedDuringAHookJobRemovesIt(t *testing.T) {
	h := newHarness(t)
	g := &gates{behaviour: map[string]string{"pre-traffic": "hang"}, checks: map[string]int{}}
	runJobs := g.runJobs(h)
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var inflight sync.WaitGroup
	h.hook = func(state string, payload json.RawMessage) {
		runJobs(state, payload)
		if state == statemachine.StateRunHooks && g.count("pre-traffic") > 0 {
			once.Do(func() {
				inflight.Add(1)
				defer inflight.Done()
				close(reached)
				<-release
			})
		}
	}
	h.stable("appmesh", "shop")
	h.metrics.set("shop-2", "healthy")
	tmpl, err := os.ReadFile("testdata/appmesh.yml")
	if err != nil {
		t.Fatal(err)
	}
	input := h.deployJSON("appmesh", "shop", "registry.local/shop:2", func(d map[string]any) {
		d["hooks"] = []map[string]any{{"name": "pre-traffic", "point": spec.HookPreTraffic, "kind": spec.HookJob, "job": "shop-smoke"}}
		d["config_file"] = base64.StdEncoding.EncodeToString(append(tmpl, hookJobDocument...))
	})
	x, id := h.start(input)
	h.reach(reached, x, "the hook Job's first poll")
	jobs := h.plane.Clientset.BatchV1().Jobs(h.ns)
	if list, err := jobs.List(context.Background(), metav1.ListOptions{LabelSelector: job.LabelHook}); err != nil || len(list.Items) != 1 {
		t.Fatalf("hook Jobs while the hook runs: %v %v, want one", list, err)
	}
	if err := x.Abort(); err != nil {
		t.Fatal(err)
	}
	close(release)
	requireStatus(t, x.Wait(), "ABORTED", "")
	inflight.Wait()
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.eng.RollBackEnded(context.Background(), engine.ExecutionEnded{ExecutionArn: id, Status: "ABORTED", Input: string(raw)}); err != nil {
		t.Fatal(err)
	}
	h.assertRolledBack("appmesh", "shop", "ABORTED")
	if list, err := jobs.List(context.Background(), metav1.ListOptions{LabelSelector: job.LabelHook}); err != nil || len(list.Items) > 0 {
		t.Errorf("hook Jobs left behind by the roll back: %v %v", list, err)
	}
}
