package appmesh

import (
	"context"
	"os"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/template"
)

var plane testcluster.Shared

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

const httpRouter = `
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualRouter
metadata:
  name: yelb-appserver
  namespace: NAMESPACE
  labels:
    app.kubernetes.io/managed-by: canary-engine
    canary.eks-canary.dev/microservice: yelb-appserver
spec:
  awsName: yelb-appserver-virtual-router
  meshRef: {name: yelb, uid: 00000000-0000-0000-0000-000000000000}
  listeners:
    - portMapping: {port: 4567, protocol: http}
  routes:
    - name: route-to-yelb-appserver
      httpRoute:
        match: {prefix: /}
        action:
          weightedTargets: [${CANARY_ROUTES}]
        retryPolicy:
          maxRetries: 2
          perRetryTimeout: {unit: ms, value: 2000}
          httpRetryEvents: [server-error, gateway-error]
`

const tcpRouter = `
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualRouter
metadata:
  name: yelb-db
  namespace: NAMESPACE
  labels:
    canary.eks-canary.dev/microservice: yelb-db
spec:
  awsName: yelb-db-virtual-router
  meshRef: {name: yelb, uid: 00000000-0000-0000-0000-000000000000}
  listeners:
    - portMapping: {port: 5432, protocol: tcp}
  routes:
    - name: route-to-yelb-db
      tcpRoute:
        action:
          weightedTargets: [${CANARY_ROUTES}]
`

// render fills a route template the way the engine does: the namespace,
// and the items in place of ${CANARY_ROUTES}.
func render(t *testing.T, tmpl, namespace string, items ...map[string]any) *unstructured.Unstructured {
	t.Helper()
	r, err := template.Render([]byte(strings.ReplaceAll(tmpl, "NAMESPACE", "${KUBERNETES_NAMESPACE}")), template.Values{
		Namespace: namespace, Microservice: "yelb-appserver", Version: 1, Routes: items,
		Image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/yelb-appserver:v1",
	})
	if err != nil {
		t.Fatalf("render route: %v", err)
	}
	return r.Objects[0].Obj
}

func target(name string, weight int64) map[string]any {
	return map[string]any{"virtualNodeRef": map[string]any{"name": name}, "weight": weight}
}

func applyWeights(t *testing.T, c *kube.Client, tmpl, ns string, backends ...router.Backend) {
	t.Helper()
	items, err := Router{}.Items(backends, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(context.Background(), render(t, tmpl, ns, items...)); err != nil {
		t.Fatalf("apply route with %s: %v", router.FormatBackends(backends), err)
	}
}

func TestWeightsRoundTripThroughTheRealCRD(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	c := kube.New(cluster.Clientset, cluster.Dynamic)
	ctx := context.Background()

	got, err := Router{}.Weights(ctx, cluster.Dynamic, ns, "yelb-appserver")
	if err != nil || len(got) != 0 {
		t.Fatalf("weights before any route: %v, %v; want none and no error", got, err)
	}

	steps := [][]router.Backend{
		{{Name: "yelb-appserver-3", Weight: 0}, {Name: "yelb-appserver-2", Weight: 100}},
		{{Name: "yelb-appserver-3", Weight: 30}, {Name: "yelb-appserver-2", Weight: 70}},
		{{Name: "yelb-appserver-3", Weight: 100}},
	}
	for _, want := range steps {
		applyWeights(t, c, httpRouter, ns, want...)
		got, err := Router{}.Weights(ctx, cluster.Dynamic, ns, "yelb-appserver")
		if err != nil {
			t.Fatal(err)
		}
		if !router.SameWeights(got, want) {
			t.Errorf("weights read back %s, applied %s", router.FormatBackends(got), router.FormatBackends(want))
		}
	}

	// Another microservice's router (TCP) is read on its own.
	applyWeights(t, c, tcpRouter, ns, router.Backend{Name: "yelb-db-1", Weight: 100})
	got, err = Router{}.Weights(ctx, cluster.Dynamic, ns, "yelb-db")
	if err != nil || !router.SameWeights(got, []router.Backend{{Name: "yelb-db-1", Weight: 100}}) {
		t.Errorf("tcpRoute weights %s, %v", router.FormatBackends(got), err)
	}
	got, err = Router{}.Weights(ctx, cluster.Dynamic, ns, "yelb-appserver")
	if err != nil || !router.SameWeights(got, steps[2]) {
		t.Errorf("yelb-appserver weights changed by another microservice's router: %s, %v", router.FormatBackends(got), err)
	}
}

func TestRealSchemaRejectsWeight150(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	c := kube.New(cluster.Clientset, cluster.Dynamic)
	// Written by hand: Items itself refuses 150.
	obj := render(t, httpRouter, ns, target("yelb-appserver-3", 150))
	_, err := c.Apply(context.Background(), obj)
	if err == nil {
		t.Fatal("API server accepted weight 150")
	}
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "weightedTargets[0].weight") || !strings.Contains(err.Error(), "100") {
		t.Errorf("error %v: want an Invalid error on weightedTargets[0].weight naming the limit 100", err)
	}
	if kube.IsTransient(err) {
		t.Errorf("schema rejection classified as transient: %v", err)
	}
}

func TestDisagreeingRoutesAreReported(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	c := kube.New(cluster.Clientset, cluster.Dynamic)
	obj := render(t, httpRouter, ns, target("yelb-appserver-3", 30), target("yelb-appserver-2", 70))
	routes, _, _ := unstructured.NestedSlice(obj.Object, "spec", "routes")
	second := map[string]any{
		"name": "hand-edited",
		"http2Route": map[string]any{
			"match":  map[string]any{"prefix": "/grpc"},
			"action": map[string]any{"weightedTargets": []any{map[string]any{"virtualNodeRef": map[string]any{"name": "yelb-appserver-2"}, "weight": int64(100)}}},
		},
	}
	if err := unstructured.SetNestedSlice(obj.Object, append(routes, second), "spec", "routes"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	_, err := Router{}.Weights(context.Background(), cluster.Dynamic, ns, "yelb-appserver")
	if err == nil || !strings.Contains(err.Error(), "disagree") || !strings.Contains(err.Error(), "yelb-appserver-2=100") {
		t.Errorf("error %v: want the disagreement named", err)
	}
}
