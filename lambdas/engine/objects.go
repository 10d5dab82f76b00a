package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// object is one rendered Kubernetes object and its role in a rollout.
type object struct {
	obj        *unstructured.Unstructured
	perVersion bool // named after one version; removed with it
	route      bool // carries the traffic weights
}

func (o object) workload() bool {
	k := o.obj.GetKind()
	return o.obj.GroupVersionKind().Group == "apps" && (k == "Deployment" || k == "StatefulSet")
}

type objects []object

// workloadsFirst orders objects for applying: everything a route points at
// exists before the route does.
func (os objects) workloadsFirst() objects {
	out := slices.Clone(os)
	slices.SortStableFunc(out, func(a, b object) int {
		switch {
		case a.route == b.route:
			return 0
		case a.route:
			return 1
		default:
			return -1
		}
	})
	return out
}

// render fills the template for one version, with the route's backends, and
// labels every object so it can be found again. Without backends the route
// gets a placeholder (the version alone) and must not be applied.
func (e *Engine) render(s spec.Spec, version int, backends []router.Backend) (objects, error) {
	return e.renderImage(s, version, s.ContainerImage, backends)
}

func (e *Engine) renderImage(s spec.Spec, version int, image string, backends []router.Backend) (objects, error) {
	rt, err := e.router(s.Router)
	if err != nil {
		return nil, err
	}
	tmpl, err := s.Template()
	if err != nil {
		return nil, &Error{Name: statemachine.ErrValidation, Err: err}
	}
	values := template.Values{Namespace: s.Namespace, Microservice: s.Microservice, Image: image, Version: version, Routes: routesSentinel}
	rendered, err := e.renders.get(tmpl, values)
	if err != nil {
		return nil, &Error{Name: statemachine.ErrValidation, Err: err}
	}
	if len(backends) == 0 {
		backends = []router.Backend{{Name: naming.VersionName(s.Microservice, version), Weight: 100}}
	}
	// Gateway API backends name the version Service's port.
	fragment, err := rt.Fragment(backends, servicePort(rendered))
	if err != nil {
		return nil, err
	}
	routes, err := parseFragment(fragment)
	if err != nil {
		return nil, err
	}
	objs := make(objects, 0, len(rendered.Objects))
	for _, o := range rendered.Objects {
		obj := o.Obj.DeepCopy()
		obj.Object = substituteRoutes(obj.Object, routes).(map[string]any)
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[naming.LabelManagedBy] = naming.ManagedByValue
		labels[naming.LabelMicroservice] = s.Microservice
		if o.PerVersion {
			labels[naming.LabelVersion] = strconv.Itoa(version)
		}
		obj.SetLabels(labels)
		objs = append(objs, object{obj: obj, perVersion: o.PerVersion, route: rt.IsRoute(obj)})
	}
	return objs, nil
}

// routesSentinel stands in for ${CANARY_ROUTES} while rendering, so one
// rendering per version serves every step: the lists holding it are then
// replaced by the step's backends.
const routesSentinel = `{"canary-engine-routes":"backends"}`

// substituteRoutes replaces every list made of the sentinel alone by routes.
func substituteRoutes(v any, routes []any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			x[k] = substituteRoutes(child, routes)
		}
		return x
	case []any:
		if len(x) == 1 {
			if m, ok := x[0].(map[string]any); ok && len(m) == 1 && m["canary-engine-routes"] == "backends" {
				return runtime.DeepCopyJSONValue(routes)
			}
		}
		for i, child := range x {
			x[i] = substituteRoutes(child, routes)
		}
		return x
	default:
		return v
	}
}

// parseFragment reads a router's fragment as the JSON values unstructured
// objects hold (integers as int64).
func parseFragment(fragment string) ([]any, error) {
	var routes []any
	if err := json.Unmarshal([]byte("["+fragment+"]"), &routes); err != nil {
		return nil, fmt.Errorf("the router's backends %q are not JSON: %w", fragment, err)
	}
	return normalize(routes).([]any), nil
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			x[k] = normalize(child)
		}
	case []any:
		for i, child := range x {
			x[i] = normalize(child)
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	}
	return v
}

// renderCache keeps recent renderings: a rollout renders the same version
// at every step, and parsing YAML is most of a step's CPU.
type renderCache struct {
	mu sync.Mutex
	m  map[[32]byte]*template.Rendered
}

// renderCacheSize bounds the cache; a rollout needs two versions.
const renderCacheSize = 32

func (c *renderCache) get(tmpl []byte, v template.Values) (*template.Rendered, error) {
	h := sha256.New()
	h.Write(tmpl)
	fmt.Fprintf(h, "\x00%s\x00%s\x00%s\x00%d\x00%s", v.Namespace, v.Microservice, v.Image, v.Version, v.Routes)
	var key [32]byte
	h.Sum(key[:0])
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.m[key]; ok {
		return r, nil
	}
	r, err := template.Render(tmpl, v)
	if err != nil {
		return nil, err
	}
	if c.m == nil || len(c.m) >= renderCacheSize {
		c.m = map[[32]byte]*template.Rendered{}
	}
	c.m[key] = r
	return r, nil
}

// servicePort is the first port of the version's own Service, which Gateway
// API backendRefs must name.
func servicePort(r *template.Rendered) int {
	for _, o := range r.Objects {
		if o.Obj.GetKind() != "Service" || !o.PerVersion {
			continue
		}
		ports, _, _ := unstructured.NestedSlice(o.Obj.Object, "spec", "ports")
		if len(ports) == 0 {
			continue
		}
		if p, ok := ports[0].(map[string]any); ok {
			if port, ok, _ := unstructured.NestedInt64(p, "port"); ok {
				return int(port)
			}
		}
	}
	return 0
}

// backendsAt is the route for a canary weight. At 100% the stable version
// stays in the route at 0 so that a failed bake rolls back instantly.
func backendsAt(st *State, weight int) []router.Backend {
	r := st.Rollout
	canary := naming.VersionName(st.Microservice, r.Version)
	if r.firstDeployment() {
		return []router.Backend{{Name: canary, Weight: 100}}
	}
	stable := naming.VersionName(st.Microservice, r.StableVersion)
	return []router.Backend{{Name: canary, Weight: weight}, {Name: stable, Weight: 100 - weight}}
}

// applyRoute writes the route objects with the given backends.
func (e *Engine) applyRoute(ctx context.Context, sess *Session, s spec.Spec, version int, backends []router.Backend) error {
	objs, err := e.render(s, version, backends)
	if err != nil {
		return err
	}
	applied := 0
	for _, o := range objs {
		if !o.route {
			continue
		}
		if err := applyErr(sess.Kube.Apply(ctx, o.obj)); err != nil {
			return fmt.Errorf("apply %s %s: %w", o.obj.GetKind(), o.obj.GetName(), err)
		}
		applied++
	}
	if applied == 0 {
		return &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("the template of %s has no %s route object to carry the weights", s.Microservice, s.Router)}
	}
	return nil
}

// routeOnly checks that the live route sends traffic to backends named in
// keep and nowhere else, before anything it used to reference is deleted.
func (e *Engine) routeOnly(ctx context.Context, sess *Session, s spec.Spec, keep ...string) error {
	rt, err := e.router(s.Router)
	if err != nil {
		return err
	}
	live, err := rt.Weights(ctx, sess.Kube.Dynamic, s.Namespace, s.Microservice)
	if err != nil {
		return fmt.Errorf("read the live route of %s: %w", s.Microservice, err)
	}
	for _, b := range live {
		if !slices.Contains(keep, b.Name) {
			return &Error{Name: statemachine.ErrTransient, Err: fmt.Errorf("the route of %s still references %s (weight %d); not deleting anything yet", s.Microservice, b.Name, b.Weight)}
		}
	}
	return nil
}

// deleteObjects removes objects in reverse apply order: the route first,
// then what it referenced.
func deleteObjects(ctx context.Context, sess *Session, objs objects) error {
	ordered := objs.workloadsFirst()
	slices.Reverse(ordered)
	for _, o := range ordered {
		if err := sess.Kube.Delete(ctx, o.obj); err != nil {
			return fmt.Errorf("delete %s %s: %w", o.obj.GetKind(), o.obj.GetName(), err)
		}
	}
	return nil
}

func perVersion(objs objects) objects {
	var out objects
	for _, o := range objs {
		if o.perVersion {
			out = append(out, o)
		}
	}
	return out
}

// applyErr drops the applied object: the engine reads state back only where
// it needs to (the live route, readiness).
func applyErr(_ *unstructured.Unstructured, err error) error { return err }
