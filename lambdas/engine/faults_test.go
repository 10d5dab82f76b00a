package engine_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	admissionclient "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/lock"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
	"github.com/eks-canary/platform/lambdas/template"
)

// objectsOf identifies every object of svc of every kind a template may
// hold (the status ConfigMap aside), with what changes when it is written.
func (h *harness) objectsOf(svc string) map[string]string {
	h.t.Helper()
	out := map[string]string{}
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: naming.LabelMicroservice + "=" + svc + "," + naming.LabelStatus + "!=true"}
	for _, k := range template.AllowedKinds() {
		gvk := k.GroupVersionKind()
		list, err := h.plane.Dynamic.Resource(gvk.GroupVersion().WithResource(k.Resource)).Namespace(h.ns).List(ctx, sel)
		if err != nil {
			h.t.Fatalf("list %s: %v", k.Resource, err)
		}
		for _, o := range list.Items {
			// Controllers write the status of workloads; only spec changes count.
			v := o.GetResourceVersion()
			if gvk.Group == "apps" {
				v = fmt.Sprintf("generation %d", o.GetGeneration())
			}
			out[gvk.Kind+"/"+o.GetName()] = v
		}
	}
	return out
}

func template64(t testing.TB, router string, change func(string) string) string {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/" + router + ".yml")
	if err != nil {
		t.Fatal(err)
	}
	changed := change(string(tmpl))
	if changed == string(tmpl) {
		t.Fatal("test template changed: the edit did not apply")
	}
	return base64.StdEncoding.EncodeToString([]byte(changed))
}

// apiServerRefusalsInTheDryRunWriteNothing: whatever the API server
// refuses (schema, an unknown field, quota, admission) ends the rollout as
// invalid input before the first write.
func apiServerRefusalsInTheDryRunWriteNothing(t *testing.T) {
	cases := []struct {
		name, router string
		first        bool // a first deployment: nothing of shop exists yet
		prepare      func(h *harness)
		change       func(d map[string]any)
		want         string
	}{
		{
			name: "a weight above the VirtualRouter schema's maximum", router: "appmesh",
			change: func(d map[string]any) {
				d["config_file"] = template64(t, "appmesh", func(s string) string {
					return strings.Replace(s, "          weightedTargets: [${CANARY_ROUTES}]\n",
						"          weightedTargets: [${CANARY_ROUTES}]\n    - name: legacy\n      httpRoute:\n        match: {prefix: /legacy}\n        action:\n          weightedTargets: [{virtualNodeRef: {name: legacy}, weight: 150}]\n", 1)
				})
			},
			want: "spec.routes[1].httpRoute.action.weightedTargets[0].weight",
		},
		{
			name: "an HTTPRoute field the schema lacks", router: "gatewayapi",
			change: func(d map[string]any) {
				d["config_file"] = template64(t, "gatewayapi", func(s string) string {
					return strings.Replace(s, "    - backendRefs: [${CANARY_ROUTES}]", "    - matches: [{path: {prefix: /}}]\n      backendRefs: [${CANARY_ROUTES}]", 1)
				})
			},
			// Server-side apply cannot map it onto the existing route.
			want: "HTTPRoute %NS%/shop: failed to create typed patch object (%NS%/shop; gateway.networking.k8s.io/v1, Kind=HTTPRoute): .spec.rules[0].matches[0].path.prefix: field not declared in schema",
		},
		{
			// The original redis template: App Mesh TCP routes have no
			// prefix match; creating the route would prune it silently.
			name: "a TCP route field the schema lacks, on a first deployment", router: "appmesh", first: true,
			change: func(d map[string]any) {
				d["config_file"] = template64(t, "appmesh", func(s string) string {
					return strings.Replace(s, "      httpRoute:\n        match: {prefix: /}\n", "      tcpRoute:\n        match: {prefix: /}\n", 1)
				})
			},
			want: "VirtualRouter %NS%/shop: the API server dropped spec.routes[name=route-to-shop].tcpRoute.match.prefix (found in a dry run; nothing was written)",
		},
		{
			name: "a mutating admission policy that drops a field", router: "gatewayapi",
			prepare: func(h *harness) {
				h.mutatingPolicy()
			},
			want: "the API server dropped spec.template.spec.containers[name=app].resources.requests.memory",
		},
		{
			name: "a resource quota", router: "appmesh",
			prepare: func(h *harness) {
				h.quota(corev1.ResourceList{"count/deployments.apps": resource.MustParse("2")})
			},
			want: "exceeded quota",
		},
		{
			name: "a validating admission policy", router: "gatewayapi",
			prepare: func(h *harness) {
				h.admissionPolicy("object.spec.template.spec.containers.all(c, !c.image.endsWith(':2'))", "images tagged :2 are withdrawn")
			},
			want: "images tagged :2 are withdrawn",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.bystander(c.router)
			stable, version := 1, 2
			if c.first {
				stable, version = 0, 1
			} else {
				h.stable(c.router, "shop")
			}
			if c.prepare != nil {
				c.prepare(h)
			}
			before := h.objectsOf("shop")
			notices := len(h.notices.got)
			h.metrics.set(fmt.Sprintf("shop-%d", version), "healthy")
			res := h.run(h.deployJSON(c.router, "shop", fmt.Sprintf("registry.local/shop:%d", version), c.change))
			requireStatus(t, res, "FAILED", statemachine.ErrValidation)
			if want := []string{statemachine.StateValidate, statemachine.StateLock, statemachine.StateHookNext, statemachine.StateDeploy, statemachine.StateInvalid}; !slices.Equal(res.Entered(), want) {
				t.Errorf("states %q, want %q", res.Entered(), want)
			}
			if after := h.objectsOf("shop"); !maps.Equal(before, after) {
				t.Errorf("objects changed by a refused rollout:\nbefore %v\nafter  %v", before, after)
			}
			wantRoute := map[string]int{"shop-1": 100}
			if c.first {
				wantRoute = map[string]int{}
			}
			if got := h.weights(c.router, "shop"); !maps.Equal(got, wantRoute) {
				t.Errorf("route %v, want %v", got, wantRoute)
			}
			snap := h.status("shop")
			want := strings.ReplaceAll(c.want, "%NS%", h.ns)
			if st := snap.Status; st.Phase != status.PhaseInvalid || st.StableVersion != stable || !strings.Contains(st.Reason, want) ||
				!strings.Contains(st.Reason, "nothing was written") {
				t.Errorf("status: phase %s stable %d reason %q; want Invalid naming %q", st.Phase, st.StableVersion, st.Reason, want)
			}
			if len(snap.History) == 0 || snap.History[0].Phase != status.PhaseInvalid || snap.History[0].CanaryVersion != version {
				t.Errorf("history %+v", snap.History)
			}
			if holder := h.lockHolder("shop"); holder != "" {
				t.Errorf("lock still held by %s", holder)
			}
			if got := h.notices.got[notices:]; len(got) != 1 || got[0].Outcome != status.PhaseInvalid {
				t.Errorf("notices %+v, want one Invalid", got)
			}
		})
	}
}

// quota limits the namespace and waits until the quota controller has
// counted what exists, as admission needs.
func (h *harness) quota(hard corev1.ResourceList) {
	h.t.Helper()
	ctx := context.Background()
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "limits"}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	if _, err := h.plane.Clientset.CoreV1().ResourceQuotas(h.ns).Create(ctx, q, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := h.plane.Clientset.CoreV1().ResourceQuotas(h.ns).Get(ctx, q.Name, metav1.GetOptions{})
		return err == nil && len(got.Status.Used) == len(hard), err
	})
	if err != nil {
		h.t.Fatalf("quota never counted: %v", err)
	}
}

// admission is the admission policy client; the engine's own clients
// (kube/typed) have no need of it.
func (h *harness) admission() *admissionclient.AdmissionregistrationV1Client {
	h.t.Helper()
	c, err := admissionclient.NewForConfig(h.plane.Config)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// mutatingPolicy strips the memory request from Deployments in the test's
// namespace, as a cluster's own policy might, and waits until the API
// server applies it.
func (h *harness) mutatingPolicy() {
	h.t.Helper()
	ctx := context.Background()
	name := "strip-" + h.ns
	admission := h.admission()
	never := admissionv1.NeverReinvocationPolicy
	fail := admissionv1.Fail
	policy := &admissionv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.MutatingAdmissionPolicySpec{
			FailurePolicy:      &fail,
			ReinvocationPolicy: never,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				},
			}}},
			MatchConditions: []admissionv1.MatchCondition{{Name: "has-memory",
				Expression: "has(object.spec.template.spec.containers[0].resources.requests) && 'memory' in object.spec.template.spec.containers[0].resources.requests"}},
			Mutations: []admissionv1.Mutation{{
				PatchType: admissionv1.PatchTypeJSONPatch,
				JSONPatch: &admissionv1.JSONPatch{Expression: `[JSONPatch{op: "remove", path: "/spec/template/spec/containers/0/resources/requests/memory"}]`},
			}},
		},
	}
	if _, err := admission.MutatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = admission.MutatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	binding := &admissionv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName: name,
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: h.ns},
			}},
		},
	}
	if _, err := admission.MutatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = admission.MutatingAdmissionPolicyBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	probe := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "probe"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "probe"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.local/probe:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}},
			},
		},
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		out, err := h.plane.Clientset.AppsV1().Deployments(h.ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return false, nil
		}
		_, kept := out.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory]
		return !kept, nil
	})
	if err != nil {
		h.t.Fatalf("the mutating admission policy never took effect: %v", err)
	}
}

// admissionPolicy denies Deployments in the test's namespace that fail
// expression, and waits until the API server enforces it.
func (h *harness) admissionPolicy(expression, message string) {
	h.t.Helper()
	ctx := context.Background()
	name := "deny-" + h.ns
	fail := admissionv1.Fail
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: expression, Message: message}},
		},
	}
	admission := h.admission()
	if _, err := admission.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = admission.ValidatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: h.ns},
			}},
		},
	}
	if _, err := admission.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = admission.ValidatingAdmissionPolicyBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	probe := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "probe"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "probe"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.local/probe:2"}}},
			},
		},
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := h.plane.Clientset.AppsV1().Deployments(h.ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), message), nil
	})
	if err != nil {
		h.t.Fatalf("the admission policy never took effect: %v", err)
	}
}

// abandon starts a rollout of svc version 2 and stops its execution at the
// given analysis without the rollback entry point ever running (its event
// lost), so the canary keeps traffic and the lock stays with it.
func (h *harness) abandon(svc string, analysis int) (string, map[string]any) {
	h.t.Helper()
	reached, release := make(chan struct{}), make(chan struct{})
	var inflight sync.WaitGroup
	analyses := 0
	h.hook = func(state string, _ json.RawMessage) {
		if state == statemachine.StateAnalyse {
			if analyses++; analyses == analysis {
				inflight.Add(1)
				close(reached)
				<-release
				inflight.Done()
			}
		}
	}
	input := h.deployJSON("appmesh", svc, "registry.local/"+svc+":2", nil)
	// Always a Step Functions execution: the local runner cannot lose its
	// rollback event, it rolls back on its own when stopped.
	x, id := h.startWith(false, input)
	h.reach(reached, x, fmt.Sprintf("analysis %d", analysis))
	if err := x.Abort(); err != nil {
		h.t.Fatal(err)
	}
	close(release)
	requireStatus(h.t, x.Wait(), "ABORTED", "")
	inflight.Wait()
	h.hook = nil
	return id, input
}

// age moves the lock's last renewal back, as if its holder had been gone for d.
func (h *harness) age(svc string, d time.Duration) {
	h.t.Helper()
	leases := h.plane.Clientset.CoordinationV1().Leases(h.ns)
	l, err := leases.Get(context.Background(), naming.LockLease(svc), metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	old := metav1.NewMicroTime(time.Now().Add(-d))
	l.Spec.AcquireTime, l.Spec.RenewTime = &old, &old
	if _, err := leases.Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func staleLockTakeoverRollsTheAbandonedRolloutBackFirst(t *testing.T) {
	h := newHarness(t)
	h.bystander("appmesh")
	h.stable("appmesh", "shop")
	h.metrics.set("shop-2", "healthy")
	h.metrics.set("shop-3", "healthy")
	abandoned, _ := h.abandon("shop", 2)
	if w := h.weights("appmesh", "shop")["shop-2"]; w == 0 {
		t.Fatalf("the abandoned canary has no traffic: %v", h.weights("appmesh", "shop"))
	}

	// While the lock is fresh, nothing starts.
	res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:3", nil))
	requireStatus(t, res, "FAILED", statemachine.ErrInProgress)

	h.age("shop", lock.DefaultDuration+time.Minute)
	var atDeploy map[string]int
	var deployedThen []string
	h.hook = func(state string, _ json.RawMessage) {
		if state == statemachine.StateDeploy && atDeploy == nil {
			atDeploy, deployedThen = h.weights("appmesh", "shop"), h.deployments("shop")
		}
	}
	notices := len(h.notices.got)
	x, id := h.start(h.deployJSON("appmesh", "shop", "registry.local/shop:3", nil))
	requireStatus(t, x.Wait(), "SUCCEEDED", "")

	if !maps.Equal(atDeploy, map[string]int{"shop-1": 100}) || !slices.Equal(deployedThen, []string{"shop-1"}) {
		t.Errorf("when the new canary was deployed: route %v, deployments %v; want the abandoned one rolled back", atDeploy, deployedThen)
	}
	if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-3": 100}) {
		t.Errorf("final route %v, want shop-3 alone at 100", got)
	}
	if got := h.deployments("shop"); !slices.Equal(got, []string{"shop-3"}) {
		t.Errorf("deployments %v", got)
	}
	snap := h.status("shop")
	if st := snap.Status; st.Phase != status.PhaseSucceeded || st.CanaryVersion != 3 || st.TookOver == nil ||
		st.TookOver.Execution != abandoned || st.TookOver.Version != 2 {
		t.Errorf("status %+v took over %+v", st, st.TookOver)
	}
	if len(snap.History) < 3 || snap.History[1].CanaryVersion != 2 || snap.History[1].Phase != status.PhaseRolledBack ||
		!strings.Contains(snap.History[1].Reason, "abandoned") || !strings.Contains(snap.History[1].Reason, id) {
		t.Errorf("history %+v: want the abandoned version 2 rolled back by %s before version 3", snap.History, id)
	}
	if holder := h.lockHolder("shop"); holder != "" {
		t.Errorf("lock still held by %s", holder)
	}
	var outcomes []string
	for _, n := range h.notices.got[notices:] {
		outcomes = append(outcomes, fmt.Sprintf("v%d %s", n.Version, n.Outcome))
	}
	if !slices.Equal(outcomes, []string{"v2 RolledBack", "v3 Succeeded"}) {
		t.Errorf("notices %q", outcomes)
	}
}

// refusedLock runs Validate and Lock of a new rollout by hand and returns
// Lock's error, whose message the execution's Fail state does not carry.
func (h *harness) refusedLock(input map[string]any) error {
	h.t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		h.t.Fatal(err)
	}
	svc, _ := input["microservice_name"].(string)
	exec := h.executionArn(svc, h.seq.Add(1))
	st, err := h.eng.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: exec, State: raw})
	if err != nil {
		h.t.Fatal(err)
	}
	_, err = h.eng.Handle(context.Background(), engine.Event{Action: statemachine.ActionLock, Execution: exec, State: st})
	if err == nil {
		h.t.Fatal("a rollout started on top of a failed roll back")
	}
	return err
}

func (h *harness) requireFailedAndHeld(svc, execution, cause string) {
	h.t.Helper()
	st := h.status(svc).Status
	recover := "canaryctl -n " + h.ns + " recover " + svc
	if st.Phase != status.PhaseFailed || st.Execution != execution || !strings.Contains(st.Reason, cause) || !strings.Contains(st.Reason, recover) {
		h.t.Errorf("status: phase %s execution %s reason %q; want Failed, the cause %q and %q", st.Phase, st.Execution, st.Reason, cause, recover)
	}
	if st.CanaryTemplate == "" {
		h.t.Error("the Failed status does not keep the canary's template for the recovery")
	}
	if holder := h.lockHolder(svc); holder != execution {
		h.t.Errorf("lock held by %q, want the failed execution %s", holder, execution)
	}
}

func rollBackThatGivesUpIsRecordedAndHoldsTheLock(t *testing.T) {
	h := newHarness(t)
	h.bystander("appmesh")
	h.stable("appmesh", "shop")
	h.metrics.set("shop-2", "failing")
	var once sync.Once
	h.hook = func(state string, _ json.RawMessage) {
		if state == statemachine.StateRollBack {
			once.Do(func() { h.faults.add("PATCH", "/virtualrouters/shop", 403, 1000) })
		}
	}
	notices := len(h.notices.got)
	x, id := h.start(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
	res := x.Wait()
	h.hook = nil
	requireStatus(t, res, "FAILED", "RollBackFailed")
	retries := 0
	for _, e := range res.Events {
		if e.Event == "StateRetried" && e.State == statemachine.StateRollBack {
			retries++
		}
	}
	if retries != 8 {
		t.Errorf("%d retries of the roll back, want the definition's 8", retries)
	}
	if n := count(res.Entered(), statemachine.StateRecordFailure); n != 1 {
		t.Errorf("states %q: the failure was not recorded", res.Entered())
	}
	h.requireFailedAndHeld("shop", id, "injected fault")
	if got := h.notices.got[notices:]; len(got) != 1 || got[0].Outcome != status.PhaseFailed || !strings.Contains(got[0].Reason, "recover shop") {
		t.Errorf("notices %+v, want one Failed naming the recovery", got)
	}

	// The execution-failed event reaches the rollback entry point, which
	// tries again and gives up too: still Failed, no second notice.
	raw, err := json.Marshal(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
	if err != nil {
		t.Fatal(err)
	}
	ev := engine.ExecutionEnded{ExecutionArn: id, Status: "FAILED", Input: string(raw)}
	if err := h.eng.RollBackEnded(context.Background(), ev); err == nil || !strings.Contains(err.Error(), "5 attempts failed") {
		t.Errorf("rollback entry point: %v, want it to report its failed attempts", err)
	}
	h.requireFailedAndHeld("shop", id, "injected fault")
	if n := len(h.notices.got[notices:]); n != 1 {
		t.Errorf("%d notices, want the one Failed notice", n)
	}

	// No rollout starts on top of it, however old the lock gets.
	h.metrics.set("shop-3", "healthy")
	next := h.deployJSON("appmesh", "shop", "registry.local/shop:3", nil)
	requireStatus(t, h.run(next), "FAILED", statemachine.ErrRefused)
	h.age("shop", 10*lock.DefaultDuration)
	requireStatus(t, h.run(next), "FAILED", statemachine.ErrRefused)
	if err := h.refusedLock(next); !strings.Contains(err.Error(), "canaryctl -n "+h.ns+" recover shop") {
		t.Errorf("refusal %q does not name the recovery", err)
	}
	h.requireFailedAndHeld("shop", id, "injected fault")
	// Nor if the Lease is deleted by hand: the status still says Failed.
	if err := h.plane.Clientset.CoordinationV1().Leases(h.ns).Delete(context.Background(), naming.LockLease("shop"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := h.refusedLock(next); engine.ErrorName(err) != statemachine.ErrRefused || !strings.Contains(err.Error(), "recover shop") {
		t.Errorf("with the lease deleted: %v (%s)", err, engine.ErrorName(err))
	}

	// Recovery refuses while the cause persists, and then finishes the roll back.
	if _, err := h.eng.Recover(context.Background(), "local", h.ns, "shop"); err == nil || h.status("shop").Status.Phase != status.PhaseFailed {
		t.Fatalf("recover with the API server still refusing: %v", err)
	}
	h.faults.clear()
	st, err := h.eng.Recover(context.Background(), "local", h.ns, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != status.PhaseRolledBack {
		t.Errorf("after recovery: phase %s", st.Phase)
	}
	h.assertRolledBack("appmesh", "shop", "recovered")
	if _, err := h.eng.Recover(context.Background(), "local", h.ns, "shop"); err == nil {
		t.Error("a second recovery was accepted")
	}

	requireStatus(t, h.run(next), "SUCCEEDED", "")
	if got := h.weights("appmesh", "shop"); !maps.Equal(got, map[string]int{"shop-3": 100}) {
		t.Errorf("final route %v", got)
	}
}

func rollbackEntryPointThatGivesUpIsRecordedThenRetried(t *testing.T) {
	h := newHarness(t)
	h.bystander("appmesh")
	h.stable("appmesh", "shop")
	h.metrics.set("shop-2", "healthy")
	id, input := h.abandon("shop", 2)
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ev := engine.ExecutionEnded{ExecutionArn: id, Status: "ABORTED", Input: string(raw)}
	h.faults.add("PATCH", "/virtualrouters/shop", 403, 1000)
	notices := len(h.notices.got)
	if err := h.eng.RollBackEnded(context.Background(), ev); err == nil {
		t.Fatal("the rollback entry point succeeded against an API server refusing the route")
	}
	h.requireFailedAndHeld("shop", id, "injected fault")
	if got := h.notices.got[notices:]; len(got) != 1 || got[0].Outcome != status.PhaseFailed {
		t.Errorf("notices %+v, want one Failed", got)
	}
	if w := h.weights("appmesh", "shop")["shop-2"]; w == 0 {
		t.Errorf("the route changed although every write of it was refused")
	}

	// The event is delivered again once the API server accepts the route.
	h.faults.clear()
	if err := h.eng.RollBackEnded(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	h.assertRolledBack("appmesh", "shop", "ABORTED")
}
