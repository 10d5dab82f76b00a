package template

import (
	"errors"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var (
	meshRoutes = []map[string]any{
		{"virtualNodeRef": map[string]any{"name": "yelb-appserver-3"}, "weight": int64(25)},
		{"virtualNodeRef": map[string]any{"name": "yelb-appserver-2"}, "weight": int64(75)},
	}
	gatewayRoutes = []map[string]any{
		{"name": "yelb-ui-3", "kind": "Service", "port": int64(80), "weight": int64(25)},
		{"name": "yelb-ui-2", "kind": "Service", "port": int64(80), "weight": int64(75)},
	}
)

func values(svc string, routes []map[string]any) Values {
	return Values{Namespace: "yelb", Microservice: svc, Image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/" + svc + ":v3", Version: 3, Routes: routes}
}

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type ident struct {
	kind, name string
	perVersion bool
}

func idents(r *Rendered) []ident {
	var out []ident
	for _, o := range r.Objects {
		out = append(out, ident{o.Obj.GetKind(), o.Obj.GetName(), o.PerVersion})
	}
	return out
}

func TestRenderAppMesh(t *testing.T) {
	r, err := Render(read(t, "appmesh.yml"), values("yelb-appserver", meshRoutes))
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want := []ident{
		{"VirtualNode", "yelb-appserver-3", true},
		{"VirtualRouter", "yelb-appserver", false},
		{"VirtualService", "yelb-appserver", false},
		{"Service", "yelb-appserver-3", true},
		{"Deployment", "yelb-appserver-3", true},
		{"Service", "yelb-appserver", false},
	}
	got := idents(r)
	if len(got) != len(want) {
		t.Fatalf("objects = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("object %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, o := range r.Objects {
		if o.Obj.GetNamespace() != "yelb" {
			t.Errorf("%s/%s namespace = %q, want yelb", o.Obj.GetKind(), o.Obj.GetName(), o.Obj.GetNamespace())
		}
	}

	// Two placeholders on one line are both replaced.
	host, _, _ := unstructured.NestedString(r.Objects[0].Obj.Object, "spec", "serviceDiscovery", "dns", "hostname")
	if host != "yelb-appserver-3.yelb.svc.cluster.local" {
		t.Errorf("hostname = %q", host)
	}
	targets, _, _ := unstructured.NestedSlice(r.Objects[1].Obj.Object, "spec", "routes")
	action := targets[0].(map[string]any)["httpRoute"].(map[string]any)["action"].(map[string]any)
	weighted := action["weightedTargets"].([]any)
	if len(weighted) != 2 || weighted[0].(map[string]any)["weight"] != int64(25) {
		t.Errorf("weightedTargets = %v", weighted)
	}
	// Whole numbers are int64, as unstructured accessors expect.
	ports, _, _ := unstructured.NestedSlice(r.Objects[3].Obj.Object, "spec", "ports")
	if port, ok, _ := unstructured.NestedInt64(ports[0].(map[string]any), "port"); !ok || port != 4567 {
		t.Errorf("Service port = %v (found %v), want int64 4567", ports[0].(map[string]any)["port"], ok)
	}
	containers, _, _ := unstructured.NestedSlice(r.Objects[4].Obj.Object, "spec", "template", "spec", "containers")
	if img := containers[0].(map[string]any)["image"]; img != "123456789012.dkr.ecr.us-west-2.amazonaws.com/yelb-appserver:v3" {
		t.Errorf("image = %v", img)
	}
	if v := r.Objects[3].Obj.GetLabels()["version"]; v != "3" {
		t.Errorf("version label = %q", v)
	}
	if n := len(r.PerVersion()); n != 3 {
		t.Errorf("PerVersion() has %d objects", n)
	}
	if n := len(r.Shared()); n != 3 {
		t.Errorf("Shared() has %d objects", n)
	}
}

func TestRenderGatewayAPI(t *testing.T) {
	r, err := Render(read(t, "gatewayapi.yml"), values("yelb-ui", gatewayRoutes))
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want := []ident{
		{"Deployment", "yelb-ui-3", true},
		{"Service", "yelb-ui-3", true},
		{"TargetGroupPolicy", "yelb-ui-3", true},
		{"ConfigMap", "yelb-ui", false},
		{"HTTPRoute", "yelb-ui", false},
	}
	got := idents(r)
	if len(got) != len(want) {
		t.Fatalf("objects = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("object %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	rules, _, _ := unstructured.NestedSlice(r.Objects[4].Obj.Object, "spec", "rules")
	refs := rules[0].(map[string]any)["backendRefs"].([]any)
	if len(refs) != 2 || refs[1].(map[string]any)["name"] != "yelb-ui-2" {
		t.Errorf("backendRefs = %v", refs)
	}
	env, _, _ := unstructured.NestedSlice(r.Objects[0].Obj.Object, "spec", "template", "spec", "containers")
	if v := env[0].(map[string]any)["env"].([]any)[0].(map[string]any)["value"]; v != "yelb-ui-3.yelb" {
		t.Errorf("env value = %v: every placeholder in a line must be replaced", v)
	}
}

func TestRenderEmptyRoutes(t *testing.T) {
	r, err := Render(read(t, "appmesh.yml"), values("yelb-appserver", nil))
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	routes, _, _ := unstructured.NestedSlice(r.Objects[1].Obj.Object, "spec", "routes")
	action := routes[0].(map[string]any)["httpRoute"].(map[string]any)["action"].(map[string]any)
	if l := action["weightedTargets"].([]any); len(l) != 0 {
		t.Errorf("weightedTargets = %v", l)
	}
}

// A version that shares leading digits with the next one is still
// classified right (9 and 10, 19 and 20).
func TestClassificationAcrossDigitChanges(t *testing.T) {
	for _, version := range []int{1, 9, 19, 99, 1234} {
		v := values("yelb-appserver", meshRoutes)
		v.Version = version
		r, err := Render(read(t, "appmesh.yml"), v)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(r.PerVersion()); n != 3 {
			t.Errorf("version %d: %d per-version objects, want 3", version, n)
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	obj := func(apiVersion, kind, name, extra string) string {
		return "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata:\n  name: " + name + "\n" + extra
	}
	cases := []struct {
		name string
		tmpl string
		want []string
	}{
		{"empty", "", []string{"the template is empty"}},
		{"only comments", "# nothing\n---\n# more\n", []string{"holds no objects"}},
		{"unknown placeholder", obj("v1", "ConfigMap", "a", "data:\n  x: ${IMAGE_TAG}\n"), []string{"line 6: unknown placeholder ${IMAGE_TAG}", "$(IMAGE_TAG)"}},
		{"lower-case placeholder", obj("v1", "ConfigMap", "${microservice_name}", ""), []string{"line 4: unknown placeholder ${microservice_name}"}},
		{"unterminated placeholder", obj("v1", "ConfigMap", "a", "data:\n  x: ${CONTAINER_IMAGE\n"), []string{"line 6: unterminated placeholder"}},
		{"other namespace", obj("v1", "ConfigMap", "a", "") + "  namespace: kube-system\n", []string{`line 1: ConfigMap/a: namespace "kube-system" is not the rollout's namespace "yelb"`}},
		{"disallowed kind", obj("batch/v1", "CronJob", "a", ""), []string{"CronJob/a: kind CronJob (batch/v1) is not allowed: use one of Deployment"}},
		{"service account", obj("v1", "ServiceAccount", "a", ""), []string{"ServiceAccount/a: kind ServiceAccount (v1) is not allowed"}},
		{"pod disruption budget", obj("policy/v1", "PodDisruptionBudget", "a", ""), []string{"kind PodDisruptionBudget (policy/v1) is not allowed"}},
		{"wrong api version", obj("appmesh.k8s.aws/v1beta1", "VirtualNode", "a", ""), []string{`apiVersion "appmesh.k8s.aws/v1beta1" is not allowed for VirtualNode: use appmesh.k8s.aws/v1beta2`}},
		{"cluster-scoped", obj("v1", "Namespace", "yelb", ""), []string{"Namespace is cluster-scoped"}},
		{"mesh is cluster-scoped", obj("appmesh.k8s.aws/v1beta2", "Mesh", "yelb", ""), []string{"Mesh is cluster-scoped"}},
		{"secret", obj("v1", "Secret", "db", "stringData:\n  password: x\n"), []string{"Secret/db: Secrets are refused", "execution history"}},
		{"invalid yaml with line", obj("v1", "ConfigMap", "a", "data:\n  x: [1, 2\n  y: 3\n"), []string{"line 6: invalid YAML: did not find expected ',' or ']'"}},
		{"invalid yaml in second document", obj("v1", "ConfigMap", "a", "") + "---\n" + obj("v1", "ConfigMap", "b", "data:\n\tx: 1\n"), []string{"line 11: invalid YAML"}},
		{"duplicate key", obj("v1", "ConfigMap", "a", "data:\n  x: 1\n  x: 2\n"), []string{"line 7: invalid YAML", `key "x" already set`}},
		{"duplicate object", obj("v1", "ConfigMap", "a", "") + "---\n" + obj("v1", "ConfigMap", "a", ""), []string{"line 6: ConfigMap/a: duplicate object: the same ConfigMap/a is defined at line 1"}},
		{"same name, different kinds is fine but bad label", obj("v1", "ConfigMap", "a", "") + "---\n" + obj("v1", "Service", "a", "") + "  labels:\n    version: ${CANARY_VERSION}\n",
			[]string{"Service/a: metadata.labels version must be strings"}},
		{"missing name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", []string{"line 1: object without metadata.name"}},
		{"missing kind", "apiVersion: v1\nmetadata: {name: a}\n", []string{"object without kind"}},
		{"scalar document", "just text\n", []string{"must be a Kubernetes object", "a string"}},
		{"list document", "- a\n- b\n", []string{"must be a Kubernetes object", "a list"}},
		{"kind List", "apiVersion: v1\nkind: List\nmetadata: {name: a}\nitems: []\n", []string{"List is a list"}},
		{"generateName", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, generateName: a-}\n", []string{"generateName is not allowed"}},
		{"bad name", obj("v1", "ConfigMap", "A_B", ""), []string{`metadata.name "A_B" is not valid`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render([]byte(c.tmpl), values("yelb-ui", nil))
			var terr *Error
			if !errors.As(err, &terr) {
				t.Fatalf("Render error = %v, want *Error", err)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestRenderListsEveryProblem(t *testing.T) {
	tmpl := `apiVersion: v1
kind: Secret
metadata:
  name: creds
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: default
data:
  tag: ${TAG}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: admin
`
	_, err := Render([]byte(tmpl), values("yelb-ui", nil))
	var terr *Error
	if !errors.As(err, &terr) {
		t.Fatalf("want *Error, got %v", err)
	}
	// Placeholders are checked first: one unknown placeholder stops before
	// the objects are parsed, since their text would be wrong anyway.
	if len(terr.Problems) != 1 || terr.Problems[0].Line != 12 {
		t.Fatalf("problems = %+v", terr.Problems)
	}
	_, err = Render([]byte(strings.Replace(tmpl, "${TAG}", "v1", 1)), values("yelb-ui", nil))
	if !errors.As(err, &terr) {
		t.Fatalf("want *Error, got %v", err)
	}
	lines := map[int]bool{}
	for _, p := range terr.Problems {
		lines[p.Line] = true
	}
	if len(terr.Problems) != 3 || !lines[1] || !lines[6] || !lines[14] {
		t.Errorf("want the Secret (line 1), the namespace (line 6) and the ClusterRole (line 14):\n%v", err)
	}
	if !strings.HasPrefix(err.Error(), "invalid kubernetes template: 3 problems:") {
		t.Errorf("message = %q", err.Error())
	}
}

func TestRenderRefusesBadValues(t *testing.T) {
	tmpl := read(t, "appmesh.yml")
	cases := []struct {
		name string
		edit func(*Values)
		want string
	}{
		{"image injection", func(v *Values) { v.Image = "nginx:1\n          command: [sh]" }, "is not a valid image reference"},
		{"image placeholder", func(v *Values) { v.Image = "${CANARY_ROUTES}" }, "is not a valid image reference"},
		{"namespace", func(v *Values) { v.Namespace = "Yelb" }, `namespace "Yelb" is not allowed`},
		{"microservice", func(v *Values) { v.Microservice = "yelb ui" }, `microservice name "yelb ui" is not allowed`},
		{"version", func(v *Values) { v.Version = 0 }, "version 0 is not allowed"},
		{"routes with a Go int", func(v *Values) { v.Routes = []map[string]any{{"weight": 1}} },
			"routes item 0.weight holds a int, which a Kubernetes object cannot: use int64, float64, bool, string, map[string]any or []any"},
		{"routes with a nested struct", func(v *Values) {
			v.Routes = []map[string]any{meshRoutes[0], {"ref": []any{struct{}{}}}}
		}, "routes item 1.ref[0] holds a struct {}"},
		{"routes with a nil item", func(v *Values) { v.Routes = []map[string]any{nil} }, "routes item 0 is not an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := values("yelb-appserver", meshRoutes)
			c.edit(&v)
			_, err := Render(tmpl, v)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Render error = %v, want %q", err, c.want)
			}
		})
	}
}

// The routes, spliced after parsing, never move the line numbers errors give.
func TestRoutesKeepLineNumbers(t *testing.T) {
	tmpl := "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\nspec:\n  rules:\n  - backendRefs: [${CANARY_ROUTES}]\n---\nbad: [\n"
	_, err := Render([]byte(tmpl), values("yelb-ui", gatewayRoutes))
	if err == nil || !strings.Contains(err.Error(), "line 9") {
		t.Errorf("error = %v, want a problem at line 9", err)
	}
}

func TestAllowedKindsHaveResources(t *testing.T) {
	for _, k := range AllowedKinds() {
		if k.Kind == "" || k.Version == "" || k.Resource == "" || strings.ToLower(k.Resource) != k.Resource {
			t.Errorf("incomplete kind %+v", k)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	tmpl := read(b, "appmesh.yml")
	v := values("yelb-appserver", meshRoutes)
	for b.Loop() {
		if _, err := Render(tmpl, v); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzRender(f *testing.F) {
	f.Add(read(f, "appmesh.yml"), "yelb-appserver-3", int64(25))
	f.Add(read(f, "gatewayapi.yml"), "yelb-ui-3", int64(100))
	f.Add([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n---\n- a\n---\n${X"), "", int64(0))
	f.Add([]byte("a: ${CANARY_ROUTES}\n---\n---\n{"), "a", int64(1))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [1]\n  labels: 3\n"), "", int64(-1))
	f.Fuzz(func(t *testing.T, tmpl []byte, name string, weight int64) {
		r, err := Render(tmpl, values("yelb-ui", []map[string]any{{"name": name, "weight": weight}}))
		if err == nil && (r == nil || len(r.Objects) == 0) {
			t.Fatalf("no error and no objects for %q", tmpl)
		}
		if err != nil && r != nil {
			t.Fatalf("both an error and objects: %v", err)
		}
		if r != nil {
			for _, o := range r.Objects {
				if o.Obj.GetNamespace() != "yelb" {
					t.Fatalf("object %s in namespace %q", o.Obj.GetName(), o.Obj.GetNamespace())
				}
			}
		}
	})
}
