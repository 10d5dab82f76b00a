// Package appmesh routes canary traffic with an App Mesh VirtualRouter: the
// weighted targets of its routes point at the VirtualNodes of the versions.
package appmesh

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
	Group = "appmesh.k8s.aws"
	Kind  = "VirtualRouter"
)

// VirtualRouters is the resource Weights reads.
var VirtualRouters = schema.GroupVersionResource{Group: Group, Version: "v1beta2", Resource: "virtualrouters"}

// Limits of weightedTargets in the appmesh.k8s.aws/v1beta2 CRD.
const (
	minTargets = 1
	maxTargets = 10
	maxWeight  = 100
)

// routeKinds are the route types of a VirtualRouter route; each has
// action.weightedTargets.
var routeKinds = []string{"httpRoute", "http2Route", "grpcRoute", "tcpRoute"}

// Router is the App Mesh router.
type Router struct{}

var _ router.Router = Router{}

// Name is the deploy.json value selecting App Mesh.
func (Router) Name() string { return spec.RouterAppMesh }

// IsRoute reports whether obj is a VirtualRouter.
func (Router) IsRoute(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == Group && gvk.Kind == Kind
}

type target struct {
	VirtualNodeRef nodeRef `json:"virtualNodeRef"`
	Weight         int     `json:"weight"`
}

type nodeRef struct {
	Name string `json:"name"`
}

// Fragment renders the weighted targets, one per backend, in order. The
// port is carried by the VirtualNodes, so it is not used.
func (Router) Fragment(backends []router.Backend, _ int) (string, error) {
	if len(backends) < minTargets || len(backends) > maxTargets {
		return "", fmt.Errorf("App Mesh route: %d backends given, a VirtualRouter route takes %d to %d weighted targets", len(backends), minTargets, maxTargets)
	}
	parts := make([]string, 0, len(backends))
	seen := map[string]bool{}
	for i, b := range backends {
		if b.Name == "" {
			return "", fmt.Errorf("App Mesh route: backend %d has no name: give the version's VirtualNode name", i)
		}
		if seen[b.Name] {
			return "", fmt.Errorf("App Mesh route: backend %s listed twice: give each version once", b.Name)
		}
		seen[b.Name] = true
		if b.Weight < 0 || b.Weight > maxWeight {
			return "", fmt.Errorf("App Mesh route: weight %d of backend %s is out of range: use 0 to %d", b.Weight, b.Name, maxWeight)
		}
		js, err := json.Marshal(target{VirtualNodeRef: nodeRef{Name: b.Name}, Weight: b.Weight})
		if err != nil {
			return "", err
		}
		parts = append(parts, string(js))
	}
	return strings.Join(parts, ","), nil
}

// Weights reads the weighted targets of the microservice's live
// VirtualRouters. Every route is written from the same fragment, so they
// agree; if they do not (a hand edit), the error names both.
func (Router) Weights(ctx context.Context, client dynamic.Interface, namespace, microservice string) ([]router.Backend, error) {
	list, err := client.Resource(VirtualRouters).Namespace(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: naming.LabelMicroservice + "=" + microservice,
	})
	if err != nil {
		return nil, fmt.Errorf("list VirtualRouters of %s in %s: %w", microservice, namespace, err)
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return items[i].GetName() < items[j].GetName() })

	var first []router.Backend
	var firstAt string
	for _, vr := range items {
		routes, _, err := unstructured.NestedSlice(vr.Object, "spec", "routes")
		if err != nil {
			return nil, fmt.Errorf("VirtualRouter %s/%s: spec.routes: %w", namespace, vr.GetName(), err)
		}
		for i, r := range routes {
			route, _ := r.(map[string]any)
			for _, kind := range routeKinds {
				targets, found, err := unstructured.NestedSlice(route, kind, "action", "weightedTargets")
				if err != nil {
					return nil, fmt.Errorf("VirtualRouter %s/%s route %d: %s.action.weightedTargets: %w", namespace, vr.GetName(), i, kind, err)
				}
				if !found {
					continue
				}
				backends, err := parseTargets(targets)
				if err != nil {
					return nil, fmt.Errorf("VirtualRouter %s/%s route %d: %w", namespace, vr.GetName(), i, err)
				}
				at := fmt.Sprintf("VirtualRouter %s route %q", vr.GetName(), route["name"])
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
	}
	return first, nil
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
func (Router) SettleTime() time.Duration { return 5 * time.Second }
