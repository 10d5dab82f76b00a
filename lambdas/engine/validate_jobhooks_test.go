package engine_test

import (
	"context"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// jobDoc is a hook Job document: its name, its own labels and its pods'.
func jobDoc(name, labels, podLabels string) string {
	return "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: " + name + "\n  labels: " + labels + "\nspec:\n  template:\n    metadata:\n      labels: " + podLabels + "\n" +
		"    spec:\n      restartPolicy: Never\n      containers:\n        - name: smoke\n          image: registry.local/smoke:1\n" +
		"          args: [\"http://${MICROSERVICE_NAME}-${CANARY_VERSION}:8080/\"]\n"
}

// TestValidateJobHooksWorkAtEveryVersion: a hook's Job must be found at every
// rollout, be created by the API server, and have pods that no Service,
// VirtualNode or workload of the template selects. Validate runs without a
// cluster, so nothing is written.
func TestValidateJobHooksWorkAtEveryVersion(t *testing.T) {
	const (
		canaryLabels = `{app: "${MICROSERVICE_NAME}", version: "${CANARY_VERSION}"}`
		ownLabels    = `{app: "${MICROSERVICE_NAME}-smoke", version: "${CANARY_VERSION}"}`
		fix          = "give the Job's pods labels of their own that no Service, VirtualNode or workload of the template selects, e.g. app: shop-smoke"
	)
	selector := func(old, new string) func(*testing.T, string) string {
		return func(t *testing.T, s string) string {
			return edit(t, s, old, new)
		}
	}
	deploymentSelector := "    matchLabels: {app: \"${MICROSERVICE_NAME}\", version: \"${CANARY_VERSION}\"}\n  template:\n"
	cases := []struct {
		name, router string // default gatewayapi
		tmpl         func(*testing.T, string) string
		doc          string // the Job, appended to the template
		job          string // hooks[0].job; default shop-smoke
		point        string // hooks[0].point; default pre_traffic
		change       func(map[string]any)
		want         []string // "" when Validate accepts it
		absent       []string
	}{
		// Names: only the version changes between rollouts.
		{name: "version in the Job's name", doc: jobDoc("${MICROSERVICE_NAME}-smoke-${CANARY_VERSION}", "{}", ownLabels), job: "shop-smoke-1",
			want: []string{`hooks[0].job: "shop-smoke-1" names the Job shop-smoke-${CANARY_VERSION}, whose name follows the version (shop-smoke-1 at version 1, shop-smoke-2 at version 2)`,
				"every later rollout renders its own version, finds no Job shop-smoke-1 and fails the hook after the canary is deployed",
				"remove ${CANARY_VERSION} from the Job's metadata.name (e.g. shop-smoke) and name that here: the engine names each run's Job <name>-<version>-<point> itself"}},
		{name: "version inside the name of a notify-only hook's Job", router: contract.RouterAppMesh, doc: jobDoc("${MICROSERVICE_NAME}-${CANARY_VERSION}-smoke", "{}", ownLabels),
			job: "shop-1-smoke", point: "post_rollout",
			want: []string{`hooks[0].job: "shop-1-smoke" names the Job shop-${CANARY_VERSION}-smoke, whose name follows the version`, "(e.g. shop-smoke)"}},
		{name: "the Job of a later version", doc: jobDoc("${MICROSERVICE_NAME}-smoke-${CANARY_VERSION}", "{}", ownLabels), job: "shop-smoke-2",
			want: []string{`hooks[0].job: "shop-smoke-2" is not a Job of kubernetes_template.yml (its Jobs are shop-smoke-1)`}},
		{name: "image in the Job's name", doc: jobDoc("${MICROSERVICE_NAME}-smoke-${CONTAINER_IMAGE}", "{}", ownLabels),
			want: []string{`Job/shop-smoke-registry.local/shop:2: metadata.name "shop-smoke-registry.local/shop:2" is not valid`}},
		{name: "image in the Job's labels", doc: jobDoc("${MICROSERVICE_NAME}-smoke", `{build: "${CONTAINER_IMAGE}"}`, ownLabels),
			want: []string{`hooks[0].job: "shop-smoke" names a Job the API server would refuse when the hook runs: metadata.labels build: "registry.local/shop:2" (21 bytes) is not a label value`,
				"an image reference is never a label value: put ${CONTAINER_IMAGE} in the Job's containers or env"}},

		// Pods that selectors of the template would take for the canary's.
		{name: "pods labelled like the canary's", doc: jobDoc("${MICROSERVICE_NAME}-smoke", "{}", canaryLabels),
			want: []string{`hooks[0].job: "shop-smoke" names a Job whose pods Service/shop-1 would select: its spec.selector app=shop,version=${CANARY_VERSION} matches the Job's pod labels app=shop, version=${CANARY_VERSION} (spec.template.metadata.labels), so the Service would send its traffic to them: ` + fix,
				`names a Job whose pods Deployment/shop-1 would select: its spec.selector app=shop,version=${CANARY_VERSION} matches the Job's pod labels app=shop, version=${CANARY_VERSION}`,
				"so the canary's pod checks, which find its pods by this selector, would count a finished Job pod, never ready, and fail the pod-health gate"}},
		{name: "pods labelled like the canary's under App Mesh", router: contract.RouterAppMesh, doc: jobDoc("${MICROSERVICE_NAME}-smoke", "{}", canaryLabels),
			want: []string{"3 problems", "names a Job whose pods VirtualNode/shop-1 would select: its spec.podSelector app=shop,version=${CANARY_VERSION}",
				"App Mesh would take them for the virtual node's pods", "pods Service/shop-1 would select", "pods Deployment/shop-1 would select"},
			absent: []string{"Service/shop would"}},
		{name: "pods labelled with a version written out", doc: jobDoc("${MICROSERVICE_NAME}-smoke", "{}", `{app: shop, version: "2"}`),
			want: []string{"pods Service/shop-1 would select: its spec.selector app=shop,version=${CANARY_VERSION} matches the Job's pod labels app=shop, version=2"}},
		{name: "a matchExpressions selector", doc: jobDoc("${MICROSERVICE_NAME}-smoke", "{}", `{app: shop, role: smoke}`),
			tmpl:   selector(deploymentSelector, "    matchExpressions: [{key: app, operator: In, values: [shop, shop-canary]}]\n  template:\n"),
			want:   []string{"pods Deployment/shop-1 would select: its spec.selector app in (shop,shop-canary) matches the Job's pod labels app=shop"},
			absent: []string{"Service/shop-1 would"}},
		{name: "an Exists podSelector", router: contract.RouterAppMesh, doc: jobDoc("${MICROSERVICE_NAME}-smoke", "{}", `{app: shop-smoke}`),
			tmpl:   selector("    matchLabels:\n      app: ${MICROSERVICE_NAME}\n      version: \"${CANARY_VERSION}\"\n", "    matchExpressions: [{key: app, operator: Exists}]\n"),
			want:   []string{"pods VirtualNode/shop-1 would select: its spec.podSelector app matches the Job's pod labels app=shop-smoke"},
			absent: []string{"e.g. app: shop-smoke"}},
		{name: "a StatefulSet replaced in place", tmpl: func(t *testing.T, _ string) string { return testTemplate(t, "inplace") },
			doc: jobDoc("${MICROSERVICE_NAME}-migrate", "{}", `{app: "${MICROSERVICE_NAME}"}`), job: "db-migrate", change: func(d map[string]any) {
				d["microservice_name"], d["container_image"], d["strategy"] = "db", "registry.local/db:2", "in-place"
			},
			want: []string{"pods Service/db would select", "pods StatefulSet/db would select: its spec.selector app=db matches the Job's pod labels app=db", "e.g. app: db-migrate"}},

		// What keeps working.
		{name: "pods of their own", doc: jobDoc("${MICROSERVICE_NAME}-smoke", "{}", ownLabels)},
		{name: "pods of their own under App Mesh", router: contract.RouterAppMesh, doc: jobDoc("${MICROSERVICE_NAME}-smoke", "{}", ownLabels)},
		{name: "version in the Job's own labels", doc: jobDoc("${MICROSERVICE_NAME}-smoke", `{app: "${MICROSERVICE_NAME}", version: "${CANARY_VERSION}"}`, ownLabels)},
		{name: "the app label alone is no version's", router: contract.RouterAppMesh, doc: jobDoc("${MICROSERVICE_NAME}-smoke", "{}", `{app: "${MICROSERVICE_NAME}"}`)},
		{name: "NotIn keeps the Job out", doc: jobDoc("${MICROSERVICE_NAME}-smoke", "{}", `{app: shop, role: smoke}`),
			tmpl: selector(deploymentSelector, "    matchLabels: {app: \"${MICROSERVICE_NAME}\"}\n    matchExpressions: [{key: role, operator: NotIn, values: [smoke]}]\n  template:\n")},
		{name: "namespace in the Job's name", doc: jobDoc("${MICROSERVICE_NAME}-smoke-${KUBERNETES_NAMESPACE}", "{}", ownLabels), job: "shop-smoke-yelb"},
		{name: "a Job no hook names", doc: jobDoc("${MICROSERVICE_NAME}-manual", "{}", canaryLabels) + "---\n" + jobDoc("${MICROSERVICE_NAME}-smoke", "{}", ownLabels)},
	}
	if len(cases) < 12 {
		t.Fatalf("%d cases; the table must hold at least 12", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			router, tmpl := caseTemplate(t, c.router, c.tmpl)
			d := goodDeploy(router, tmpl+"---\n"+c.doc)
			hook := map[string]any{"name": "smoke", "point": "pre_traffic", "kind": "job", "job": "shop-smoke"}
			if c.job != "" {
				hook["job"] = c.job
			}
			if c.point != "" {
				hook["point"] = c.point
			}
			d["hooks"] = []any{hook}
			if c.change != nil {
				c.change(d)
			}
			_, err := validator(t, template.Policy{}).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: marshal(t, d)})
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Validate refused it: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			t.Log(err)
			requireRefused(t, err, c.want, c.absent)
		})
	}
}
