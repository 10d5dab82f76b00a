// Package router is the traffic layer seen by the engine: one interface, one
// package per provider (router/appmesh, router/gatewayapi).
//
// A microservice's template carries its route object (an App Mesh
// VirtualRouter or a Gateway API HTTPRoute) with the ${CANARY_ROUTES}
// placeholder where the weighted backends go. The engine renders the template,
// asks the router for the list items that stand for it (values, spliced into
// the parsed route object), and applies the route object with server-side
// apply; the router also reads the live weights back, so every
// step can be repeated safely after a crash.
package router

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/eks-canary/platform/lambdas/spec"
)

// Backend is one version of a microservice and its share of traffic.
type Backend struct {
	Name   string // object name of the version, e.g. "yelb-appserver-3"
	Weight int    // 0..100
}

// Router is implemented once per traffic layer.
type Router interface {
	// Name is the deploy.json value selecting this router, one of contract.Routers().
	Name() string
	// IsRoute reports whether obj is a route object whose weights this router owns.
	IsRoute(obj *unstructured.Unstructured) bool
	// Items are the values of ${CANARY_ROUTES}: one item of the route's list
	// of weighted backends per backend, in order. port is the version
	// Service's port; routers that do not need it ignore it.
	Items(backends []Backend, port int) ([]map[string]any, error)
	// Weights reads the backends and weights of the live route objects of a
	// microservice. A missing route returns no backends and no error.
	Weights(ctx context.Context, client dynamic.Interface, namespace, microservice string) ([]Backend, error)
	// HeaderRoute adds to a rendered route object, ahead of every rule that
	// sends traffic to canary, a copy that also requires headers and sends
	// what matches to canary alone: the A/B stage. The default rules keep
	// their weights. It refuses what the data plane cannot match. Weights
	// reads past the rules it adds (see HeaderRulePrefix).
	HeaderRoute(route *unstructured.Unstructured, headers []spec.HeaderMatch, canary string, port int) error
	// SettleTime is how long a weight change takes to reach the data plane
	// (VPC Lattice needs about 90 s); the engine never analyses sooner.
	SettleTime() time.Duration
}

// RouteChecker is implemented by routers whose data plane has rules of its
// own for the route object (VPC Lattice's custom domain names). Validate
// calls CheckRoute on every route a template renders; Deploy calls
// CheckRouteUpdate against the live route before replacing it.
type RouteChecker interface {
	CheckRoute(obj *unstructured.Unstructured, serviceDomain string) error
	CheckRouteUpdate(live, next *unstructured.Unstructured) error
}

// Previewer is implemented by routers that can reach one version through a
// route of its own, without changing where production traffic goes
// (strategy blue-green).
type Previewer interface {
	// Preview returns the objects to write in place of route, a rendered
	// route object with the production backends: route with a preview
	// route added inside it, or route and a separate preview object
	// labelled naming.LabelPreview. items are the router's Items for the
	// previewed version alone. Writing route without them ends the preview
	// (separate objects must then be deleted).
	Preview(route *unstructured.Unstructured, items []map[string]any) ([]*unstructured.Unstructured, error)
	// PreviewAddress says how a tester reaches the preview of route.
	PreviewAddress(route *unstructured.Unstructured) string
}
