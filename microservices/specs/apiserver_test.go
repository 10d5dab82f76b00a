package specs

import (
	"context"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/template"
)

// One control plane with the real CRDs, started on first use and shared by
// this package's tests.
var plane testcluster.Shared

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

func resourceFor(t *testing.T, obj *unstructured.Unstructured) schema.GroupVersionResource {
	t.Helper()
	gvk := obj.GroupVersionKind()
	for _, k := range template.AllowedKinds() {
		if k.GroupVersionKind() == gvk {
			return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
		}
	}
	t.Fatalf("no resource for %s", gvk)
	return schema.GroupVersionResource{}
}

// apply sends obj with server-side apply through the engine's own client,
// which reports every field the API server did not keep (the original redis
// route lost its prefix match that way).
func apply(ctx context.Context, c *testcluster.Cluster, obj *unstructured.Unstructured) error {
	_, err := kube.New(c.Clientset, c.Dynamic).Apply(ctx, obj)
	return err
}

// applyRendered applies workloads first and route objects last, as the engine does.
func applyRendered(t *testing.T, c *testcluster.Cluster, r *template.Rendered) {
	t.Helper()
	ctx := context.Background()
	isRoute := func(o *unstructured.Unstructured) bool {
		k := o.GetKind()
		return k == "VirtualRouter" || k == "HTTPRoute"
	}
	for _, pass := range []bool{false, true} {
		for _, o := range r.Objects {
			if isRoute(o.Obj) != pass {
				continue
			}
			if err := apply(ctx, c, o.Obj); err != nil {
				t.Fatalf("the API server rejects %s/%s: %v", o.Obj.GetKind(), o.Obj.GetName(), err)
			}
		}
	}
}

func get(t *testing.T, dyn dynamic.Interface, like *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got, err := dyn.Resource(resourceFor(t, like)).Namespace(like.GetNamespace()).Get(context.Background(), like.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Every template, for both traffic layers, is accepted by a real API server
// with the real CRDs, through a whole canary: version 2 alone, then version 3
// beside it at 30%. In-place templates are applied for two versions and keep
// one StatefulSet.
func TestTemplatesAcceptedByTheAPIServer(t *testing.T) {
	c := plane.Get(t)
	dyn, clientset := c.Dynamic, c.Clientset
	for _, s := range services {
		for _, rn := range routerNames {
			t.Run(s.name+"/"+rn, func(t *testing.T) {
				ns := c.Namespace(t)
				if s.inPlace {
					applyRendered(t, c, render(t, s, rn, ns, 3, 100))
					next := render(t, s, rn, ns, 4, 100)
					applyRendered(t, c, next)
					sts := get(t, dyn, find(t, next, "StatefulSet", s.name))
					if v, _, _ := unstructured.NestedString(sts.Object, "spec", "template", "metadata", "labels", "version"); v != "4" {
						t.Fatalf("StatefulSet pods labelled version %q after the upgrade, want 4", v)
					}
					list, err := dyn.Resource(resourceFor(t, sts)).Namespace(ns).List(context.Background(), metav1.ListOptions{})
					if err != nil || len(list.Items) != 1 {
						t.Fatalf("%d StatefulSets after two versions (%v), want 1", len(list.Items), err)
					}
					return
				}
				applyRendered(t, c, render(t, s, rn, ns, 2, 100))
				canary := render(t, s, rn, ns, 3, 30)
				applyRendered(t, c, canary)
				switch rn {
				case "appmesh":
					vr := get(t, dyn, find(t, canary, "VirtualRouter", s.name))
					routes, _, _ := unstructured.NestedSlice(vr.Object, "spec", "routes")
					targets, _, _ := unstructured.NestedSlice(routes[0].(map[string]any), "httpRoute", "action", "weightedTargets")
					if len(targets) != 2 {
						t.Fatalf("stored VirtualRouter has %d targets, want 2: %v", len(targets), targets)
					}
				case "gatewayapi":
					hr := get(t, dyn, find(t, canary, "HTTPRoute", s.name))
					rules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
					refs, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "backendRefs")
					if len(refs) != 2 {
						t.Fatalf("stored HTTPRoute has %d backendRefs, want 2: %v", len(refs), refs)
					}
				}
				for _, name := range []string{s.name + "-2", s.name + "-3"} {
					if _, err := clientset.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{}); err != nil {
						t.Fatalf("Deployment %s: %v", name, err)
					}
				}
			})
		}
	}
}

// The API server really applies the CRD schemas: the original redis route's
// prefix match is dropped (and reported) and an out-of-range weight refused.
func TestAPIServerRefusesWhatTheCRDsForbid(t *testing.T) {
	c := plane.Get(t)
	ns := c.Namespace(t)
	s := services[3]
	r := render(t, s, "appmesh", ns, 1, 100)
	vr := find(t, r, "VirtualRouter", s.name).DeepCopy()
	routes, _, _ := unstructured.NestedSlice(vr.Object, "spec", "routes")
	route := routes[0].(map[string]any)
	tcp := route["tcpRoute"].(map[string]any)
	tcp["match"] = map[string]any{"prefix": "/"}
	_ = unstructured.SetNestedSlice(vr.Object, routes, "spec", "routes")
	err := apply(context.Background(), c, vr)
	if err == nil || !strings.Contains(err.Error(), "spec.routes[name=route-to-redis-server].tcpRoute.match.prefix") {
		t.Fatalf("tcpRoute with a prefix match: %v, want the field reported as dropped", err)
	}

	canary := render(t, services[0], "appmesh", ns, 3, 30)
	bad := find(t, canary, "VirtualRouter", services[0].name).DeepCopy()
	routes, _, _ = unstructured.NestedSlice(bad.Object, "spec", "routes")
	targets, _, _ := unstructured.NestedSlice(routes[0].(map[string]any), "httpRoute", "action", "weightedTargets")
	targets[0].(map[string]any)["weight"] = int64(150)
	_ = unstructured.SetNestedSlice(routes[0].(map[string]any), targets, "httpRoute", "action", "weightedTargets")
	_ = unstructured.SetNestedSlice(bad.Object, routes, "spec", "routes")
	if err := apply(context.Background(), c, bad); err == nil {
		t.Fatal("a weight of 150 was accepted")
	}
}
