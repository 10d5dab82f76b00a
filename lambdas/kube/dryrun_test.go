package kube

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
)

func TestDroppedFieldsAreNamedByPath(t *testing.T) {
	cases := []struct {
		name         string
		sent, stored string
		want         []string
	}{
		{"all kept", `{"spec":{"a":1,"b":{"c":"x"}}}`, `{"spec":{"a":1,"b":{"c":"x","d":2}}}`, nil},
		{"values may be normalised", `{"spec":{"cpu":"1000m"}}`, `{"spec":{"cpu":"1"}}`, nil},
		{"a pruned field", `{"spec":{"routes":[{"tcpRoute":{"match":{"prefix":"/"},"action":{}}}]}}`,
			`{"spec":{"routes":[{"tcpRoute":{}}]}}`, []string{"spec.routes[0].tcpRoute.match"}},
		{"zero values may be omitted", `{"spec":{"hostNetwork":false,"args":[],"name":"","n":0,"m":{},"x":null}}`, `{"spec":{}}`, nil},
		{"named list items matched by name", `{"containers":[{"name":"a","image":"i"},{"name":"b","image":"j","tty":true}]}`,
			`{"containers":[{"name":"b","image":"j"},{"name":"a","image":"i"}]}`, []string{"containers[name=b].tty"}},
		{"a named item gone", `{"containers":[{"name":"a"},{"name":"b"}]}`, `{"containers":[{"name":"a"}]}`, []string{"containers[name=b]"}},
		{"a positional item gone", `{"targets":[{"weight":50},{"weight":50}]}`, `{"targets":[{"weight":50}]}`, []string{"targets[1]"}},
		{"a map replaced by a scalar", `{"spec":{"a":{"b":1}}}`, `{"spec":{"a":"b"}}`, []string{"spec.a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Dropped(obj(t, c.sent).Object, obj(t, c.stored).Object)
			if !slices.Equal(got, c.want) {
				t.Errorf("dropped %q, want %q", got, c.want)
			}
		})
	}
}

// virtualRouter is an App Mesh route object with extra route text.
func virtualRouter(ns, route string) string {
	return `
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualRouter
metadata: {name: redis-server, namespace: ` + ns + `}
spec:
  listeners: [{portMapping: {port: 6379, protocol: tcp}}]
  routes:
    - name: route-to-redis
` + route
}

func TestDryRunRefusalsWriteNothing(t *testing.T) {
	c, _, ns := newClient(t)
	ctx := context.Background()
	cases := map[string]struct{ route, want string }{
		// The original redis template: App Mesh TCP routes have no prefix
		// match. Server-side apply prunes it even with strict validation;
		// the comparison of sent and stored names it.
		"a field the schema lacks": {`      tcpRoute:
        match: {prefix: /}
        action: {weightedTargets: [{virtualNodeRef: {name: redis-server-1}, weight: 100}]}
`, "the API server dropped spec.routes[name=route-to-redis].tcpRoute.match.prefix (found in a dry run; nothing was written)"},
		"a weight above the schema's maximum": {`      tcpRoute:
        action: {weightedTargets: [{virtualNodeRef: {name: redis-server-1}, weight: 150}]}
`, "spec.routes[0].tcpRoute.action.weightedTargets[0].weight"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			vr := obj(t, virtualRouter(ns, tc.route))
			_, err := c.DryRunApply(ctx, vr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("dry run: %v, want a refusal naming %s", err, tc.want)
			}
			if IsTransient(err) {
				t.Errorf("a refusal is reported as transient: %v", err)
			}
			if _, err := c.Get(ctx, vr); !apierrors.IsNotFound(err) {
				t.Errorf("after the refused dry run, get: %v; want not found", err)
			}
		})
	}
	t.Run("an accepted dry run stores nothing", func(t *testing.T) {
		vr := obj(t, virtualRouter(ns, `      tcpRoute:
        action: {weightedTargets: [{virtualNodeRef: {name: redis-server-1}, weight: 100}]}
`))
		out, err := c.DryRunApply(ctx, vr)
		if err != nil || out.GetName() != "redis-server" {
			t.Fatalf("dry run: %v", err)
		}
		if _, err := c.Get(ctx, vr); !apierrors.IsNotFound(err) {
			t.Errorf("after the dry run, get: %v; want not found", err)
		}
	})
}

// TestApplyReportsAFieldAnAdmissionPolicyDropped: strict validation keeps
// unknown fields out, but a mutating admission policy can still remove a
// field the template sets; the apply says which.
func TestApplyReportsAFieldAnAdmissionPolicyDropped(t *testing.T) {
	c, _, ns := newClient(t)
	ctx := context.Background()
	policy := obj(t, `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: drop-`+ns+`}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}
  matchConditions:
    - {name: has-debug, expression: "has(object.data) && 'debug' in object.data"}
  failurePolicy: Fail
  reinvocationPolicy: Never
  mutations:
    - patchType: JSONPatch
      jsonPatch: {expression: '[JSONPatch{op: "remove", path: "/data/debug"}]'}
`)
	binding := obj(t, `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {name: drop-`+ns+`}
spec:
  policyName: drop-`+ns+`
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: `+ns+`}}
`)
	if _, err := c.Apply(ctx, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), policy) })
	if _, err := c.Apply(ctx, binding); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), binding) })

	cm := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"`+ns+`"},"data":{"level":"info","debug":"true"}}`)
	var dropped *DroppedFieldsError
	// The policy takes effect once the API server has loaded it.
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.DryRunApply(ctx, cm)
		return errors.As(err, &dropped), nil
	})
	if err != nil {
		t.Fatalf("the dry run never reported the dropped field: %v", err)
	}
	if !dropped.DryRun || !slices.Equal(dropped.Fields, []string{"data.debug"}) {
		t.Errorf("dry run: %+v", dropped)
	}
	if _, err := c.Get(ctx, cm); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run wrote the ConfigMap: %v", err)
	}
	live, err := c.Apply(ctx, cm)
	if !errors.As(err, &dropped) || dropped.DryRun || !slices.Equal(dropped.Fields, []string{"data.debug"}) {
		t.Fatalf("apply: %v, want the dropped field data.debug", err)
	}
	if !strings.Contains(err.Error(), "ConfigMap "+ns+"/settings") || !strings.Contains(err.Error(), "data.debug") {
		t.Errorf("message %q does not name the object and the field", err)
	}
	if live == nil || live.Object["data"].(map[string]any)["level"] != "info" {
		t.Errorf("the stored object is not returned with the error: %v", live)
	}
}
