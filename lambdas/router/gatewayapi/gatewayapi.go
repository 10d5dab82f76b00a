// Package gatewayapi routes canary traffic with a Gateway API HTTPRoute
// (served by the AWS Gateway API controller on VPC Lattice): the weighted
// backendRefs of its rules point at the Services of the versions.
package gatewayapi

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
)

// Group and Kind of the route object.
const (
	Group = "gateway.networking.k8s.io"
	Kind  = "HTTPRoute"
)

// HTTPRoutes is the resource Weights reads.
var HTTPRoutes = schema.GroupVersionResource{Group: Group, Version: "v1", Resource: "httproutes"}

// Limits of an HTTPRoute rule's backendRefs in the Gateway API CRD, and of
// the engine's percentages.
const (
	maxBackends = 16
	maxWeight   = 100
)

// Router is the Gateway API router.
type Router struct{}

var _ router.Router = Router{}

// Name is the deploy.json value selecting Gateway API.
func (Router) Name() string { return spec.RouterGatewayAPI }

// IsRoute reports whether obj is an HTTPRoute.
func (Router) IsRoute(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == Group && gvk.Kind == Kind
}

type backendRef struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Port   int    `json:"port"`
	Weight int    `json:"weight"`
}

// Fragment renders one Service backendRef per backend, on the versions'
// Service port.
func (Router) Fragment(backends []router.Backend, port int) (string, error) {
	if len(backends) == 0 || len(backends) > maxBackends {
		return "", fmt.Errorf("HTTPRoute rule: %d backends given, a rule takes 1 to %d backendRefs", len(backends), maxBackends)
	}
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("HTTPRoute rule: port %d is out of range: give the versions' Service port (1 to 65535)", port)
	}
	parts := make([]string, 0, len(backends))
	seen := map[string]bool{}
	for i, b := range backends {
		if b.Name == "" {
			return "", fmt.Errorf("HTTPRoute rule: backend %d has no name: give the version's Service name", i)
		}
		if seen[b.Name] {
			return "", fmt.Errorf("HTTPRoute rule: backend %s listed twice: give each version once", b.Name)
		}
		seen[b.Name] = true
		if b.Weight < 0 || b.Weight > maxWeight {
			return "", fmt.Errorf("HTTPRoute rule: weight %d of backend %s is out of range: use 0 to %d", b.Weight, b.Name, maxWeight)
		}
		js, err := json.Marshal(backendRef{Kind: "Service", Name: b.Name, Port: port, Weight: b.Weight})
		if err != nil {
			return "", err
		}
		parts = append(parts, string(js))
	}
	return strings.Join(parts, ","), nil
}

// Weights reads the backendRefs of the microservice's live HTTPRoutes. A
// backendRef without weight has weight 1, as the Gateway API defines. Rules
// are written from one fragment, so they agree; if not, the error names both.
func (Router) Weights(ctx context.Context, client dynamic.Interface, namespace, microservice string) ([]router.Backend, error) {
	list, err := client.Resource(HTTPRoutes).Namespace(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: naming.LabelMicroservice + "=" + microservice,
	})
	if err != nil {
		return nil, fmt.Errorf("list HTTPRoutes of %s in %s: %w", microservice, namespace, err)
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return items[i].GetName() < items[j].GetName() })

	var first []router.Backend
	var firstAt string
	for _, route := range items {
		rules, _, err := unstructured.NestedSlice(route.Object, "spec", "rules")
		if err != nil {
			return nil, fmt.Errorf("HTTPRoute %s/%s: spec.rules: %w", namespace, route.GetName(), err)
		}
		for i, r := range rules {
			rule, _ := r.(map[string]any)
			refs, found, err := unstructured.NestedSlice(rule, "backendRefs")
			if err != nil {
				return nil, fmt.Errorf("HTTPRoute %s/%s rule %d: backendRefs: %w", namespace, route.GetName(), i, err)
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
					return nil, fmt.Errorf("HTTPRoute %s/%s rule %d backend %s: weight: %w", namespace, route.GetName(), i, name, err)
				}
				if !found {
					weight = 1
				}
				backends = append(backends, router.Backend{Name: name, Weight: int(weight)})
			}
			at := fmt.Sprintf("HTTPRoute %s rule %d", route.GetName(), i)
			if first == nil {
				first, firstAt = backends, at
				continue
			}
			if !router.SameWeights(first, backends) {
				return nil, fmt.Errorf("routes of %s disagree: %s sends %s but %s sends %s: re-run the rollout step to rewrite them",
					microservice, firstAt, router.FormatBackends(first), at, router.FormatBackends(backends))
			}
		}
	}
	return first, nil
}

// SettleTime: VPC Lattice takes about 90 s to apply new target weights.
func (Router) SettleTime() time.Duration { return 90 * time.Second }
