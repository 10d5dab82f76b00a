package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/router/appmesh"
	"github.com/eks-canary/platform/lambdas/router/gatewayapi"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
)

// routeList reads the weighted backend list of a rendered route object.
func routeList(t *testing.T, objs objects) []any {
	t.Helper()
	for _, o := range objs {
		if !o.route {
			continue
		}
		switch o.obj.GetKind() {
		case "VirtualRouter":
			routes, _, _ := unstructured.NestedSlice(o.obj.Object, "spec", "routes")
			l, _, _ := unstructured.NestedSlice(routes[0].(map[string]any), "httpRoute", "action", "weightedTargets")
			return l
		case "HTTPRoute":
			rules, _, _ := unstructured.NestedSlice(o.obj.Object, "spec", "rules")
			l, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "backendRefs")
			return l
		}
	}
	t.Fatal("no route object")
	return nil
}

func TestRenderImageFillsEachStep(t *testing.T) {
	e := &Engine{Routers: map[string]router.Router{contract.RouterAppMesh: appmesh.Router{}, contract.RouterGatewayAPI: gatewayapi.Router{}}, ServiceDomain: testServiceDomain}
	mesh := func(name string, weight int64) any {
		return map[string]any{"virtualNodeRef": map[string]any{"name": name}, "weight": weight}
	}
	lattice := func(name string, weight int64) any {
		return map[string]any{"kind": "Service", "name": name, "port": int64(8080), "weight": weight}
	}
	cases := []struct {
		router   string
		backends []router.Backend
		want     []any
	}{
		{contract.RouterAppMesh, nil, []any{mesh("shop-3", 100)}},
		{contract.RouterAppMesh, []router.Backend{{Name: "shop-3", Weight: 25}, {Name: "shop-2", Weight: 75}}, []any{mesh("shop-3", 25), mesh("shop-2", 75)}},
		{contract.RouterAppMesh, []router.Backend{{Name: "shop-3", Weight: 50}, {Name: "shop-2", Weight: 50}}, []any{mesh("shop-3", 50), mesh("shop-2", 50)}},
		{contract.RouterGatewayAPI, nil, []any{lattice("shop-3", 100)}},
		{contract.RouterGatewayAPI, []router.Backend{{Name: "shop-3", Weight: 25}, {Name: "shop-2", Weight: 75}}, []any{lattice("shop-3", 25), lattice("shop-2", 75)}},
	}
	earlier := map[string][]any{} // the first result per router, checked after later steps
	firsts := map[string]objects{}
	for _, c := range cases {
		tmpl, err := os.ReadFile("testdata/" + c.router + ".yml")
		if err != nil {
			t.Fatal(err)
		}
		s := spec.Spec{Namespace: "yelb", Microservice: "shop", ContainerImage: "registry.local/shop:3", Router: c.router,
			ConfigFile: base64.StdEncoding.EncodeToString(tmpl)}
		objs, err := e.render(s, 3, c.backends, nil)
		if err != nil {
			t.Fatalf("%s %v: %v", c.router, c.backends, err)
		}
		if got := routeList(t, objs); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %v: route list %v, want %v", c.router, c.backends, got, c.want)
		}
		for _, o := range objs {
			labels := o.obj.GetLabels()
			if labels[naming.LabelManagedBy] != naming.ManagedByValue || labels[naming.LabelMicroservice] != "shop" {
				t.Errorf("%s %s: labels %v", o.obj.GetKind(), o.obj.GetName(), labels)
			}
			if wantVersion := map[bool]string{true: "3", false: ""}[o.perVersion]; labels[naming.LabelVersion] != wantVersion {
				t.Errorf("%s %s: version label %q, want %q", o.obj.GetKind(), o.obj.GetName(), labels[naming.LabelVersion], wantVersion)
			}
		}
		if first, ok := firsts[c.router]; ok {
			if got := routeList(t, first); !reflect.DeepEqual(got, earlier[c.router]) {
				t.Errorf("%s: a later step changed an earlier step's objects: %v", c.router, got)
			}
		} else {
			firsts[c.router], earlier[c.router] = objs, c.want
		}
	}
}

// An in-place template has no route list and no version Service: it renders
// with either router, since no Gateway API backend needs a port.
func TestRenderImageWithoutRoute(t *testing.T) {
	tmpl, err := os.ReadFile("testdata/inplace.yml")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Routers: map[string]router.Router{contract.RouterAppMesh: appmesh.Router{}, contract.RouterGatewayAPI: gatewayapi.Router{}}, ServiceDomain: testServiceDomain}
	for _, r := range []string{contract.RouterAppMesh, contract.RouterGatewayAPI} {
		s := spec.Spec{Namespace: "yelb", Microservice: "db", ContainerImage: "registry.local/db:2", Router: r, Strategy: spec.StrategyInPlace,
			ConfigFile: base64.StdEncoding.EncodeToString(tmpl)}
		objs, err := e.render(s, 2, []router.Backend{{Name: "db", Weight: 100}}, nil)
		if err != nil {
			t.Errorf("%s: %v", r, err)
			continue
		}
		if len(objs) != 2 || objs[1].obj.GetKind() != "StatefulSet" || objs[1].route {
			t.Errorf("%s: objects %v", r, objs)
		}
	}
}

// The placeholder quoted in a comment does not make an in-place template
// need a route, nor a Service port under Gateway API.
func TestRenderImageIgnoresAPlaceholderInAComment(t *testing.T) {
	tmpl, err := os.ReadFile("testdata/inplace.yml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl = append([]byte("# no route here: weightedTargets: [${CANARY_ROUTES}]\n"), tmpl...)
	e := &Engine{Routers: map[string]router.Router{contract.RouterGatewayAPI: gatewayapi.Router{}}, ServiceDomain: testServiceDomain}
	s := spec.Spec{Namespace: "yelb", Microservice: "db", ContainerImage: "registry.local/db:2", Router: contract.RouterGatewayAPI, Strategy: spec.StrategyInPlace,
		ConfigFile: base64.StdEncoding.EncodeToString(tmpl)}
	if _, err := e.render(s, 2, []router.Backend{{Name: "db", Weight: 100}}, nil); err != nil {
		t.Error(err)
	}
}

func TestRenderImageRefusesARouteWithoutPort(t *testing.T) {
	e := &Engine{Routers: map[string]router.Router{contract.RouterGatewayAPI: gatewayapi.Router{}}, ServiceDomain: testServiceDomain}
	tmpl := "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: shop\nspec:\n  rules:\n    - backendRefs: [${CANARY_ROUTES}]\n"
	s := spec.Spec{Namespace: "yelb", Microservice: "shop", ContainerImage: "registry.local/shop:3", Router: contract.RouterGatewayAPI,
		ConfigFile: base64.StdEncoding.EncodeToString([]byte(tmpl))}
	_, err := e.render(s, 3, nil, nil)
	if ErrorName(err) != "ValidationFailed" {
		t.Errorf("error %v named %q, want ValidationFailed: a template without a version Service cannot carry Gateway API weights", err, ErrorName(err))
	}
}

// testServiceDomain fills the test templates' ${SERVICE_DOMAIN}.
const testServiceDomain = "canary.test"

// A version's pods carry the engine's microservice and version labels,
// which the metrics scrape reads, over whatever the template claims.
func TestRenderStampsThePodsOfAVersion(t *testing.T) {
	tmpl, err := os.ReadFile("testdata/appmesh.yml")
	if err != nil {
		t.Fatal(err)
	}
	claim := `labels: {app: "${MICROSERVICE_NAME}", version: "${CANARY_VERSION}", "` + naming.LabelMicroservice + `": other, "` + naming.LabelVersion + `": "9"}`
	hostile := strings.Replace(string(tmpl), `labels: {app: "${MICROSERVICE_NAME}", version: "${CANARY_VERSION}"}`, claim, 1)
	if hostile == string(tmpl) {
		t.Fatal("the test template has no pod labels to replace")
	}
	e := &Engine{Routers: map[string]router.Router{contract.RouterAppMesh: appmesh.Router{}}, ServiceDomain: testServiceDomain}
	s := spec.Spec{Namespace: "yelb", Microservice: "shop", ContainerImage: "registry.local/shop:3", Router: contract.RouterAppMesh,
		Strategy: spec.StrategyCanary, ConfigFile: base64.StdEncoding.EncodeToString([]byte(hostile))}
	objs, err := e.render(s, 3, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.obj.GetKind() != "Deployment" {
			continue
		}
		labels, _, _ := unstructured.NestedStringMap(o.obj.Object, "spec", "template", "metadata", "labels")
		want := map[string]string{"app": "shop", "version": "3", naming.LabelMicroservice: "shop", naming.LabelVersion: "3"}
		if !reflect.DeepEqual(labels, want) {
			t.Errorf("pod labels %v, want %v", labels, want)
		}
		return
	}
	t.Fatal("no Deployment rendered")
}

// analysis.provider "prometheus" needs the stack's endpoint; the refusal
// names the field and the stack key.
func TestMetricsForNeedsAnEndpoint(t *testing.T) {
	s := spec.Spec{Analysis: spec.Analysis{Provider: contract.ProviderPrometheus}}
	_, err := (&Engine{}).metricsFor(s)
	if err == nil || !strings.Contains(err.Error(), `analysis.provider: "prometheus" cannot be used: this environment has no Prometheus query endpoint`) ||
		!strings.Contains(err.Error(), contract.ConfigPrometheusQueryURL) || !strings.Contains(err.Error(), contract.ConfigPrometheusWorkspace) {
		t.Errorf("metricsFor = %v; want a refusal naming analysis.provider, %s and %s", err, contract.ConfigPrometheusQueryURL, contract.ConfigPrometheusWorkspace)
	}
	cw := &Engine{Metrics: noMetrics{}}
	if p, err := cw.metricsFor(spec.Spec{}); err != nil || p != cw.Metrics {
		t.Errorf("default provider = %v, %v; want the engine's CloudWatch source", p, err)
	}
}

type noMetrics struct{ analysis.Provider }

// answering is a metric source that tells whether it answers.
type answering struct {
	analysis.Provider
	err error
}

func (a answering) Ready(context.Context) error { return a.err }

// Validate stops at a Prometheus endpoint that does not answer, as a
// transient error naming the stack key, before any traffic moves.
func TestMetricsReadyAsksTheSource(t *testing.T) {
	s := spec.Spec{Microservice: "shop", Analysis: spec.Analysis{Provider: contract.ProviderPrometheus}}
	down := &Engine{Prometheus: answering{err: errors.New("connection refused")}}
	err := down.metricsReady(context.Background(), s)
	if ErrorName(err) != statemachine.ErrTransient || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), contract.ConfigPrometheusQueryURL) {
		t.Errorf("metricsReady = %v (%s); want a transient error with the cause and %s", err, ErrorName(err), contract.ConfigPrometheusQueryURL)
	}
	if err := (&Engine{Prometheus: answering{}}).metricsReady(context.Background(), s); err != nil {
		t.Errorf("an answering endpoint: %v", err)
	}
	if err := (&Engine{Metrics: noMetrics{}}).metricsReady(context.Background(), spec.Spec{}); err != nil {
		t.Errorf("CloudWatch, which has no readiness check: %v", err)
	}
}
