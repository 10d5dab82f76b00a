package router_test

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/router/appmesh"
	"github.com/eks-canary/platform/lambdas/router/gatewayapi"
)

var (
	mesh    = appmesh.Router{}
	gateway = gatewayapi.Router{}
)

// named returns n backends with distinct names and valid weights.
func named(n int) []router.Backend {
	out := make([]router.Backend, n)
	for i := range out {
		out[i] = router.Backend{Name: "v" + string(rune('a'+i)), Weight: 5}
	}
	return out
}

// Items are unstructured values, numbers as int64, in the backends' order.
func TestItems(t *testing.T) {
	backends := []router.Backend{{Name: "yelb-ui-3", Weight: 30}, {Name: "yelb-ui-2", Weight: 70}}
	meshTarget := func(name string, weight int64) map[string]any {
		return map[string]any{"virtualNodeRef": map[string]any{"name": name}, "weight": weight}
	}
	serviceRef := func(name string, weight int64) map[string]any {
		return map[string]any{"kind": "Service", "name": name, "port": int64(80), "weight": weight}
	}
	for _, tt := range []struct {
		router router.Router
		want   []map[string]any
		settle time.Duration
	}{
		{mesh, []map[string]any{meshTarget("yelb-ui-3", 30), meshTarget("yelb-ui-2", 70)}, 5 * time.Second},
		{gateway, []map[string]any{serviceRef("yelb-ui-3", 30), serviceRef("yelb-ui-2", 70)}, 90 * time.Second},
	} {
		t.Run(tt.router.Name(), func(t *testing.T) {
			got, err := tt.router.Items(backends, 80)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("items\n got %v\nwant %v", got, tt.want)
			}
			if s := tt.router.SettleTime(); s != tt.settle {
				t.Errorf("settle time %s, want %s", s, tt.settle)
			}
		})
	}
}

// Each router refuses what its route object's CRD would, in that object's
// words, and the backend lists no traffic split can be made of.
func TestItemsRefuseBadBackends(t *testing.T) {
	tests := []struct {
		name     string
		router   router.Router
		backends []router.Backend
		want     string // the whole message; "" accepts
	}{
		{"no backends", mesh, nil, "App Mesh route: 0 backends given, a VirtualRouter route takes 1 to 10 weighted targets"},
		{"no backends", gateway, nil, "HTTPRoute rule: 0 backends given, a rule takes 1 to 16 backendRefs"},
		{"at the limit", mesh, named(10), ""},
		{"at the limit", gateway, named(16), ""},
		{"above the limit", mesh, named(11), "App Mesh route: 11 backends given, a VirtualRouter route takes 1 to 10 weighted targets"},
		{"above the limit", gateway, named(17), "HTTPRoute rule: 17 backends given, a rule takes 1 to 16 backendRefs"},
		{"weights 0 and 100", mesh, []router.Backend{{Name: "a", Weight: 0}, {Name: "b", Weight: 100}}, ""},
		{"weights 0 and 100", gateway, []router.Backend{{Name: "a", Weight: 0}, {Name: "b", Weight: 100}}, ""},
		{"weight above 100", mesh, []router.Backend{{Name: "yelb-ui-3", Weight: 150}}, "App Mesh route: weight 150 of backend yelb-ui-3 is out of range: use 0 to 100"},
		{"weight above 100", gateway, []router.Backend{{Name: "yelb-ui-3", Weight: 101}}, "HTTPRoute rule: weight 101 of backend yelb-ui-3 is out of range: use 0 to 100"},
		{"negative weight", mesh, []router.Backend{{Name: "yelb-ui-3", Weight: -1}}, "App Mesh route: weight -1 of backend yelb-ui-3 is out of range: use 0 to 100"},
		{"negative weight", gateway, []router.Backend{{Name: "yelb-ui-3", Weight: -1}}, "HTTPRoute rule: weight -1 of backend yelb-ui-3 is out of range: use 0 to 100"},
		{"empty name", mesh, []router.Backend{{Name: "a", Weight: 50}, {Weight: 50}}, "App Mesh route: backend 1 has no name: give the version's VirtualNode name"},
		{"empty name", gateway, []router.Backend{{Weight: 100}}, "HTTPRoute rule: backend 0 has no name: give the version's Service name"},
		{"duplicate", mesh, []router.Backend{{Name: "a", Weight: 50}, {Name: "a", Weight: 50}}, "App Mesh route: backend a listed twice: give each version once"},
		{"duplicate", gateway, []router.Backend{{Name: "a", Weight: 50}, {Name: "a", Weight: 50}}, "HTTPRoute rule: backend a listed twice: give each version once"},
	}
	for _, tt := range tests {
		t.Run(tt.router.Name()+"/"+tt.name, func(t *testing.T) {
			items, err := tt.router.Items(tt.backends, 80)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "" && len(items) != len(tt.backends):
				t.Errorf("%d items for %d backends", len(items), len(tt.backends))
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("error %v\nwant %s", err, tt.want)
			case tt.want != "" && items != nil:
				t.Errorf("items %v returned with the error", items)
			}
		})
	}
}

func TestIsRoute(t *testing.T) {
	for _, tt := range []struct {
		apiVersion, kind string
		mesh, gateway    bool
	}{
		{"appmesh.k8s.aws/v1beta2", "VirtualRouter", true, false},
		{"appmesh.k8s.aws/v1beta1", "VirtualRouter", true, false},
		{"appmesh.k8s.aws/v1beta2", "VirtualNode", false, false},
		{"gateway.networking.k8s.io/v1", "HTTPRoute", false, true},
		{"gateway.networking.k8s.io/v1beta1", "HTTPRoute", false, true},
		{"gateway.networking.k8s.io/v1", "GRPCRoute", false, false},
		{"example.com/v1", "HTTPRoute", false, false},
	} {
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion(tt.apiVersion)
		obj.SetKind(tt.kind)
		if got := mesh.IsRoute(obj); got != tt.mesh {
			t.Errorf("appmesh IsRoute(%s %s) = %v, want %v", tt.apiVersion, tt.kind, got, tt.mesh)
		}
		if got := gateway.IsRoute(obj); got != tt.gateway {
			t.Errorf("gatewayapi IsRoute(%s %s) = %v, want %v", tt.apiVersion, tt.kind, got, tt.gateway)
		}
	}
}

func TestMergeRoutes(t *testing.T) {
	split := []router.Backend{{Name: "ui-3", Weight: 30}, {Name: "ui-2", Weight: 70}}
	reversed := []router.Backend{{Name: "ui-2", Weight: 70}, {Name: "ui-3", Weight: 30}}
	tests := []struct {
		name   string
		routes []router.RouteBackends
		want   []router.Backend
		err    string
	}{
		{"no route", nil, nil, ""},
		{"one route", []router.RouteBackends{{At: "r1", Backends: split}}, split, ""},
		{"routes agree in another order", []router.RouteBackends{{At: "r1", Backends: split}, {At: "r2", Backends: reversed}}, split, ""},
		{"a route sends elsewhere",
			[]router.RouteBackends{{At: "r1", Backends: split}, {At: "r2", Backends: split}, {At: "r3", Backends: []router.Backend{{Name: "ui-2", Weight: 100}}}},
			nil, "routes of ui disagree: r1 sends ui-3=30, ui-2=70 but r3 sends ui-2=100: re-run the rollout step to rewrite them"},
		{"a route has no backends",
			[]router.RouteBackends{{At: "r1", Backends: split}, {At: "r2", Backends: []router.Backend{}}},
			nil, "routes of ui disagree: r1 sends ui-3=30, ui-2=70 but r2 sends no backends: re-run the rollout step to rewrite them"},
		{"same names, other weights",
			[]router.RouteBackends{{At: "r1", Backends: split}, {At: "r2", Backends: []router.Backend{{Name: "ui-3", Weight: 70}, {Name: "ui-2", Weight: 30}}}},
			nil, "routes of ui disagree: r1 sends ui-3=30, ui-2=70 but r2 sends ui-3=70, ui-2=30: re-run the rollout step to rewrite them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := router.MergeRoutes("ui", tt.routes)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v\nwant %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if router.FormatBackends(got) != router.FormatBackends(tt.want) {
				t.Errorf("merged %s, want %s", router.FormatBackends(got), router.FormatBackends(tt.want))
			}
		})
	}
}
