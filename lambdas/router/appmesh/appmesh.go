// Package appmesh routes canary traffic with an App Mesh VirtualRouter: the
// weighted targets of its routes point at the VirtualNodes of the versions.
package appmesh

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/router"
)

// VirtualRouter is the route object this router writes and reads, with the
// limits of weightedTargets in the appmesh.k8s.aws/v1beta2 CRD.
var VirtualRouter = router.Object{
	Resource: schema.GroupVersionResource{Group: "appmesh.k8s.aws", Version: "v1beta2", Resource: "virtualrouters"},
	Kind:     "VirtualRouter",
	Limits:   router.Limits{Route: "App Mesh route", Holder: "a VirtualRouter route", Items: "weighted targets", MaxBackends: 10, NameOf: "VirtualNode"},
}

// routeKinds are the route types of a VirtualRouter route; each has
// action.weightedTargets.
var routeKinds = []string{"httpRoute", "http2Route", "grpcRoute", "tcpRoute"}

// Router is the App Mesh router.
type Router struct{}

var _ router.Router = Router{}

// Name is the deploy.json value selecting App Mesh.
func (Router) Name() string { return contract.RouterAppMesh }

// IsRoute reports whether obj is a VirtualRouter.
func (Router) IsRoute(obj *unstructured.Unstructured) bool { return VirtualRouter.Is(obj) }

// Items are the weighted targets, one per backend, in order. The port is
// carried by the VirtualNodes, so it is not used.
func (Router) Items(backends []router.Backend, _ int) ([]map[string]any, error) {
	return VirtualRouter.Items(backends, func(b router.Backend) map[string]any {
		return map[string]any{"virtualNodeRef": map[string]any{"name": b.Name}, "weight": int64(b.Weight)}
	})
}

// Weights reads the weighted targets of the microservice's live
// VirtualRouters; all their routes must agree.
func (Router) Weights(ctx context.Context, client dynamic.Interface, namespace, microservice string) ([]router.Backend, error) {
	return VirtualRouter.Weights(ctx, client, namespace, microservice, routeBackends)
}

// routeBackends reads the weighted targets of each route of a VirtualRouter,
// whatever its protocol.
func routeBackends(vr *unstructured.Unstructured) ([]router.RouteBackends, error) {
	routes, _, err := unstructured.NestedSlice(vr.Object, "spec", "routes")
	if err != nil {
		return nil, fmt.Errorf("VirtualRouter %s/%s: spec.routes: %w", vr.GetNamespace(), vr.GetName(), err)
	}
	var out []router.RouteBackends
	for i, r := range routes {
		route, _ := r.(map[string]any)
		if route["name"] == PreviewRoute {
			continue // a blue-green preview, not production traffic
		}
		for _, kind := range routeKinds {
			targets, found, err := unstructured.NestedSlice(route, kind, "action", "weightedTargets")
			if err != nil {
				return nil, fmt.Errorf("VirtualRouter %s/%s route %d: %s.action.weightedTargets: %w", vr.GetNamespace(), vr.GetName(), i, kind, err)
			}
			if !found {
				continue
			}
			backends, err := parseTargets(targets)
			if err != nil {
				return nil, fmt.Errorf("VirtualRouter %s/%s route %d: %w", vr.GetNamespace(), vr.GetName(), i, err)
			}
			out = append(out, router.RouteBackends{At: fmt.Sprintf("VirtualRouter %s route %q", vr.GetName(), route["name"]), Backends: backends, Header: isHeaderRoute(route)})
		}
	}
	return out, nil
}

func parseTargets(targets []any) ([]router.Backend, error) {
	out := make([]router.Backend, 0, len(targets))
	for _, t := range targets {
		m, _ := t.(map[string]any)
		name, _, _ := unstructured.NestedString(m, "virtualNodeRef", "name")
		if name == "" {
			name, _, _ = unstructured.NestedString(m, "virtualNodeARN")
		}
		weight, found, err := unstructured.NestedInt64(m, "weight")
		if err != nil || !found {
			return nil, fmt.Errorf("weighted target %s has no integer weight", name)
		}
		out = append(out, router.Backend{Name: name, Weight: int(weight)})
	}
	return out, nil
}

// SettleTime: Envoy picks up new route weights from App Mesh within seconds.
func (Router) SettleTime() time.Duration { return contract.AppMeshSettleTime }
