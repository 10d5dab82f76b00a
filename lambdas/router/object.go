package router

import (
	"context"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/eks-canary/platform/lambdas/naming"
)

// Object is one kind of route object: the resource it is served as, its
// kind, and what its list of weighted backends accepts.
type Object struct {
	Resource schema.GroupVersionResource
	Kind     string
	Limits   Limits
}

// Is reports whether obj is of this kind, at any version of its group.
func (o Object) Is(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == o.Resource.Group && gvk.Kind == o.Kind
}

// Items checks backends against the object's limits, then builds one list
// item per backend with item: the values spliced in place of
// ${CANARY_ROUTES} inside the object's list. Numbers must be int64, as in
// any unstructured object.
func (o Object) Items(backends []Backend, item func(Backend) map[string]any) ([]map[string]any, error) {
	if err := CheckBackends(backends, o.Limits); err != nil {
		return nil, err
	}
	items := make([]map[string]any, 0, len(backends))
	for _, b := range backends {
		items = append(items, item(b))
	}
	return items, nil
}

// Weights reads the backends of the microservice's live objects of this
// kind: routes reads those of every route inside one object, and all of
// them must agree (MergeRoutes). No object means no backends and no error.
func (o Object) Weights(ctx context.Context, client dynamic.Interface, namespace, microservice string,
	routes func(obj *unstructured.Unstructured) ([]RouteBackends, error)) ([]Backend, error) {
	list, err := client.Resource(o.Resource).Namespace(namespace).List(ctx, metav1.ListOptions{
		// A blue-green preview route is not production traffic.
		LabelSelector: naming.LabelMicroservice + "=" + microservice + ",!" + naming.LabelPreview,
	})
	if err != nil {
		return nil, fmt.Errorf("list %ss of %s in %s: %w", o.Kind, microservice, namespace, err)
	}
	items := list.Items
	// By name, so a disagreement is reported the same way every time.
	sort.Slice(items, func(i, j int) bool { return items[i].GetName() < items[j].GetName() })
	var all []RouteBackends
	for i := range items {
		found, err := routes(&items[i])
		if err != nil {
			return nil, err
		}
		all = append(all, found...)
	}
	return MergeRoutes(microservice, all)
}
