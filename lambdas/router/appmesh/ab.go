package appmesh

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
)

// maxHeaders is the CRD's maxItems for a route match's headers.
var maxHeaders = spec.MaxABHeaders(contract.RouterAppMesh)

// HeaderRoute adds, ahead of every route of the VirtualRouter that sends to
// canary, a route with the same match plus the header conditions, sending
// to canary alone. The port is carried by the VirtualNodes.
func (Router) HeaderRoute(vr *unstructured.Unstructured, headers []spec.HeaderMatch, canary string, _ int) error {
	routes, _, err := unstructured.NestedSlice(vr.Object, "spec", "routes")
	if err != nil {
		return fmt.Errorf("VirtualRouter %s: spec.routes: %w", vr.GetName(), err)
	}
	out, err := headerRoutes(routes, headers, canary)
	if err != nil {
		return fmt.Errorf("VirtualRouter %s: %w", vr.GetName(), err)
	}
	return unstructured.SetNestedSlice(vr.Object, out, "spec", "routes")
}

// headerRoutes is HeaderRoute on the routes list. The A/B route takes
// priority 0, or one above the route it copies when that route has a
// priority, so App Mesh tries it first. TCP routes carry no headers and gRPC
// routes match metadata, so a route of either kind that sends to canary
// refuses the A/B stage.
func headerRoutes(routes []any, headers []spec.HeaderMatch, canary string) ([]any, error) {
	conditions := make([]any, 0, len(headers))
	for _, h := range headers {
		conditions = append(conditions, headerCondition(h))
	}
	out := make([]any, 0, len(routes)+1)
	added := 0
	for _, r := range routes {
		route, _ := r.(map[string]any)
		name, _ := route["name"].(string)
		kind := routeKindTo(route, canary)
		switch kind {
		case "":
			out = append(out, r)
			continue
		case "tcpRoute":
			return nil, fmt.Errorf("route %q is a tcpRoute: TCP carries no HTTP headers, so the A/B stage cannot select requests by header: remove ab from deploy.json, or route the service with an httpRoute", name)
		case "grpcRoute":
			return nil, fmt.Errorf("route %q is a grpcRoute: gRPC routes match metadata, not HTTP headers, so the A/B stage cannot select requests: remove ab from deploy.json, or route the service with an httpRoute or http2Route", name)
		}
		copied := runtime.DeepCopyJSONValue(route).(map[string]any)
		body := copied[kind].(map[string]any)
		match, _ := body["match"].(map[string]any)
		if match == nil {
			match = map[string]any{}
		}
		own, _, _ := unstructured.NestedSlice(match, "headers")
		if n := len(own) + len(conditions); n > maxHeaders {
			return nil, fmt.Errorf("route %q: the template's %d header conditions and ab.headers' %d make %d, and App Mesh matches at most %d per route: list fewer in ab.headers",
				name, len(own), len(conditions), n, maxHeaders)
		}
		match["headers"] = append(own, runtime.DeepCopyJSONValue(conditions).([]any)...)
		body["match"] = match
		body["action"] = map[string]any{"weightedTargets": []any{
			map[string]any{"virtualNodeRef": map[string]any{"name": canary}, "weight": int64(1)},
		}}
		copied["name"] = router.HeaderRulePrefix + name
		priority, hasPriority, _ := unstructured.NestedInt64(route, "priority")
		switch {
		case hasPriority && priority == 0:
			return nil, fmt.Errorf("route %q has priority 0, the highest, so the A/B route cannot be tried before it: give it a priority of 1 or more", name)
		case hasPriority:
			copied["priority"] = priority - 1
		default:
			copied["priority"] = int64(0)
		}
		out = append(out, copied, r)
		added++
	}
	if added == 0 {
		return nil, fmt.Errorf("no route sends to %s: the A/B route has nothing to go ahead of", canary)
	}
	return out, nil
}

// headerCondition is one HttpRouteHeader; "present" is a header with no
// match method, which App Mesh reads as "the header is sent".
func headerCondition(h spec.HeaderMatch) map[string]any {
	c := map[string]any{"name": h.Name}
	switch h.Kind() {
	case spec.MatchRange:
		var start, end int64
		if h.Start != nil {
			start = *h.Start
		}
		if h.End != nil {
			end = *h.End
		}
		c["match"] = map[string]any{"range": map[string]any{"start": start, "end": end}}
	case spec.MatchPrefix:
		c["match"] = map[string]any{"prefix": h.Value}
	case spec.MatchSuffix:
		c["match"] = map[string]any{"suffix": h.Value}
	case spec.MatchRegex:
		c["match"] = map[string]any{"regex": h.Value}
	case spec.MatchExact:
		c["match"] = map[string]any{"exact": h.Value}
	}
	return c
}

// routeKindTo returns the route type (httpRoute, tcpRoute, ...) whose
// weighted targets name canary, or "".
func routeKindTo(route map[string]any, canary string) string {
	for _, kind := range routeKinds {
		targets, _, _ := unstructured.NestedSlice(route, kind, "action", "weightedTargets")
		for _, t := range targets {
			m, _ := t.(map[string]any)
			if name, _, _ := unstructured.NestedString(m, "virtualNodeRef", "name"); name == canary {
				return kind
			}
		}
	}
	return ""
}

// isHeaderRoute reports whether HeaderRoute added route.
func isHeaderRoute(route map[string]any) bool {
	name, _ := route["name"].(string)
	return strings.HasPrefix(name, router.HeaderRulePrefix)
}
