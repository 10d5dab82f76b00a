package job

import (
	"slices"
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/template"
)

// twins renders a template at versions 1 and 2 and returns its Job and
// its other objects, as the engine pairs them.
func twins(t *testing.T, tmpl string) (Twin, []Twin) {
	t.Helper()
	var at [2]*template.Rendered
	for i := range at {
		r, err := template.Open([]byte(tmpl), template.Values{Namespace: "yelb", Microservice: "shop", Image: "registry.local/shop:2", Version: i + 1})
		if err != nil {
			t.Fatal(err)
		}
		at[i] = r
	}
	var j Twin
	var others []Twin
	for i, o := range at[0].Objects {
		tw := Twin{V1: o.Obj, V2: at[1].Objects[i].Obj}
		if IsJob(o.Obj) {
			j = tw
		} else {
			others = append(others, tw)
		}
	}
	if j.V1 == nil {
		t.Fatal("the template holds no Job")
	}
	return j, others
}

func hookJob(podLabels string) string {
	return "apiVersion: batch/v1\nkind: Job\nmetadata: {name: shop-smoke}\nspec:\n  template:\n    metadata: {labels: " + podLabels + "}\n" +
		"    spec: {restartPolicy: Never, containers: [{name: smoke, image: \"registry.local/smoke:1\"}]}\n"
}

func service(selector string) string {
	return "apiVersion: v1\nkind: Service\nmetadata: {name: \"shop-${CANARY_VERSION}\"}\nspec: {selector: " + selector + ", ports: [{port: 8080}]}\n"
}

func deployment(selector string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: \"shop-${CANARY_VERSION}\"}\nspec:\n  selector: " + selector + "\n" +
		"  template:\n    metadata: {labels: {app: shop, version: \"${CANARY_VERSION}\"}}\n    spec: {containers: [{name: app, image: \"${CONTAINER_IMAGE}\"}]}\n"
}

func TestSelected(t *testing.T) {
	const versioned = `{app: shop, version: "${CANARY_VERSION}"}`
	virtualNode := func(podSelector string) string {
		return "apiVersion: appmesh.k8s.aws/v1beta2\nkind: VirtualNode\nmetadata: {name: \"shop-${CANARY_VERSION}\"}\nspec: {podSelector: " + podSelector + "}\n"
	}
	statefulSet := "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: shop-db}\nspec:\n  selector: {matchLabels: {app: shop, version: \"3\"}}\n" +
		"  template:\n    metadata: {labels: {app: shop, version: \"3\"}}\n    spec: {containers: [{name: db, image: \"registry.local/db:1\"}]}\n"
	cases := []struct {
		name      string
		docs      []string
		podLabels string
		want      []string // "Object | selector | labels" of every selection
	}{
		{"pods labelled like the canary's", []string{service(versioned), deployment("{matchLabels: " + versioned + "}")}, versioned, []string{
			"Service/shop-1 | spec.selector app=shop,version=${CANARY_VERSION} | app=shop, version=${CANARY_VERSION}",
			"Deployment/shop-1 | spec.selector app=shop,version=${CANARY_VERSION} | app=shop, version=${CANARY_VERSION}"}},
		{"pods of their own", []string{service(versioned), deployment("{matchLabels: " + versioned + "}")}, `{app: shop-smoke, version: "${CANARY_VERSION}"}`, nil},
		{"the app label alone", []string{service(versioned)}, `{app: shop}`, nil},
		{"a version written out is the canary's at that version", []string{service(versioned)}, `{app: shop, version: "2"}`, []string{
			"Service/shop-1 | spec.selector app=shop,version=${CANARY_VERSION} | app=shop, version=2"}},
		{"no version reads v2", []string{service(versioned)}, `{app: shop, version: v2}`, nil},
		{"no version has a leading zero", []string{service(versioned)}, `{app: shop, version: "02"}`, nil},
		{"a version inside a value", []string{service(`{app: shop, track: "v${CANARY_VERSION}-live"}`)}, `{app: shop, track: v17-live}`, []string{
			"Service/shop-1 | spec.selector app=shop,track=v${CANARY_VERSION}-live | app=shop, track=v17-live"}},
		{"pods following the version meet a selector written for one", []string{statefulSet}, versioned, []string{
			"StatefulSet/shop-db | spec.selector app=shop,version=3 | app=shop, version=${CANARY_VERSION}"}},
		{"a Service without a selector", []string{"apiVersion: v1\nkind: Service\nmetadata: {name: shop}\nspec: {ports: [{port: 8080}]}\n"}, versioned, nil},
		{"an empty Service selector", []string{service("{}")}, versioned, nil},
		{"matchExpressions In", []string{deployment("{matchExpressions: [{key: app, operator: In, values: [cart, shop]}]}")}, `{app: shop, role: smoke}`, []string{
			"Deployment/shop-1 | spec.selector app in (cart,shop) | app=shop"}},
		{"matchExpressions NotIn excludes the Job", []string{deployment("{matchLabels: {app: shop}, matchExpressions: [{key: role, operator: NotIn, values: [smoke]}]}")}, `{app: shop, role: smoke}`, nil},
		{"matchExpressions NotIn of another value", []string{deployment("{matchLabels: {app: shop}, matchExpressions: [{key: role, operator: NotIn, values: [smoke]}]}")}, `{app: shop, role: load}`, []string{
			"Deployment/shop-1 | spec.selector app=shop,role notin (smoke) | app=shop"}},
		{"matchExpressions NotIn of a version some version writes", []string{deployment(`{matchLabels: {app: shop}, matchExpressions: [{key: version, operator: NotIn, values: ["1"]}]}`)}, versioned, []string{
			"Deployment/shop-1 | spec.selector app=shop,version notin (1) | app=shop"}},
		{"matchExpressions Exists", []string{virtualNode("{matchExpressions: [{key: app, operator: Exists}]}")}, `{app: anything}`, []string{
			"VirtualNode/shop-1 | spec.podSelector app | app=anything"}},
		{"matchExpressions DoesNotExist excludes the Job", []string{virtualNode("{matchLabels: {app: shop}, matchExpressions: [{key: hook, operator: DoesNotExist}]}")}, `{app: shop, hook: smoke}`, nil},
		{"DoesNotExist alone selects unlabelled pods", []string{deployment("{matchExpressions: [{key: hook, operator: DoesNotExist}]}")}, `{}`, []string{
			"Deployment/shop-1 | spec.selector !hook | none"}},
		{"an empty podSelector selects every pod", []string{virtualNode("{}")}, `{team: web}`, []string{
			"VirtualNode/shop-1 | spec.podSelector {} (every pod) | team=web"}},
		{"an unknown operator selects nothing", []string{deployment("{matchExpressions: [{key: app, operator: Equals, values: [shop]}]}")}, `{app: shop}`, nil},
		{"a selector value that is no string selects nothing", []string{service(`{app: shop, version: 1}`)}, `{app: shop, version: "1"}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j, others := twins(t, strings.Join(append(c.docs, hookJob(c.podLabels)), "---\n"))
			var got []string
			for _, s := range Selected(j, others) {
				got = append(got, s.Object+" | "+s.Selector+" | "+s.Labels)
				if s.Effect == "" {
					t.Errorf("selection %+v says nothing of what follows", s)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("selected\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

func TestWritten(t *testing.T) {
	for _, c := range []struct{ v1, v2, want string }{
		{"shop-smoke", "shop-smoke", "shop-smoke"},
		{"shop-smoke-1", "shop-smoke-2", "shop-smoke-${CANARY_VERSION}"},
		{"shop-1-1", "shop-2-2", "shop-${CANARY_VERSION}-${CANARY_VERSION}"},
		{"11", "12", "1${CANARY_VERSION}"},
	} {
		if got := Written(c.v1, c.v2); got != c.want {
			t.Errorf("Written(%q, %q) = %q, want %q", c.v1, c.v2, got, c.want)
		}
	}
}

func TestLabelProblems(t *testing.T) {
	cases := []struct {
		name, labels, podLabels string
		want                    []string
	}{
		{"valid labels", `{team: web, version: "2"}`, `{app: shop-smoke}`, nil},
		{"an image as a label value", `{build: "registry.local/shop:2"}`, `{}`,
			[]string{`metadata.labels build: "registry.local/shop:2" (21 bytes) is not a label value: a value is empty or at most 63 letters`}},
		{"a pod label value too long", `{}`, `{app: ` + strings.Repeat("a", 64) + `}`,
			[]string{`spec.template.metadata.labels app: "` + strings.Repeat("a", 64) + `" (64 bytes) is not a label value`}},
		{"a bad key", `{"team/web/x": a}`, `{}`, []string{`metadata.labels key "team/web/x" is not a label key: a key is a name`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := "apiVersion: batch/v1\nkind: Job\nmetadata: {name: shop-smoke, labels: " + c.labels + "}\nspec:\n  template:\n    metadata: {labels: " + c.podLabels + "}\n" +
				"    spec: {restartPolicy: Never, containers: [{name: smoke, image: \"registry.local/smoke:1\"}]}\n"
			j, _ := twins(t, doc)
			got := LabelProblems(j.V1)
			if len(got) != len(c.want) {
				t.Fatalf("problems %q, want %d", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %q, want it to start %q", got[i], w)
				}
			}
		})
	}
}
