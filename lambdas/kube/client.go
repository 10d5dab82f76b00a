package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/eks-canary/platform/lambdas/kube/typed"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/rollout"
)

// Client reaches any kind the cluster serves, CRDs included, through the
// dynamic client and a discovery-backed REST mapper.
type Client struct {
	Clientset typed.Interface
	Dynamic   dynamic.Interface
	// FieldManager owns the fields Apply writes; naming.FieldManager unless
	// the caller is the operator CLI.
	FieldManager string

	mapper *restmapper.DeferredDiscoveryRESTMapper
	// podsSeen is, by namespace, the resourceVersion of the newest pod list.
	podsSeen sync.Map
}

// NewClient builds the clients for cfg.
func NewClient(cfg *rest.Config) (*Client, error) {
	cs, err := typed.NewForConfig(cfg)
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
func New(cs typed.Interface, dyn dynamic.Interface) *Client {
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

// Apply writes obj with server-side apply and strict field validation and
// returns the live object. Applying the same object again changes nothing,
// so every step can be repeated after a crash. Strict validation does not
// stop the API server from pruning a field a CRD's schema lacks when the
// object is created, nor a mutating admission policy from removing one, so
// what was stored is compared with what was sent: a missing field is a
// *DroppedFieldsError (the object was written, but not as sent).
//
// Force is set because the engine is the declared owner of every field it
// sends: the template plus the step's weights are the desired state. Without
// force, a field last written by someone else (kubectl edit, a client-side
// apply by an older pipeline) is a conflict, and a rollout would stop halfway
// with traffic split. Force takes over only the fields in obj; fields the
// engine does not send (an HPA's replicas, annotations of other controllers)
// keep their owners.
func (c *Client) Apply(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return c.apply(ctx, obj, "", false)
}

// ApplyAt is Apply guarded by the resourceVersion the caller read: if
// anything wrote the object since (or deleted it), the API server refuses
// the write with a conflict (apierrors.IsConflict) and nothing changes.
func (c *Client) ApplyAt(ctx context.Context, obj *unstructured.Unstructured, resourceVersion string) (*unstructured.Unstructured, error) {
	if resourceVersion == "" {
		return nil, fmt.Errorf("apply %s at a resourceVersion: the resourceVersion is empty; use Apply for an object not yet written", ref(obj))
	}
	return c.apply(ctx, obj, resourceVersion, false)
}

// DryRunApply sends obj as Apply would with dryRun=All: the API server runs
// schema validation, defaulting, quota and every admission check, and
// stores nothing. It returns the object as it would be stored; an API server
// refusal is returned as such (see IsRefusal), a dropped field as
// *DroppedFieldsError.
func (c *Client) DryRunApply(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return c.apply(ctx, obj, "", true)
}

func (c *Client) apply(ctx context.Context, obj *unstructured.Unstructured, resourceVersion string, dryRun bool) (*unstructured.Unstructured, error) {
	ri, _, err := c.resource(obj)
	if err != nil {
		return nil, err
	}
	desired := forApply(obj)
	if resourceVersion != "" {
		desired.SetResourceVersion(resourceVersion)
	}
	body, err := desired.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ref(obj), err)
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: c.FieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict}
	verb := "apply"
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
		verb = "dry-run apply"
	}
	live, err := ri.Patch(ctx, desired.GetName(), types.ApplyPatchType, body, opts)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", verb, ref(obj), err)
	}
	if dropped := Dropped(desired.Object, live.Object); len(dropped) > 0 {
		return live, &DroppedFieldsError{Object: ref(obj), Fields: dropped, DryRun: dryRun}
	}
	return live, nil
}

// DroppedFieldsError names fields the API server accepted but did not keep.
type DroppedFieldsError struct {
	Object string   // "VirtualRouter yelb/yelb-appserver"
	Fields []string // field paths, e.g. spec.routes[0].tcpRoute.match.prefix
	DryRun bool     // found by the dry run: nothing was written
}

func (e *DroppedFieldsError) Error() string {
	written := "it was written without them"
	if e.DryRun {
		written = "found in a dry run; nothing was written"
	}
	return fmt.Sprintf("%s: the API server dropped %s (%s): the kind's schema or an admission policy does not keep %s; remove or fix %s in the template",
		e.Object, strings.Join(e.Fields, ", "), written, plural(len(e.Fields), "this field", "these fields"), plural(len(e.Fields), "it", "them"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Dropped lists the paths of sent that stored lacks. Only presence is
// compared: the API server normalises values (quantities, defaults), and a
// zero value ("", 0, false, null, {} or []) may be omitted by its encoding
// without losing anything. Lists of objects that all have a name are
// matched by name, others by position.
func Dropped(sent, stored map[string]any) []string {
	var out []string
	droppedIn("", sent, stored, &out)
	return out
}

func droppedIn(path string, sent, stored any, out *[]string) {
	if zero(sent) {
		return
	}
	switch s := sent.(type) {
	case map[string]any:
		have, ok := stored.(map[string]any)
		if !ok {
			*out = append(*out, path)
			return
		}
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			v, found := have[k]
			if !found {
				if !zero(s[k]) {
					*out = append(*out, p)
				}
				continue
			}
			droppedIn(p, s[k], v, out)
		}
	case []any:
		have, ok := stored.([]any)
		if !ok {
			*out = append(*out, path)
			return
		}
		byName := map[string]any{}
		named := true
		for _, item := range have {
			if m, ok := item.(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					byName[n] = item
				}
			}
		}
		for _, item := range s {
			m, ok := item.(map[string]any)
			if _, hasName := m["name"].(string); !ok || !hasName {
				named = false
			}
		}
		for i, item := range s {
			p := fmt.Sprintf("%s[%d]", path, i)
			if named {
				name := item.(map[string]any)["name"].(string)
				match, found := byName[name]
				if !found {
					*out = append(*out, fmt.Sprintf("%s[name=%s]", path, name))
					continue
				}
				droppedIn(fmt.Sprintf("%s[name=%s]", path, name), item, match, out)
				continue
			}
			if i >= len(have) {
				*out = append(*out, p)
				continue
			}
			droppedIn(p, item, have[i], out)
		}
	}
}

// zero is a value the API server's encoding may omit without losing anything.
func zero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case int64:
		return x == 0
	case int:
		return x == 0
	case float64:
		return x == 0
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
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

// PodsOf is Pods with the workload's selector taken from obj, the workload
// as the caller applied it, instead of read back: the selector of a
// Deployment or StatefulSet cannot change once it exists, so the read would
// return the same one. An obj without a selector is read as Pods reads it.
func (c *Client) PodsOf(ctx context.Context, obj *unstructured.Unstructured) ([]rollout.PodObservation, error) {
	sel, ok, err := workloadSelector(obj)
	if err != nil {
		return nil, fmt.Errorf("pods of %s: %w", ref(obj), err)
	}
	if !ok {
		return c.Pods(ctx, obj)
	}
	return c.podsSelected(ctx, obj, sel)
}

// workloadSelector is the pod selector of a Deployment or StatefulSet
// object; ok is false for other kinds and for an object without one, which
// must be read from the API server instead.
func workloadSelector(obj *unstructured.Unstructured) (sel labels.Selector, ok bool, err error) {
	if k := obj.GetKind(); obj.GroupVersionKind().Group != "apps" || (k != "Deployment" && k != "StatefulSet") {
		return nil, false, nil
	}
	raw, found, err := unstructured.NestedMap(obj.Object, "spec", "selector")
	if err != nil {
		return nil, false, fmt.Errorf("spec.selector: %w", err)
	}
	if !found || len(raw) == 0 {
		return nil, false, nil
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
		return nil, false, fmt.Errorf("spec.selector: %w", err)
	}
	if sel, err = metav1.LabelSelectorAsSelector(&ls); err != nil {
		return nil, false, fmt.Errorf("spec.selector: %w", err)
	}
	if sel.Empty() {
		return nil, false, nil // matches every pod: never trusted as written
	}
	return sel, true, nil
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
