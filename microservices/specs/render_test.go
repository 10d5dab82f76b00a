package specs

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/router/appmesh"
	"github.com/eks-canary/platform/lambdas/router/gatewayapi"
	"github.com/eks-canary/platform/lambdas/template"
)

func routerFor(t *testing.T, name string) router.Router {
	t.Helper()
	switch name {
	case "appmesh":
		return appmesh.Router{}
	case "gatewayapi":
		return gatewayapi.Router{}
	}
	t.Fatalf("no router %q", name)
	return nil
}

// serviceDomain stands for the stack's private DNS domain.
const serviceDomain = "canary.internal"

// render fills a template as the engine does at a canary step: version 3
// takes weight% and version 2 the rest; in place, the route (if any) names
// the microservice.
func render(t *testing.T, s service, routerName, namespace string, version, weight int) *template.Rendered {
	t.Helper()
	backends := []router.Backend{{Name: s.name + "-3", Weight: weight}, {Name: s.name + "-2", Weight: 100 - weight}}
	if version == 2 {
		backends = []router.Backend{{Name: s.name + "-2", Weight: 100}}
	}
	if s.inPlace {
		backends = []router.Backend{{Name: s.name, Weight: 100}}
	}
	routes, err := routerFor(t, routerName).Items(backends, s.port)
	if err != nil {
		t.Fatal(err)
	}
	r, err := template.Render(s.template(t, routerName), template.Values{
		Namespace: namespace, Microservice: s.name, Version: version, Routes: routes, ServiceDomain: serviceDomain,
		Image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/" + s.name + ":0a1b2c3d-20260101120000",
	})
	if err != nil {
		t.Fatalf("%s %s template: %v", s.name, routerName, err)
	}
	return r
}

func names(objs []*unstructured.Unstructured) map[string]bool {
	out := map[string]bool{}
	for _, o := range objs {
		out[o.GetKind()+"/"+o.GetName()] = true
	}
	return out
}

func find(t *testing.T, r *template.Rendered, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range r.Objects {
		if o.Obj.GetKind() == kind && o.Obj.GetName() == name {
			return o.Obj
		}
	}
	t.Fatalf("no %s/%s in the template", kind, name)
	return nil
}

func str(obj *unstructured.Unstructured, path ...string) string {
	v, _, _ := unstructured.NestedString(obj.Object, path...)
	return v
}

// podSpec returns the pod template of a workload.
func podSpec(t *testing.T, w *unstructured.Unstructured) (labels map[string]string, spec map[string]any) {
	t.Helper()
	labels, _, _ = unstructured.NestedStringMap(w.Object, "spec", "template", "metadata", "labels")
	spec, ok, _ := unstructured.NestedMap(w.Object, "spec", "template", "spec")
	if !ok {
		t.Fatalf("%s/%s has no pod template", w.GetKind(), w.GetName())
	}
	return labels, spec
}

func TestTemplatesRenderWithTheEngineRenderer(t *testing.T) {
	for _, s := range services {
		for _, rn := range routerNames {
			t.Run(s.name+"/"+rn, func(t *testing.T) {
				r := render(t, s, rn, "yelb", 3, 30)
				perVersion, shared := names(r.PerVersion()), names(r.Shared())
				v := s.name + "-3"

				var workload *unstructured.Unstructured
				if s.inPlace {
					if len(perVersion) != 0 {
						t.Fatalf("in-place template has per-version objects %v: the version may only label pods", perVersion)
					}
					workload = find(t, r, "StatefulSet", s.name)
					if _, ok, _ := unstructured.NestedSlice(workload.Object, "spec", "volumeClaimTemplates"); !ok {
						t.Fatal("StatefulSet without volumeClaimTemplates: its data would not survive the pod")
					}
					if sel, _, _ := unstructured.NestedStringMap(workload.Object, "spec", "selector", "matchLabels"); len(sel) != 1 || sel["app"] != s.name {
						t.Fatalf("StatefulSet selector %v must not name the version (it is immutable)", sel)
					}
					if !shared["Service/"+s.name] {
						t.Fatalf("no Service %s for clients: %v", s.name, shared)
					}
					if strings.Contains(string(s.template(t, rn)), "${CANARY_ROUTES}") {
						t.Fatal("an in-place template needs no ${CANARY_ROUTES}: there is no split")
					}
					// A new version renders the same objects: it replaces the old in place.
					next := render(t, s, rn, "yelb", 4, 100)
					if got := names(next.Shared()); len(got) != len(shared) {
						t.Fatalf("version 4 renders %v, version 3 %v", got, shared)
					}
				} else {
					wantPer := map[string]bool{"Deployment/" + v: true, "Service/" + v: true}
					switch rn {
					case "appmesh":
						wantPer["VirtualNode/"+v] = true
					case "gatewayapi":
						wantPer["TargetGroupPolicy/"+v] = true
					}
					if len(perVersion) != len(wantPer) {
						t.Fatalf("per-version objects %v, want %v", perVersion, wantPer)
					}
					for k := range wantPer {
						if !perVersion[k] {
							t.Fatalf("per-version objects %v lack %s", perVersion, k)
						}
					}
					workload = find(t, r, "Deployment", v)
					svc := find(t, r, "Service", v)
					if sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector"); sel["app"] != s.name || sel["version"] != "3" {
						t.Fatalf("version Service selects %v", sel)
					}
				}

				labels, pod := podSpec(t, workload)
				if labels["app"] != s.name || labels["version"] != "3" {
					t.Fatalf("pod labels %v, want app=%s version=3", labels, s.name)
				}
				if sa, _ := pod["serviceAccountName"].(string); (rn == "appmesh") != (sa == "appmesh-envoy") {
					t.Fatalf("serviceAccountName %q with router %s", sa, rn)
				}
				containers, _, _ := unstructured.NestedSlice(pod, "containers")
				for _, c := range containers {
					c := c.(map[string]any)
					if c["image"] != "123456789012.dkr.ecr.us-west-2.amazonaws.com/"+s.name+":0a1b2c3d-20260101120000" {
						t.Errorf("container image %v", c["image"])
					}
					for _, probe := range []string{"readinessProbe", "livenessProbe"} {
						if _, ok := c[probe]; !ok {
							t.Errorf("container %v has no %s", c["name"], probe)
						}
					}
					if cpu, _, _ := unstructured.NestedString(c, "resources", "requests", "cpu"); cpu == "" {
						t.Errorf("container %v has no CPU request", c["name"])
					}
					if mem, _, _ := unstructured.NestedString(c, "resources", "requests", "memory"); mem == "" {
						t.Errorf("container %v has no memory request", c["name"])
					}
					if nonRoot, _, _ := unstructured.NestedBool(c, "securityContext", "runAsNonRoot"); !nonRoot {
						t.Errorf("container %v may run as root", c["name"])
					}
				}

				for _, o := range r.Objects {
					if o.Obj.GetKind() == "Service" && str(o.Obj, "spec", "type") == "LoadBalancer" {
						t.Fatalf("Service %s is a LoadBalancer: the environment provides the one ingress", o.Obj.GetName())
					}
				}
				if rn == "appmesh" {
					vs := find(t, r, "VirtualService", s.name)
					if ref := str(vs, "spec", "provider", "virtualRouter", "virtualRouterRef", "name"); ref != s.name {
						t.Fatalf("VirtualService %s is served by router %q, want its VirtualRouter %s", s.name, ref, s.name)
					}
					if !shared["Service/"+s.name] {
						t.Fatal("no Service giving the VirtualService a DNS name")
					}
				}
			})
		}
	}
}

// The route object carries exactly the engine's weights.
func TestRouteObjectsCarryTheEngineWeights(t *testing.T) {
	for _, s := range services {
		if s.inPlace {
			continue
		}
		t.Run(s.name+"/appmesh", func(t *testing.T) {
			r := render(t, s, "appmesh", "yelb", 3, 30)
			vr := find(t, r, "VirtualRouter", s.name)
			routes, _, _ := unstructured.NestedSlice(vr.Object, "spec", "routes")
			if len(routes) != 1 {
				t.Fatalf("%d routes, want 1", len(routes))
			}
			targets, _, _ := unstructured.NestedSlice(routes[0].(map[string]any), "httpRoute", "action", "weightedTargets")
			got := map[string]int64{}
			for _, tg := range targets {
				name, _, _ := unstructured.NestedString(tg.(map[string]any), "virtualNodeRef", "name")
				got[name] = number(tg.(map[string]any)["weight"])
			}
			if len(got) != 2 || got[s.name+"-3"] != 30 || got[s.name+"-2"] != 70 {
				t.Fatalf("weighted targets %v, want %s-3:30 %s-2:70", got, s.name, s.name)
			}
		})
		t.Run(s.name+"/gatewayapi", func(t *testing.T) {
			r := render(t, s, "gatewayapi", "yelb", 3, 30)
			route := find(t, r, "HTTPRoute", s.name)
			parents, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
			if len(parents) != 1 || parents[0].(map[string]any)["name"] != "canary-gateway" || parents[0].(map[string]any)["sectionName"] != "http" {
				t.Fatalf("parentRefs %v, want canary-gateway/http", parents)
			}
			rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
			refs, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "backendRefs")
			got := map[string][2]int64{}
			for _, ref := range refs {
				m := ref.(map[string]any)
				got[m["name"].(string)] = [2]int64{number(m["weight"]), number(m["port"])}
			}
			port := int64(s.port)
			if len(got) != 2 || got[s.name+"-3"] != [2]int64{30, port} || got[s.name+"-2"] != [2]int64{70, port} {
				t.Fatalf("backendRefs %v, want %s-3 and %s-2 at 30/70 on port %d", got, s.name, s.name, port)
			}
		})
	}
}

// number reads a JSON number whether it was decoded as float64 or int64.
func number(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return -1
}
