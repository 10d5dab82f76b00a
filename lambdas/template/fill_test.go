package template

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// twoRoutes holds ${CANARY_ROUTES} in two routes of one VirtualRouter and in
// a list that also carries an item of its own.
const twoRoutes = `apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualRouter
metadata:
  name: ${MICROSERVICE_NAME}
spec:
  listeners:
    - portMapping: {port: 4567, protocol: http}
  routes:
    - name: http
      httpRoute:
        match: {prefix: /}
        action:
          weightedTargets: [${CANARY_ROUTES}]
    - name: http2
      http2Route:
        match: {prefix: /}
        action:
          weightedTargets: [${CANARY_ROUTES}, {virtualNodeRef: {name: mirror}, weight: 0}]
---
apiVersion: v1
kind: Service
metadata:
  name: ${MICROSERVICE_NAME}-${CANARY_VERSION}
spec:
  ports: [{port: 4567}]
`

func targets(t *testing.T, r *Rendered, route int, kind string) []any {
	t.Helper()
	routes, _, _ := unstructured.NestedSlice(r.Objects[0].Obj.Object, "spec", "routes")
	l, _, err := unstructured.NestedSlice(routes[route].(map[string]any), kind, "action", "weightedTargets")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func target(name string, weight int64) map[string]any {
	return map[string]any{"virtualNodeRef": map[string]any{"name": name}, "weight": weight}
}

// Fill on an open rendering gives exactly what Render gives, for every
// placement of the placeholder and every list of routes.
func TestFillMatchesRender(t *testing.T) {
	cases := []struct {
		name, tmpl string
		routes     []map[string]any
		check      func(t *testing.T, r *Rendered)
	}{
		{"app mesh, two backends", string(read(t, "appmesh.yml")), meshRoutes, nil},
		{"gateway api, two backends", string(read(t, "gatewayapi.yml")), gatewayRoutes, nil},
		{"no routes leaves the list empty", string(read(t, "appmesh.yml")), nil, nil},
		{"placeholder in two places", twoRoutes, meshRoutes, func(t *testing.T, r *Rendered) {
			want := []any{target("yelb-appserver-3", 25), target("yelb-appserver-2", 75)}
			if got := targets(t, r, 0, "httpRoute"); !reflect.DeepEqual(got, want) {
				t.Errorf("first route %v, want %v", got, want)
			}
			if got := targets(t, r, 1, "http2Route"); !reflect.DeepEqual(got, append(want, target("mirror", 0))) {
				t.Errorf("second route %v, want the routes then the mirror", got)
			}
		}},
		{"placeholder in two places, one backend", twoRoutes, []map[string]any{target("yelb-appserver-3", 100)}, func(t *testing.T, r *Rendered) {
			if got := targets(t, r, 1, "http2Route"); len(got) != 2 || !reflect.DeepEqual(got[0], target("yelb-appserver-3", 100)) {
				t.Errorf("second route %v", got)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := values("yelb-appserver", nil)
			open, err := Open([]byte(c.tmpl), v)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got, err := open.Fill(c.routes)
			if err != nil {
				t.Fatalf("Fill: %v", err)
			}
			v.Routes = c.routes
			want, err := Render([]byte(c.tmpl), v)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if len(got.Objects) != len(want.Objects) {
				t.Fatalf("%d objects, Render gives %d", len(got.Objects), len(want.Objects))
			}
			for i := range want.Objects {
				if !reflect.DeepEqual(got.Objects[i].Obj.Object, want.Objects[i].Obj.Object) || got.Objects[i].PerVersion != want.Objects[i].PerVersion {
					t.Errorf("object %d:\n got %v\nwant %v", i, got.Objects[i].Obj.Object, want.Objects[i].Obj.Object)
				}
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

// Every Fill is a copy: filling again, or editing what a Fill returned,
// changes neither earlier results nor the open rendering.
func TestFillCopies(t *testing.T) {
	open, err := Open([]byte(twoRoutes), values("yelb-appserver", nil))
	if err != nil {
		t.Fatal(err)
	}
	given := []map[string]any{target("a", 100)}
	first, err := open.Fill(given)
	if err != nil {
		t.Fatal(err)
	}
	given[0]["weight"] = int64(1)
	if got := targets(t, first, 0, "httpRoute")[0].(map[string]any)["weight"]; got != int64(100) {
		t.Errorf("the rendering shares the caller's items: editing them set its weight to %v", got)
	}
	targets(t, first, 0, "httpRoute")[0].(map[string]any)["weight"] = int64(7)
	first.Objects[1].Obj.SetLabels(map[string]string{"edited": "yes"})
	if got := targets(t, first, 1, "http2Route")[0].(map[string]any)["weight"]; got != int64(100) {
		t.Errorf("the two lists share their items: editing one set the other's weight to %v", got)
	}
	second, err := open.Fill([]map[string]any{target("b", 100)})
	if err != nil {
		t.Fatal(err)
	}
	if name := targets(t, first, 0, "httpRoute")[0].(map[string]any)["virtualNodeRef"].(map[string]any)["name"]; name != "a" {
		t.Errorf("a later Fill changed an earlier result: %v", name)
	}
	if len(second.Objects[1].Obj.GetLabels()) != 0 {
		t.Errorf("an edit of a Fill result reached the open rendering: %v", second.Objects[1].Obj.GetLabels())
	}
	if lists, _ := findSentinels(open.Objects[0].Obj.Object); lists != 2 {
		t.Errorf("the open rendering holds %d open lists after filling, want 2", lists)
	}
}

func TestHasRoutes(t *testing.T) {
	service := "apiVersion: v1\nkind: Service\nmetadata:\n  name: ${MICROSERVICE_NAME}\nspec:\n  ports: [{port: 5432}]\n"
	for name, c := range map[string]struct {
		tmpl string
		want bool
	}{
		"route list":                  {string(read(t, "appmesh.yml")), true},
		"placeholder in two places":   {twoRoutes, true},
		"no route (in place)":         {service, false},
		"placeholder only in comment": {"# weightedTargets: [${CANARY_ROUTES}]\n" + service, false},
	} {
		open, err := Open([]byte(c.tmpl), values("yelb-db", nil))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := open.HasRoutes(); got != c.want {
			t.Errorf("%s: HasRoutes() = %v, want %v", name, got, c.want)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	route := "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\nspec:\n  rules:\n"
	cases := []struct {
		name, tmpl string
		routes     []map[string]any
		want       string
	}{
		{"placeholder as a mapping value", route + "  - backendRefs: ${CANARY_ROUTES}\n", nil, "line 1: HTTPRoute/r: ${CANARY_ROUTES} must stand alone inside a list"},
		{"placeholder quoted into a string", route + "  - backendRefs: []\n    filters: '[${CANARY_ROUTES}]'\n", nil, "must stand alone inside a list"},
		{"placeholder quoted into a key", route + "  - backendRefs: []\n    '[${CANARY_ROUTES}]': 1\n", nil, "must stand alone inside a list"},
		{"routes given to Open", route + "  - backendRefs: [${CANARY_ROUTES}]\n", []map[string]any{{"name": "a"}}, "Values.Routes must be empty"},
		{"bad values", route + "  - backendRefs: [${CANARY_ROUTES}]\n", nil, "version 0 is not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := values("yelb-ui", c.routes)
			if c.name == "bad values" {
				v.Version = 0
			}
			_, err := Open([]byte(c.tmpl), v)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open error = %v, want %q", err, c.want)
			}
		})
	}
}

func TestFillRefuses(t *testing.T) {
	open, err := Open(read(t, "appmesh.yml"), values("yelb-appserver", nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		routes []map[string]any
		want   string
	}{
		{[]map[string]any{{"weight": 1}}, "routes item 0.weight holds a int"},
		{[]map[string]any{meshRoutes[0], nil}, "routes item 1 is not an object"},
		{[]map[string]any{{"virtualNodeRef": map[string]string{"name": "a"}}}, "routes item 0.virtualNodeRef holds a map[string]string"},
	} {
		if _, err := open.Fill(c.routes); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Fill(%v) error = %v, want %q", c.routes, err, c.want)
		}
	}
	closed, err := Render(read(t, "appmesh.yml"), values("yelb-appserver", meshRoutes))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := closed.Fill(meshRoutes); err == nil || !strings.Contains(err.Error(), "not made by Open") {
		t.Errorf("Fill on a Render result: %v", err)
	}
}

func TestCache(t *testing.T) {
	var c Cache
	tmpl := read(t, "appmesh.yml")
	v := values("yelb-appserver", nil)
	first, err := c.Open(tmpl, v)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Open(tmpl, v)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Error("the same template and values were opened twice")
	}
	for _, change := range []func(*Values){
		func(v *Values) { v.Version = 4 },
		func(v *Values) { v.Image += "-b" },
		func(v *Values) { v.Namespace = "other" },
		func(v *Values) { v.Microservice = "yelb-ui" },
	} {
		w := v
		change(&w)
		other, err := c.Open(tmpl, w)
		if err != nil {
			t.Fatal(err)
		}
		if other == first {
			t.Errorf("values %+v share the rendering of %+v", w, v)
		}
	}
	edited, err := c.Open(append([]byte("# edited\n"), tmpl...), v)
	if err != nil {
		t.Fatal(err)
	}
	if edited == first {
		t.Error("another template shares the rendering")
	}

	if _, err := c.Open([]byte("kind: [\n"), v); err == nil {
		t.Error("a broken template opened")
	}
	if _, err := c.Open([]byte("kind: [\n"), v); err == nil {
		t.Error("a broken template opened from the cache")
	}

	for version := 10; version < 10+cacheSize; version++ {
		w := v
		w.Version = version
		if _, err := c.Open(tmpl, w); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.entries); n != cacheSize || len(c.order) != cacheSize {
		t.Errorf("%d entries (%d in order), want the bound %d", n, len(c.order), cacheSize)
	}
	if evicted, _ := c.Open(tmpl, v); evicted == first {
		t.Error("the oldest entry was not evicted")
	}
}

// BenchmarkFill is a traffic step's rendering once the version is open:
// copy the objects and splice the routes in.
func BenchmarkFill(b *testing.B) {
	var c Cache
	tmpl := read(b, "appmesh.yml")
	v := values("yelb-appserver", nil)
	for b.Loop() {
		open, err := c.Open(tmpl, v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := open.Fill(meshRoutes); err != nil {
			b.Fatal(err)
		}
	}
}
