package gatewayapi

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router"
)

// The preview is a second HTTPRoute with its own hostname sending
// everything to the new version: the real CRD accepts it, and the
// production weights read back ignore it.
func TestPreviewHTTPRouteThroughTheRealCRD(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	c := kube.New(cluster.Clientset, cluster.Dynamic)
	ctx := context.Background()
	production := []router.Backend{{Name: "yelb-ui-3", Weight: 0}, {Name: "yelb-ui-2", Weight: 100}}
	items, err := Router{}.Items(production, 80)
	if err != nil {
		t.Fatal(err)
	}
	previewItems, err := Router{}.Items([]router.Backend{{Name: "yelb-ui-3", Weight: 100}}, 80)
	if err != nil {
		t.Fatal(err)
	}
	route := render(t, ns, items...)
	if err := unstructured.SetNestedStringSlice(route.Object, []string{"yelb-ui." + ns + ".example.internal"}, "spec", "hostnames"); err != nil {
		t.Fatal(err)
	}
	objs, err := Router{}.Preview(route, previewItems)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0] != route || objs[1].GetName() != "yelb-ui-preview" || objs[1].GetLabels()[naming.LabelPreview] != "true" {
		t.Fatalf("preview objects %v, want the route unchanged and yelb-ui-preview", objs)
	}
	for _, o := range objs {
		if _, err := c.Apply(ctx, o); err != nil {
			t.Fatalf("apply %s: %v", o.GetName(), err)
		}
	}
	hosts, _, _ := unstructured.NestedStringSlice(objs[1].Object, "spec", "hostnames")
	if len(hosts) != 1 || hosts[0] != "yelb-ui-preview."+ns+".example.internal" {
		t.Errorf("preview hostnames %v", hosts)
	}
	if err := (Router{}).CheckRoute(objs[1], "example.internal"); err != nil {
		t.Errorf("the preview breaks the router's own rules: %v", err)
	}
	got, err := Router{}.Weights(ctx, cluster.Dynamic, ns, "yelb-ui")
	if err != nil || !router.SameWeights(got, production) {
		t.Errorf("production weights with a preview: %s, %v; want %s", router.FormatBackends(got), err, router.FormatBackends(production))
	}
	if addr := (Router{}).PreviewAddress(route); addr != "host yelb-ui-preview."+ns+".example.internal" {
		t.Errorf("preview address %q", addr)
	}
}

func TestPreviewHostnameTooLong(t *testing.T) {
	route := render(t, "yelb")
	long := strings.Repeat("a", 60) + ".yelb.example.internal"
	if err := unstructured.SetNestedStringSlice(route.Object, []string{long}, "spec", "hostnames"); err != nil {
		t.Fatal(err)
	}
	items, _ := Router{}.Items([]router.Backend{{Name: "yelb-ui-3", Weight: 100}}, 80)
	_, err := Router{}.Preview(route, items)
	if err == nil || !strings.Contains(err.Error(), "shorten the route's first hostname label") {
		t.Errorf("error %v", err)
	}
}
