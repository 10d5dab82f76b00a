package engine_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/hooks/job"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router/appmesh"
	"github.com/eks-canary/platform/lambdas/router/gatewayapi"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// The victim and the attacker share the namespace, the state machine and
// the engine. The attacker's name is a prefix of the victim's, so the
// attacker's templates may name objects "shop-api-…": only the engine's
// ownership checks stand between them.
const (
	victim   = "shop-api"
	attacker = "shop"
)

// hostile is one attempt of the attacker's on the victim's rollout.
type hostile struct {
	name string
	// tmpl edits the attacker's template; input edits its deploy.json.
	tmpl  func(t *testing.T, router, tmpl string) string
	input func(d map[string]any)
	// prepare runs before the attacker's rollout starts.
	prepare func(h *harness, router string)
	// pipelineOf names the microservice whose pipeline starts the
	// execution; the attacker's when empty.
	pipelineOf string
	want       string // in the refusal
}

func anotherTeamsObjectsAreNeverTouched(t *testing.T) {
	appendDoc := func(doc string) func(*testing.T, string, string) string {
		return func(_ *testing.T, _ string, tmpl string) string { return tmpl + "---\n" + doc }
	}
	cases := []hostile{
		{name: "status", tmpl: appendDoc("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + naming.StatusConfigMap(victim) + ", labels: {canary.eks-canary.dev/status: \"true\"}}\n" +
			`data: {status: '{"microservice":"shop-api","phase":"Progressing","stableTemplate":"cHJpdmlsZWdlZA=="}', request: abort}` + "\n"),
			want: `metadata.name "shop-api-rollout" is refused: names ending in "-rollout" are the engine's own`},
		{name: "lock", tmpl: appendDoc("apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: " + naming.LockLease(victim) + "}\nspec: {holderIdentity: shop}\n"),
			want: "kind Lease (coordination.k8s.io/v1) is not allowed"},
		{name: "Deployment", tmpl: func(t *testing.T, router, tmpl string) string {
			return tmpl + "---\n" + strings.ReplaceAll(workloadDoc(t, router), "${MICROSERVICE_NAME}-${CANARY_VERSION}", victim+"-${CANARY_VERSION}")
		}, want: `Deployment shop-api-1 already exists and belongs to microservice "shop-api"`},
		{name: "Service", tmpl: appendDoc("apiVersion: v1\nkind: Service\nmetadata: {name: " + victim + "-1}\nspec: {selector: {app: shop}, ports: [{name: http, port: 8080}]}\n"),
			want: `Service shop-api-1 already exists and belongs to microservice "shop-api"`},
		{name: "route", tmpl: func(t *testing.T, router, tmpl string) string {
			kind := map[string]string{"appmesh": "VirtualRouter", "gatewayapi": "HTTPRoute"}[router]
			return edit(t, tmpl, "kind: "+kind+"\nmetadata:\n  name: ${MICROSERVICE_NAME}\n", "kind: "+kind+"\nmetadata:\n  name: "+victim+"\n")
		}, want: "already exists and belongs to microservice \"shop-api\""},
		{name: "preview route", tmpl: appendDoc("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " + victim + naming.PreviewSuffix + "}\n" +
			"spec: {parentRefs: [{name: canary-gateway, sectionName: http}], rules: [{backendRefs: [{name: shop-1, port: 8080}]}]}\n"),
			want: `metadata.name "shop-api-preview" is refused: names ending in "-preview" are the engine's own`},
		{name: "hook Job", tmpl: appendDoc("apiVersion: batch/v1\nkind: Job\nmetadata: {name: " + victim + "-smoke}\n" +
			"spec: {managedBy: canary.test/hook-runner, template: {spec: {restartPolicy: Never, containers: [{name: smoke, image: \"registry.local/smoke:1\"}]}}}\n"),
			input: func(d map[string]any) {
				d["hooks"] = []map[string]any{{"name": "smoke", "point": spec.HookPreTraffic, "kind": spec.HookJob, "job": victim + "-smoke"}}
			},
			prepare: func(h *harness, _ string) {
				h.victimHookJob(job.Name(victim+"-smoke", h.nextVersion(attacker), spec.HookPreTraffic))
			},
			want: `-pre-traffic already exists and belongs to microservice "shop-api"`},
		{name: "deploy.json of another microservice from the attacker's pipeline", pipelineOf: attacker,
			input: func(d map[string]any) { d["microservice_name"] = victim },
			want:  `did not come from the pipeline of microservice "shop-api"`},
	}
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) {
			h := newHarness(t)
			h.stable(router, victim)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { h.attack(t, router, c) })
			}
			t.Run("planted status whose stable template is privileged", func(t *testing.T) { h.plantedPrivilegedStableTemplate(t, router) })
			t.Run("status planted without the engine's labels", func(t *testing.T) { h.plantedUnlabelledStatus(t, router) })
		})
	}
}

// attack runs the attacker's rollout and checks that it was refused for
// the right reason with nothing of the victim's changed.
func (h *harness) attack(t *testing.T, router string, c hostile) {
	before := h.ownedState(router, victim)
	if c.prepare != nil {
		c.prepare(h, router)
		before = h.ownedState(router, victim)
	}
	h.metrics.set(attacker+"-1", "healthy")
	input := h.deployJSON(router, attacker, "registry.local/shop:1", func(d map[string]any) {
		if c.tmpl != nil {
			raw, err := base64.StdEncoding.DecodeString(d["config_file"].(string))
			if err != nil {
				t.Fatal(err)
			}
			d["config_file"] = base64.StdEncoding.EncodeToString([]byte(c.tmpl(t, router, string(raw))))
		}
		if c.input != nil {
			c.input(d)
		}
	})
	pipeline := c.pipelineOf
	if pipeline == "" {
		pipeline, _ = input["microservice_name"].(string)
	}
	x, id := h.startFromPipelineOf(pipeline, input)
	res := x.Wait()
	if res.Status != "FAILED" {
		t.Fatalf("the attacker's rollout ended %s %s; states %q", res.Status, res.Error, res.Entered())
	}
	if got := h.refusal(id, input); !strings.Contains(got, c.want) {
		t.Errorf("refused with %q\nwant it to contain %q", got, c.want)
	}
	if after := h.ownedState(router, victim); !maps.Equal(before, after) {
		t.Errorf("the victim's objects changed:\nbefore %v\nafter  %v", before, after)
	}
	if got := h.weights(router, victim); !maps.Equal(got, map[string]int{victim + "-1": 100}) {
		t.Errorf("the victim's route is %v", got)
	}
	if holder := h.lockHolder(attacker); holder != "" {
		t.Errorf("the attacker's lock is still held by %s", holder)
	}
}

// refusal is why the execution was refused: the attacker's status says it
// when a step wrote it, Validate's answer when nothing was written.
func (h *harness) refusal(id string, input map[string]any) string {
	h.t.Helper()
	if snap, found, err := status.NewEngine(h.plane.Clientset, h.ns).Load(context.Background(), attacker); err == nil && found && snap.Status.Execution == id {
		return snap.Status.Reason + " " + fmt.Sprint(snap.Status.Hooks)
	}
	raw, err := json.Marshal(input)
	if err != nil {
		h.t.Fatal(err)
	}
	_, err = h.eng.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: id, State: raw})
	if err == nil {
		return "Validate accepted it"
	}
	return err.Error()
}

// plantedPrivilegedStableTemplate: someone who may write the status (not a
// template: those are refused above) puts a privileged template in it as
// the stable version's. The victim's next roll back must not apply it.
func (h *harness) plantedPrivilegedStableTemplate(t *testing.T, router string) {
	store := status.NewEngine(h.plane.Clientset, h.ns)
	snap := h.status(victim)
	privileged := edit(t, testTemplate(t, router), imageLine, imageLine+"          securityContext: {privileged: true}\n")
	snap.Status.StableTemplate = base64.StdEncoding.EncodeToString([]byte(privileged))
	if err := store.Write(context.Background(), snap.Status); err != nil {
		t.Fatal(err)
	}
	stable := h.generation(victim + "-1")
	h.metrics.set(victim+"-2", "failing")
	res := h.run(h.deployJSON(router, victim, "registry.local/shop-api:2", nil))
	if res.Status != "FAILED" {
		t.Fatalf("the rollout ended %s %s", res.Status, res.Error)
	}
	st := h.status(victim).Status
	if st.Phase != status.PhaseFailed || !strings.Contains(st.Reason, "read back from the status is refused, so it was not applied") || !strings.Contains(st.Reason, "privileged") {
		t.Errorf("status %s %q; want Failed naming the refused stable template", st.Phase, st.Reason)
	}
	if got := h.generation(victim + "-1"); got != stable {
		t.Errorf("the stable Deployment went from generation %d to %d: the planted template was applied", stable, got)
	}
	deps, err := h.plane.Clientset.AppsV1().Deployments(h.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.SecurityContext != nil && ptr.Deref(c.SecurityContext.Privileged, false) {
				t.Errorf("Deployment %s runs container %s privileged", d.Name, c.Name)
			}
		}
	}
	h.recoverByHand(router, victim)
}

// plantedUnlabelledStatus: a ConfigMap under the victim's status name that
// the engine did not write is never acted on; the rollout is refused and
// the lock left free.
func (h *harness) plantedUnlabelledStatus(t *testing.T, router string) {
	cms := h.plane.Clientset.CoreV1().ConfigMaps(h.ns)
	ctx := context.Background()
	if err := cms.Delete(ctx, naming.StatusConfigMap(victim), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	planted := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: naming.StatusConfigMap(victim)},
		Data: map[string]string{"status": `{"microservice":"shop-api","phase":"Progressing","canaryVersion":7}`, "request": "abort"}}
	if _, err := cms.Create(ctx, planted, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := h.ownedState(router, victim)
	res := h.run(h.deployJSON(router, victim, "registry.local/shop-api:3", nil))
	requireStatus(t, res, "FAILED", statemachine.ErrRefused)
	if after := h.ownedState(router, victim); !maps.Equal(before, after) {
		t.Errorf("the victim's objects changed:\nbefore %v\nafter  %v", before, after)
	}
	if holder := h.lockHolder(victim); holder != "" {
		t.Errorf("lock still held by %s", holder)
	}
	if got := h.deployments(victim); len(got) != 1 || got[0] != victim+"-1" {
		t.Errorf("deployments %v, want the stable one alone", got)
	}
}

// recoverByHand puts the victim back after a Failed roll back, as an
// operator would once the status is fixed: the stable template back in the
// status, then canaryctl recover.
func (h *harness) recoverByHand(router, svc string) {
	h.t.Helper()
	snap := h.status(svc)
	snap.Status.StableTemplate = base64.StdEncoding.EncodeToString([]byte(testTemplate(h.t.(*testing.T), router)))
	if err := status.NewEngine(h.plane.Clientset, h.ns).Write(context.Background(), snap.Status); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.eng.Recover(context.Background(), "local", h.ns, svc); err != nil {
		h.t.Fatalf("recover %s: %v", svc, err)
	}
}

// victimHookJob is a hook Job of the victim's, as its own rollout left it.
func (h *harness) victimHookJob(name string) {
	h.t.Helper()
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			naming.LabelManagedBy: naming.ManagedByValue, naming.LabelMicroservice: victim, job.LabelHook: "smoke"}},
		Spec: batchv1.JobSpec{ManagedBy: ptr.To("canary.test/hook-runner"), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "smoke", Image: "registry.local/smoke:1"}}}}},
	}
	if _, err := h.plane.Clientset.BatchV1().Jobs(h.ns).Create(context.Background(), j, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// ownedState identifies every object of svc at its resourceVersion (its
// generation for Deployments, whose controller writes status): a change
// to any of them shows.
func (h *harness) ownedState(router, svc string) map[string]string {
	h.t.Helper()
	ctx := context.Background()
	out := h.fingerprint(svc)
	sel := metav1.ListOptions{LabelSelector: naming.LabelMicroservice + "=" + svc}
	routes := appmesh.VirtualRouter.Resource
	if router == "gatewayapi" {
		routes = gatewayapi.HTTPRoute.Resource
	}
	list, err := h.plane.Dynamic.Resource(routes).Namespace(h.ns).List(ctx, sel)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range list.Items {
		out["route/"+r.GetName()] = r.GetResourceVersion()
	}
	jobs, err := h.plane.Clientset.BatchV1().Jobs(h.ns).List(ctx, sel)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, j := range jobs.Items {
		out["job/"+j.Name] = j.ResourceVersion
	}
	if l, err := h.plane.Clientset.CoordinationV1().Leases(h.ns).Get(ctx, naming.LockLease(svc), metav1.GetOptions{}); err == nil {
		out["lease/"+l.Name] = l.ResourceVersion
	}
	return out
}

// nextVersion is the version the next rollout of svc gets.
func (h *harness) nextVersion(svc string) int {
	h.t.Helper()
	snap, found, err := status.NewEngine(h.plane.Clientset, h.ns).Load(context.Background(), svc)
	if err != nil {
		h.t.Fatal(err)
	}
	if !found {
		return 1
	}
	return max(snap.Status.LastVersion, snap.Status.CanaryVersion, snap.Status.StableVersion) + 1
}

func (h *harness) generation(deployment string) int64 {
	h.t.Helper()
	d, err := h.plane.Clientset.AppsV1().Deployments(h.ns).Get(context.Background(), deployment, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return d.Generation
}

// workloadDoc is the router's test template's Deployment document.
func workloadDoc(t *testing.T, router string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + router + ".yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		if strings.Contains(doc, "kind: Deployment\n") {
			return doc
		}
	}
	t.Fatalf("testdata/%s.yml has no Deployment", router)
	return ""
}
