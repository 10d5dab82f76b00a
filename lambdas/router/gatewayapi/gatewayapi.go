// Package gatewayapi routes canary traffic with a Gateway API HTTPRoute
// (served by the AWS Gateway API controller on VPC Lattice): the weighted
// backendRefs of its rules point at the Services of the versions.
package gatewayapi

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

// HTTPRoute is the route object this router writes and reads, with the
// limits of a rule's backendRefs in the Gateway API CRD.
var HTTPRoute = router.Object{
	Resource: schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"},
	Kind:     "HTTPRoute",
	Limits:   router.Limits{Route: "HTTPRoute rule", Holder: "a rule", Items: "backendRefs", MaxBackends: 16, NameOf: "Service"},
}

// Router is the Gateway API router.
type Router struct{}

var _ router.Router = Router{}

// Name is the deploy.json value selecting Gateway API.
func (Router) Name() string { return contract.RouterGatewayAPI }

// IsRoute reports whether obj is an HTTPRoute.
func (Router) IsRoute(obj *unstructured.Unstructured) bool { return HTTPRoute.Is(obj) }

// Items are one Service backendRef per backend, on the versions' Service
// port.
func (Router) Items(backends []router.Backend, port int) ([]map[string]any, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("HTTPRoute rule: port %d is out of range: give the versions' Service port (1 to 65535)", port)
	}
	return HTTPRoute.Items(backends, func(b router.Backend) map[string]any {
		return map[string]any{"kind": "Service", "name": b.Name, "port": int64(port), "weight": int64(b.Weight)}
	})
}

// Weights reads the backendRefs of the microservice's live HTTPRoutes; all
// their rules must agree.
func (Router) Weights(ctx context.Context, client dynamic.Interface, namespace, microservice string) ([]router.Backend, error) {
	return HTTPRoute.Weights(ctx, client, namespace, microservice, ruleBackends)
}

// ruleBackends reads the backendRefs of each rule of an HTTPRoute. A
// backendRef without weight has weight 1, as the Gateway API defines.
func ruleBackends(hr *unstructured.Unstructured) ([]router.RouteBackends, error) {
	rules, _, err := unstructured.NestedSlice(hr.Object, "spec", "rules")
	if err != nil {
		return nil, fmt.Errorf("HTTPRoute %s/%s: spec.rules: %w", hr.GetNamespace(), hr.GetName(), err)
	}
	var out []router.RouteBackends
	for i, r := range rules {
		rule, _ := r.(map[string]any)
		refs, found, err := unstructured.NestedSlice(rule, "backendRefs")
		if err != nil {
			return nil, fmt.Errorf("HTTPRoute %s/%s rule %d: backendRefs: %w", hr.GetNamespace(), hr.GetName(), i, err)
		}
		if !found {
			continue
		}
		backends := make([]router.Backend, 0, len(refs))
		for _, ref := range refs {
			m, _ := ref.(map[string]any)
			name, _, _ := unstructured.NestedString(m, "name")
			weight, found, err := unstructured.NestedInt64(m, "weight")
			if err != nil {
				return nil, fmt.Errorf("HTTPRoute %s/%s rule %d backend %s: weight: %w", hr.GetNamespace(), hr.GetName(), i, name, err)
			}
			if !found {
				weight = 1
			}
			backends = append(backends, router.Backend{Name: name, Weight: int(weight)})
		}
		out = append(out, router.RouteBackends{At: fmt.Sprintf("HTTPRoute %s rule %d", hr.GetName(), i), Backends: backends, Header: isHeaderRule(rule)})
	}
	return out, nil
}

// SettleTime: VPC Lattice takes about 90 s to apply new target weights.
func (Router) SettleTime() time.Duration { return contract.LatticeSettleTime }

var _ router.RouteChecker = Router{}
