package appmesh

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/eks-canary/platform/lambdas/router"
)

// A blue-green preview on App Mesh is one more route in the microservice's
// own VirtualRouter: a copy of its first HTTP route that also requires the
// request header PreviewHeader: PreviewHeaderValue, at priority 0 (the
// highest), sending everything to the new version. Callers reach it through
// the usual VirtualService with that header; without it, requests follow
// the production routes. Because the preview lives in the route object, the
// switch to the new version and the end of the preview are each one write.
const (
	PreviewRoute       = "canary-preview"
	PreviewHeader      = "x-canary-preview"
	PreviewHeaderValue = "true"
)

var _ router.Previewer = Router{}

// previewKinds are the route types whose match can name a header.
var previewKinds = []string{"httpRoute", "http2Route"}

// Preview returns route with the preview route added first.
func (Router) Preview(route *unstructured.Unstructured, items []map[string]any) ([]*unstructured.Unstructured, error) {
	out := route.DeepCopy()
	at := fmt.Sprintf("VirtualRouter %s/%s", route.GetNamespace(), route.GetName())
	routes, _, err := unstructured.NestedSlice(out.Object, "spec", "routes")
	if err != nil {
		return nil, fmt.Errorf("%s: spec.routes: %w", at, err)
	}
	var preview map[string]any
	for _, r := range routes {
		m, _ := r.(map[string]any)
		if m["name"] == PreviewRoute {
			return nil, fmt.Errorf("%s: route name %q is reserved for the blue-green preview: rename the route", at, PreviewRoute)
		}
		for _, kind := range previewKinds {
			if spec, ok := m[kind].(map[string]any); ok && preview == nil {
				preview = previewOf(kind, spec, items)
			}
		}
	}
	if preview == nil {
		return nil, fmt.Errorf("%s has no httpRoute or http2Route: strategy \"blue-green\" reaches the new version by the request header %s, which tcpRoute and grpcRoute cannot match; add an httpRoute, or use strategy \"canary\"",
			at, PreviewHeader)
	}
	routes = append([]any{preview}, routes...)
	if err := unstructured.SetNestedSlice(out.Object, routes, "spec", "routes"); err != nil {
		return nil, fmt.Errorf("%s: add the preview route: %w", at, err)
	}
	return []*unstructured.Unstructured{out}, nil
}

// previewOf copies an HTTP route (match, timeouts, retries) and sends
// requests that carry the preview header to items alone.
func previewOf(kind string, spec map[string]any, items []map[string]any) map[string]any {
	copied := runtime.DeepCopyJSONValue(spec).(map[string]any)
	match, _ := copied["match"].(map[string]any)
	if match == nil {
		match = map[string]any{"prefix": "/"}
	}
	headers, _ := match["headers"].([]any)
	match["headers"] = append(headers, map[string]any{"name": PreviewHeader, "match": map[string]any{"exact": PreviewHeaderValue}})
	copied["match"] = match
	targets := make([]any, len(items))
	for i, it := range items {
		targets[i] = runtime.DeepCopyJSONValue(map[string]any(it))
	}
	copied["action"] = map[string]any{"weightedTargets": targets}
	return map[string]any{"name": PreviewRoute, "priority": int64(0), kind: copied}
}

// PreviewAddress: the VirtualRouter's VirtualService with the header.
func (Router) PreviewAddress(route *unstructured.Unstructured) string {
	return fmt.Sprintf("header %s: %s on requests to VirtualRouter %s", PreviewHeader, PreviewHeaderValue, route.GetName())
}
