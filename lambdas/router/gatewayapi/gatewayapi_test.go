package gatewayapi

import (
	"context"
	"fmt"
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

// The port is the one rule the HTTPRoute adds to the shared backend checks.
func TestItemsRefuseBadPort(t *testing.T) {
	backends := []router.Backend{{Name: "yelb-ui-3", Weight: 100}}
	for _, port := range []int{0, -1, 65536, 70000} {
		_, err := Router{}.Items(backends, port)
		want := fmt.Sprintf("HTTPRoute rule: port %d is out of range: give the versions' Service port (1 to 65535)", port)
		if err == nil || err.Error() != want {
			t.Errorf("port %d: error %v, want %s", port, err, want)
		}
	}
	for _, port := range []int{1, 65535} {
		if _, err := (Router{}).Items(backends, port); err != nil {
			t.Errorf("port %d refused: %v", port, err)
		}
	}
}

const httpRoute = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: yelb-ui
  namespace: NAMESPACE
  labels:
    app.kubernetes.io/managed-by: canary-engine
    canary.eks-canary.dev/microservice: yelb-ui
spec:
  parentRefs:
    - name: canary-gateway
      sectionName: http
  rules:
    - matches:
        - path: {type: PathPrefix, value: /}
      backendRefs: [${CANARY_ROUTES}]
`

// render fills the HTTPRoute the way the engine does: the namespace, and
// the items in place of ${CANARY_ROUTES}.
func render(t *testing.T, namespace string, items ...map[string]any) *unstructured.Unstructured {
	t.Helper()
	r, err := template.Render([]byte(strings.ReplaceAll(httpRoute, "NAMESPACE", "${KUBERNETES_NAMESPACE}")), template.Values{
		Namespace: namespace, Microservice: "yelb-ui", Version: 1, Routes: items,
		Image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/yelb-ui:v1",
	})
	if err != nil {
		t.Fatalf("render route: %v", err)
	}
	return r.Objects[0].Obj
}

func TestWeightsRoundTripThroughTheRealCRD(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	c := kube.New(cluster.Clientset, cluster.Dynamic)
	ctx := context.Background()

	got, err := Router{}.Weights(ctx, cluster.Dynamic, ns, "yelb-ui")
	if err != nil || len(got) != 0 {
		t.Fatalf("weights before any route: %v, %v; want none and no error", got, err)
	}
	for _, want := range [][]router.Backend{
		{{Name: "yelb-ui-2", Weight: 100}, {Name: "yelb-ui-3", Weight: 0}},
		{{Name: "yelb-ui-2", Weight: 75}, {Name: "yelb-ui-3", Weight: 25}},
		{{Name: "yelb-ui-3", Weight: 100}},
	} {
		items, err := Router{}.Items(want, 80)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Apply(ctx, render(t, ns, items...)); err != nil {
			t.Fatalf("apply HTTPRoute with %s: %v", router.FormatBackends(want), err)
		}
		got, err := Router{}.Weights(ctx, cluster.Dynamic, ns, "yelb-ui")
		if err != nil {
			t.Fatal(err)
		}
		if !router.SameWeights(got, want) {
			t.Errorf("weights read back %s, applied %s", router.FormatBackends(got), router.FormatBackends(want))
		}
	}
	if got, err := (Router{}).Weights(ctx, cluster.Dynamic, ns, "yelb-appserver"); err != nil || len(got) != 0 {
		t.Errorf("another microservice sees %s, %v", router.FormatBackends(got), err)
	}
}

func TestOmittedWeightReadsAsOne(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	c := kube.New(cluster.Clientset, cluster.Dynamic)
	if _, err := c.Apply(context.Background(), render(t, ns, map[string]any{"name": "yelb-ui-1", "port": int64(80)})); err != nil {
		t.Fatal(err)
	}
	got, err := Router{}.Weights(context.Background(), cluster.Dynamic, ns, "yelb-ui")
	if err != nil || !router.SameWeights(got, []router.Backend{{Name: "yelb-ui-1", Weight: 1}}) {
		t.Errorf("weights %s, %v; want yelb-ui-1=1", router.FormatBackends(got), err)
	}
}

func TestRealSchemaRejectsInvalidBackends(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	c := kube.New(cluster.Clientset, cluster.Dynamic)
	for name, tt := range map[string]struct {
		item map[string]any
		want string
	}{
		// Gateway API allows weights up to 1,000,000; the engine stays within 0..100.
		"weight above the API limit": {map[string]any{"kind": "Service", "name": "yelb-ui-3", "port": int64(80), "weight": int64(1000001)}, "weight"},
		"Service without port":       {map[string]any{"kind": "Service", "name": "yelb-ui-3", "weight": int64(100)}, "port"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Apply(context.Background(), render(t, ns, tt.item))
			if err == nil {
				t.Fatalf("API server accepted %v", tt.item)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v: want an Invalid error about %s", err, tt.want)
			}
		})
	}
}
