package specs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/naming"
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

// apply sends obj with server-side apply as the engine does. The API server
// ignores fieldValidation for apply patches and silently prunes fields its
// schema does not know (the original redis route lost its prefix match that
// way), so apply compares what was stored with what was sent and reports
// every field that did not survive.
func apply(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) error {
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	force := true
	stored, err := dyn.Resource(gvr).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
		FieldManager: naming.FieldManager, Force: &force,
	})
	if err != nil {
		return err
	}
	if lost := pruned(obj.Object, stored.Object, ""); len(lost) > 0 {
		return fmt.Errorf("the API server dropped fields its schema does not know: %s", strings.Join(lost, ", "))
	}
	return nil
}

// pruned lists the paths of sent that stored lacks or holds with another value.
func pruned(sent, stored any, path string) []string {
	switch s := sent.(type) {
	case map[string]any:
		st, ok := stored.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		for k, v := range s {
			sv, ok := st[k]
			if !ok {
				out = append(out, strings.TrimPrefix(path+"."+k, "."))
				continue
			}
			out = append(out, pruned(v, sv, path+"."+k)...)
		}
		return out
	case []any:
		st, ok := stored.([]any)
		if !ok || len(st) != len(s) {
			return []string{path}
		}
		var out []string
		for i := range s {
			out = append(out, pruned(s[i], st[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	default:
		if fmt.Sprint(asNumber(sent)) != fmt.Sprint(asNumber(stored)) {
			return []string{strings.TrimPrefix(path, ".")}
		}
		return nil
	}
}

func asNumber(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return v
}

// applyRendered applies workloads first and route objects last, as the engine does.
func applyRendered(t *testing.T, dyn dynamic.Interface, r *template.Rendered) {
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
			if err := apply(ctx, dyn, resourceFor(t, o.Obj), o.Obj); err != nil {
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
	dyn, kube := c.Dynamic, c.Clientset
	for _, s := range services {
		for _, rn := range routerNames {
			t.Run(s.name+"/"+rn, func(t *testing.T) {
				ns := c.Namespace(t)
				if s.inPlace {
					applyRendered(t, dyn, render(t, s, rn, ns, 3, 100))
					next := render(t, s, rn, ns, 4, 100)
					applyRendered(t, dyn, next)
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
				applyRendered(t, dyn, render(t, s, rn, ns, 2, 100))
				canary := render(t, s, rn, ns, 3, 30)
				applyRendered(t, dyn, canary)
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
					if _, err := kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{}); err != nil {
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
	dyn, ns := c.Dynamic, c.Namespace(t)
	s := services[3]
	r := render(t, s, "appmesh", ns, 1, 100)
	vr := find(t, r, "VirtualRouter", s.name).DeepCopy()
	routes, _, _ := unstructured.NestedSlice(vr.Object, "spec", "routes")
	route := routes[0].(map[string]any)
	tcp := route["tcpRoute"].(map[string]any)
	tcp["match"] = map[string]any{"prefix": "/"}
	_ = unstructured.SetNestedSlice(vr.Object, routes, "spec", "routes")
	err := apply(context.Background(), dyn, resourceFor(t, vr), vr)
	if err == nil || !strings.Contains(err.Error(), "spec.routes[0].tcpRoute.match.prefix") {
		t.Fatalf("tcpRoute with a prefix match: %v, want the field reported as dropped", err)
	}

	canary := render(t, services[0], "appmesh", ns, 3, 30)
	bad := find(t, canary, "VirtualRouter", services[0].name).DeepCopy()
	routes, _, _ = unstructured.NestedSlice(bad.Object, "spec", "routes")
	targets, _, _ := unstructured.NestedSlice(routes[0].(map[string]any), "httpRoute", "action", "weightedTargets")
	targets[0].(map[string]any)["weight"] = int64(150)
	_ = unstructured.SetNestedSlice(routes[0].(map[string]any), targets, "httpRoute", "action", "weightedTargets")
	_ = unstructured.SetNestedSlice(bad.Object, routes, "spec", "routes")
	if err := apply(context.Background(), dyn, resourceFor(t, bad), bad); err == nil {
		t.Fatal("a weight of 150 was accepted")
	}
}
