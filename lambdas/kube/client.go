package kube

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/eks-canary/platform/lambdas/naming"
)

// Client reaches any kind the cluster serves, CRDs included, through the
// dynamic client and a discovery-backed REST mapper.
type Client struct {
	Clientset kubernetes.Interface
	Dynamic   dynamic.Interface
	// FieldManager owns the fields Apply writes; naming.FieldManager unless
	// the caller is the operator CLI.
	FieldManager string

	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewClient builds the clients for cfg.
func NewClient(cfg *rest.Config) (*Client, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build Kubernetes clientset for %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build Kubernetes dynamic client for %s: %w", cfg.Host, err)
	}
	return New(cs, dyn), nil
}

// New wraps existing clients; discovery goes through cs.
func New(cs kubernetes.Interface, dyn dynamic.Interface) *Client {
	return &Client{
		Clientset:    cs,
		Dynamic:      dyn,
		FieldManager: naming.FieldManager,
		// Discovery is read once and cached; Mapping resets the cache when
		// a kind is missing, so a CRD installed later is still found.
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery())),
	}
}

// Mapping finds the resource serving gvk, refreshing discovery once if the
// cached view does not know it.
func (c *Client) Mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset() // safe for concurrent use
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("kind %s of apiVersion %s is not served by the cluster: install its CRD or fix apiVersion/kind: %w",
			gvk.Kind, gvk.GroupVersion(), err)
	}
	if err != nil {
		return nil, fmt.Errorf("map kind %s of apiVersion %s to a resource: %w", gvk.Kind, gvk.GroupVersion(), err)
	}
	return m, nil
}

// resource returns the dynamic interface for obj's kind and namespace.
func (c *Client) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return nil, nil, fmt.Errorf("object %q has no apiVersion or kind: set both", obj.GetName())
	}
	if obj.GetName() == "" {
		return nil, nil, fmt.Errorf("%s object has no metadata.name: set it", gvk.Kind)
	}
	m, err := c.Mapping(gvk)
	if err != nil {
		return nil, nil, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource), m, nil
	}
	if obj.GetNamespace() == "" {
		return nil, nil, fmt.Errorf("%s %s has no metadata.namespace: namespaced kinds need one", gvk.Kind, obj.GetName())
	}
	return c.Dynamic.Resource(m.Resource).Namespace(obj.GetNamespace()), m, nil
}

// Apply writes obj with server-side apply and returns the live object.
// Applying the same object again changes nothing, so every step can be
// repeated after a crash.
//
// Force is set because the engine is the declared owner of every field it
// sends: the template plus the step's weights are the desired state. Without
// force, a field last written by someone else (kubectl edit, a client-side
// apply by an older pipeline) is a conflict, and a rollout would stop halfway
// with traffic split. Force takes over only the fields in obj; fields the
// engine does not send (an HPA's replicas, annotations of other controllers)
// keep their owners.
func (c *Client) Apply(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, _, err := c.resource(obj)
	if err != nil {
		return nil, err
	}
	desired := forApply(obj)
	live, err := ri.Apply(ctx, desired.GetName(), desired, metav1.ApplyOptions{FieldManager: c.FieldManager, Force: true})
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", ref(obj), err)
	}
	return live, nil
}

// forApply strips what a server-side apply must not carry: server-set
// metadata (a resourceVersion would turn the apply into a conditional
// update) and status, which belongs to controllers.
func forApply(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		unstructured.RemoveNestedField(out.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(out.Object, "status")
	return out
}

// Get reads the live version of obj (found by kind, namespace and name).
func (c *Client) Get(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, _, err := c.resource(obj)
	if err != nil {
		return nil, err
	}
	live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref(obj), err)
	}
	return live, nil
}

// Delete removes obj (found by kind, namespace and name). An object already
// gone is not an error. Dependents (ReplicaSets, Pods) are removed by the
// garbage collector in the background.
func (c *Client) Delete(ctx context.Context, obj *unstructured.Unstructured) error {
	ri, _, err := c.resource(obj)
	if err != nil {
		return err
	}
	policy := metav1.DeletePropagationBackground
	err = ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s: %w", ref(obj), err)
	}
	return nil
}

// Deleted names one object DeleteByLabels removed.
type Deleted struct {
	Kind, Name string
}

// DeleteByLabels deletes every object of the given kinds in namespace that
// matches selector (e.g. all objects of one version) and returns what it
// deleted, kinds in the order given. Kinds the cluster does not serve are
// skipped: a cluster without App Mesh has no VirtualNodes to delete.
func (c *Client) DeleteByLabels(ctx context.Context, namespace, selector string, kinds ...schema.GroupVersionKind) ([]Deleted, error) {
	if selector == "" {
		return nil, fmt.Errorf("delete by labels in namespace %s: empty selector would delete every object: give a label selector", namespace)
	}
	var deleted []Deleted
	policy := metav1.DeletePropagationBackground
	for _, gvk := range kinds {
		m, err := c.Mapping(gvk)
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return deleted, err
		}
		ri := c.Dynamic.Resource(m.Resource).Namespace(namespace)
		list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return deleted, fmt.Errorf("list %s in %s with labels %s: %w", m.Resource.Resource, namespace, selector, err)
		}
		names := make([]string, 0, len(list.Items))
		for _, item := range list.Items {
			names = append(names, item.GetName())
		}
		slices.Sort(names)
		for _, name := range names {
			err := ri.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy})
			if err != nil && !apierrors.IsNotFound(err) {
				return deleted, fmt.Errorf("delete %s %s/%s: %w", gvk.Kind, namespace, name, err)
			}
			deleted = append(deleted, Deleted{Kind: gvk.Kind, Name: name})
		}
	}
	return deleted, nil
}

// VersionSelector selects the objects the engine created for one version.
func VersionSelector(microservice string, version int) string {
	return fmt.Sprintf("%s=%s,%s=%s,%s=%d", naming.LabelManagedBy, naming.ManagedByValue,
		naming.LabelMicroservice, microservice, naming.LabelVersion, version)
}

// ref names obj in messages: "Deployment yelb/yelb-ui-3".
func ref(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return obj.GetKind() + " " + ns + "/" + obj.GetName()
	}
	return obj.GetKind() + " " + obj.GetName()
}
