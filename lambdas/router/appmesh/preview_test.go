package appmesh

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/router"
)

// The preview is one more route of the VirtualRouter, matched by a header
// and sending everything to the new version: the real CRD accepts it, and
// the production weights read back ignore it.
func TestPreviewRouteThroughTheRealCRD(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	c := kube.New(cluster.Clientset, cluster.Dynamic)
	ctx := context.Background()
	production := []router.Backend{{Name: "yelb-appserver-3", Weight: 0}, {Name: "yelb-appserver-2", Weight: 100}}
	items, err := Router{}.Items(production, 0)
	if err != nil {
		t.Fatal(err)
	}
	previewItems, err := Router{}.Items([]router.Backend{{Name: "yelb-appserver-3", Weight: 100}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	route := render(t, httpRouter, ns, items...)
	objs, err := Router{}.Preview(route, previewItems)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetName() != "yelb-appserver" {
		t.Fatalf("preview objects %v, want the VirtualRouter alone", objs)
	}
	if _, err := c.Apply(ctx, objs[0]); err != nil {
		t.Fatalf("the CRD refused the preview route: %v", err)
	}
	live, err := c.Get(ctx, objs[0])
	if err != nil {
		t.Fatal(err)
	}
	routes, _, _ := unstructured.NestedSlice(live.Object, "spec", "routes")
	if len(routes) != 2 {
		t.Fatalf("%d routes stored, want the preview and the production route", len(routes))
	}
	first := routes[0].(map[string]any)
	header, _, _ := unstructured.NestedSlice(first, "httpRoute", "match", "headers")
	targets, _, _ := unstructured.NestedSlice(first, "httpRoute", "action", "weightedTargets")
	retries, _, _ := unstructured.NestedInt64(first, "httpRoute", "retryPolicy", "maxRetries")
	if first["name"] != PreviewRoute || first["priority"] != int64(0) || len(header) != 1 || len(targets) != 1 || retries != 2 {
		t.Errorf("preview route stored as %v", first)
	}
	if h := header[0].(map[string]any); h["name"] != PreviewHeader {
		t.Errorf("preview header %v", h)
	}
	if name, _, _ := unstructured.NestedString(targets[0].(map[string]any), "virtualNodeRef", "name"); name != "yelb-appserver-3" {
		t.Errorf("preview sends to %s", name)
	}
	got, err := Router{}.Weights(ctx, cluster.Dynamic, ns, "yelb-appserver")
	if err != nil || !router.SameWeights(got, production) {
		t.Errorf("production weights with a preview: %s, %v; want %s", router.FormatBackends(got), err, router.FormatBackends(production))
	}
	if addr := (Router{}).PreviewAddress(route); !strings.Contains(addr, "x-canary-preview: true") {
		t.Errorf("preview address %q", addr)
	}
}

func TestPreviewRefusals(t *testing.T) {
	items, _ := Router{}.Items([]router.Backend{{Name: "yelb-db-2", Weight: 100}}, 0)
	_, err := Router{}.Preview(render(t, tcpRouter, "yelb", items...), items)
	if err == nil || !strings.Contains(err.Error(), "has no httpRoute or http2Route") || !strings.Contains(err.Error(), `use strategy "canary"`) {
		t.Errorf("tcpRoute preview: %v", err)
	}
	reserved := strings.Replace(httpRouter, "name: route-to-yelb-appserver", "name: "+PreviewRoute, 1)
	_, err = Router{}.Preview(render(t, reserved, "yelb", items...), items)
	if err == nil || !strings.Contains(err.Error(), "is reserved for the blue-green preview") {
		t.Errorf("reserved route name: %v", err)
	}
}
