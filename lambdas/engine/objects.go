package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"

	"github.com/eks-canary/platform/lambdas/hooks/job"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
	"github.com/eks-canary/platform/lambdas/template"
)

// object is one rendered Kubernetes object and its role in a rollout.
type object struct {
	obj        *unstructured.Unstructured
	perVersion bool // named after one version; removed with it
	route      bool // carries the traffic weights
	preview    bool // a blue-green preview object of its own (deleted when the preview ends)
}

func (o object) workload() bool {
	k := o.obj.GetKind()
	return o.obj.GroupVersionKind().Group == "apps" && (k == "Deployment" || k == "StatefulSet")
}

type objects []object

// routes are the route objects among os.
func (os objects) routes() objects {
	var out objects
	for _, o := range os {
		if o.route {
			out = append(out, o)
		}
	}
	return out
}

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

// render fills s's template for one version with s's image and labels
// every object so it can be found again. The routes carry backends;
// without them they get a placeholder (the version alone) and must not be
// applied. Headers, when given, put the A/B stage's header rule ahead of
// the weighted one, sending matching requests to this version.
func (e *Engine) render(s spec.Spec, version int, backends []router.Backend, headers []spec.HeaderMatch) (objects, error) {
	rt, err := e.router(s.Router)
	if err != nil {
		return nil, err
	}
	tmpl, err := s.Template()
	if err != nil {
		return nil, &Error{Name: statemachine.ErrValidation, Err: err}
	}
	// The YAML is parsed once per version; each step only fills the routes.
	open, err := e.renders.Open(tmpl, template.Values{Namespace: s.Namespace, Microservice: s.Microservice, Image: s.ContainerImage, Version: version, ServiceDomain: e.ServiceDomain})
	if err != nil {
		return nil, &Error{Name: statemachine.ErrValidation, Err: err}
	}
	// A template without a route list (in place) needs no routes, and may
	// have no version Service whose port Gateway API backends name. The
	// parsed rendering knows; the template text does not (a comment may
	// quote the placeholder).
	var items []map[string]any
	if open.HasRoutes() {
		if len(backends) == 0 {
			backends = []router.Backend{{Name: naming.VersionName(s.Microservice, version), Weight: 100}}
		}
		if items, err = rt.Items(backends, servicePort(open)); err != nil {
			return nil, &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("route of %s version %d: %w", s.Microservice, version, err)}
		}
	}
	rendered, err := open.Fill(items)
	if err != nil {
		return nil, fmt.Errorf("route of %s version %d: %w", s.Microservice, version, err)
	}
	objs := make(objects, 0, len(rendered.Objects))
	for _, o := range rendered.Objects {
		if job.IsJob(o.Obj) {
			continue // a hook's document, created by its hook (hooks.go)
		}
		labels := o.Obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[naming.LabelManagedBy] = naming.ManagedByValue
		labels[naming.LabelMicroservice] = s.Microservice
		if o.PerVersion {
			labels[naming.LabelVersion] = strconv.Itoa(version)
			if err := stampPods(o.Obj, s.Microservice, version); err != nil {
				return nil, &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("%s %s of %s version %d: %w", o.Obj.GetKind(), o.Obj.GetName(), s.Microservice, version, err)}
			}
		}
		o.Obj.SetLabels(labels)
		isRoute := rt.IsRoute(o.Obj)
		if isRoute && len(headers) > 0 {
			if err := rt.HeaderRoute(o.Obj, headers, naming.VersionName(s.Microservice, version), servicePort(open)); err != nil {
				return nil, &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("ab: the route of %s cannot hold the A/B stage: %w", s.Microservice, err)}
			}
		}
		objs = append(objs, object{obj: o.Obj, perVersion: o.PerVersion, route: isRoute})
	}
	return objs, nil
}

// stampPods labels the pods of a version's workload with the engine's own
// microservice and version labels, whatever the template says: the metrics
// scrape reads a pod's version from them (contract.PromLabelVersion), so no
// template can pass its pods off as another microservice's version.
func stampPods(obj *unstructured.Unstructured, microservice string, version int) error {
	if _, found, _ := unstructured.NestedMap(obj.Object, "spec", "template"); !found {
		return nil
	}
	labels, _, err := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "labels")
	if err != nil {
		return fmt.Errorf("spec.template.metadata.labels: %w", err)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	labels[naming.LabelMicroservice] = microservice
	labels[naming.LabelVersion] = strconv.Itoa(version)
	return unstructured.SetNestedStringMap(obj.Object, labels, "spec", "template", "metadata", "labels")
}

// servicePort is the first port of the version's own Service, which Gateway
// API backendRefs must name.
func servicePort(r *template.Rendered) int {
	for _, o := range r.Objects {
		if o.Obj.GetKind() != "Service" || !o.PerVersion {
			continue
		}
		if port, ok := servicePortOf(object{obj: o.Obj}); ok {
			return port
		}
	}
	return 0
}

// servicePortOf is the first port of a Service.
func servicePortOf(o object) (int, bool) {
	ports, _, _ := unstructured.NestedSlice(o.obj.Object, "spec", "ports")
	if len(ports) == 0 {
		return 0, false
	}
	if p, ok := ports[0].(map[string]any); ok {
		if port, ok, _ := unstructured.NestedInt64(p, "port"); ok {
			return int(port), true
		}
	}
	return 0, false
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

// routeWrite says who writes a route and how.
type routeWrite struct {
	// execution is the rollout writing. Its writes stop once its roll back
	// has begun (fence).
	execution string
	// rollingBack marks the roll back's own writes, which always go
	// through and put the mark on the route.
	rollingBack bool
	// headers are the A/B stage's header rule, written ahead of the
	// weighted one in the same object.
	headers []spec.HeaderMatch
	// versions, when set, holds the resourceVersion this execution's last
	// write left on each route object (routeKey). A write starts from it
	// instead of reading the route, and records the one it leaves.
	versions map[string]string
	// created, when set, is set to true if a route object did not exist
	// and was created without a precondition: only the guarded status
	// write after it (commit) can tell whether a roll back ran meanwhile.
	created *bool
}

// routeKey names a route object in routeWrite.versions.
func routeKey(obj *unstructured.Unstructured) string {
	return obj.GetKind() + " " + obj.GetName()
}

// wrote records the resourceVersion a write of obj left.
func (w routeWrite) wrote(obj, live *unstructured.Unstructured) {
	if w.versions != nil && live != nil {
		w.versions[routeKey(obj)] = live.GetResourceVersion()
	}
}

// applyRoute writes the route objects with the given backends. Each route
// object is one write, so the header rule comes and goes with the weights
// beside it.
func (e *Engine) applyRoute(ctx context.Context, sess *Session, s spec.Spec, version int, backends []router.Backend, w routeWrite) error {
	objs, err := e.render(s, version, backends, w.headers)
	if err != nil {
		return err
	}
	routes := objs.routes()
	if len(routes) == 0 {
		return &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("the template of %s has no %s route object to carry the weights", s.Microservice, s.Router)}
	}
	for _, o := range routes {
		if err := writeRoute(ctx, sess, o.obj, w); err != nil {
			return err
		}
	}
	return nil
}

// writeRoute is the fence between a roll back and a shift still in flight.
// The roll back's first write marks the route with its execution
// (naming.AnnotationRollingBack). Every other write of that execution reads
// the route and writes at the resourceVersion it read: a route marked for
// it, or changed since the read by the roll back, refuses the write, so
// traffic never goes back to a version the roll back is deleting. Writes of
// a later rollout drop the mark (the same field manager stops sending it).
//
// With the resourceVersion of this execution's own last write (w.versions)
// the read is skipped: a route still at that version carries no mark, since
// that write dropped any. A route written since refuses with a conflict, and
// the write starts again from a read.
func writeRoute(ctx context.Context, sess *Session, obj *unstructured.Unstructured, w routeWrite) error {
	ref := routeKey(obj)
	if w.rollingBack {
		marked := obj.DeepCopy()
		annotations := marked.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[naming.AnnotationRollingBack] = w.execution
		marked.SetAnnotations(annotations)
		if err := applyErr(sess.Kube.Apply(ctx, marked)); err != nil {
			return fmt.Errorf("apply %s: %w", ref, err)
		}
		return nil
	}
	existed := false
	if rv := w.versions[ref]; rv != "" {
		live, err := sess.Kube.ApplyAt(ctx, obj, rv)
		switch {
		case err == nil:
			w.wrote(obj, live)
			return nil
		case apierrors.IsNotFound(err):
			return deletedWhileWritten(ref, w.execution)
		case !apierrors.IsConflict(err):
			return fmt.Errorf("apply %s: %w", ref, err)
		}
		existed = true // written since: read it and decide below
	}
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		live, err := sess.Kube.Get(ctx, obj)
		switch {
		case apierrors.IsNotFound(err) && existed:
			return deletedWhileWritten(ref, w.execution)
		case apierrors.IsNotFound(err):
			// Not written yet: the first shift of a first deployment.
			live, err := sess.Kube.Apply(ctx, obj)
			if err != nil {
				return fmt.Errorf("apply %s: %w", ref, err)
			}
			if w.created != nil {
				*w.created = true
			}
			w.wrote(obj, live)
			return nil
		case err != nil:
			return fmt.Errorf("read %s before writing it: %w", ref, err)
		}
		existed = true
		if by := live.GetAnnotations()[naming.AnnotationRollingBack]; by != "" && by == w.execution {
			return &Error{Name: statemachine.ErrEnded, Err: fmt.Errorf("the roll back of execution %s has begun (%s is marked %s): not touching traffic", w.execution, ref, naming.AnnotationRollingBack)}
		}
		written, err := sess.Kube.ApplyAt(ctx, obj, live.GetResourceVersion())
		if err != nil {
			if apierrors.IsNotFound(err) {
				return deletedWhileWritten(ref, w.execution)
			}
			return fmt.Errorf("apply %s: %w", ref, err)
		}
		w.wrote(obj, written)
		return nil
	})
}

// deletedWhileWritten is a route that went away under a write of
// execution: only its roll back deletes it.
func deletedWhileWritten(ref, execution string) error {
	return &Error{Name: statemachine.ErrEnded, Err: fmt.Errorf("%s was deleted while execution %s wrote it: its roll back has begun; not touching traffic", ref, execution)}
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

// deleteObjects removes the microservice's own objects among objs in
// reverse apply order: the route first, then what it referenced. An object
// of the same name that belongs to someone else is left alone.
func deleteObjects(ctx context.Context, sess *Session, microservice string, objs objects) error {
	ordered := objs.workloadsFirst()
	slices.Reverse(ordered)
	_, live, err := foreignObjects(ctx, sess, microservice, ordered)
	if err != nil {
		return fmt.Errorf("read the objects of %s before deleting them: %w", microservice, err)
	}
	for i, o := range ordered {
		if live[i] == nil || foreignOwner(live[i], microservice) != "" {
			continue
		}
		if err := sess.Kube.Delete(ctx, o.obj); err != nil {
			return fmt.Errorf("delete %s %s: %w", o.obj.GetKind(), o.obj.GetName(), err)
		}
	}
	return nil
}

// applyErr drops the applied object: the engine reads state back only where
// it needs to (the live route, readiness).
func applyErr(_ *unstructured.Unstructured, err error) error { return err }

// MaxStateBytes is the budget for the execution's state: Step Functions
// carries at most 256 KiB between states, and what is left above the budget
// is headroom for the payload's envelope and for fields added later.
const MaxStateBytes = 200 << 10

// reservedErrorBytes is room for the error a Catch stores in the state on
// the way to Roll back (Step Functions caps an error's cause at 32 KiB).
const reservedErrorBytes = 32 << 10

// admit refuses a template the engine must not roll out: objects of another
// router or another microservice, anything the template policy refuses, or
// a state too large for Step Functions. Validate calls it on deploy.json's
// template; checkReadBack applies the same rules to a template read back
// from the status before a roll back applies it.
func (e *Engine) admit(s spec.Spec) error {
	problems, err := e.templateProblems(s)
	if err != nil {
		return &Error{Name: statemachine.ErrValidation, Err: err}
	}
	if size := ProjectedStateBytes(s); size > MaxStateBytes {
		problems = append(problems, template.Problem{Message: fmt.Sprintf(
			"the rollout's state would reach %s, more than the %s budget (Step Functions carries at most 256 KiB between states): make kubernetes_template.yml smaller",
			spec.FormatSize(size), spec.FormatSize(MaxStateBytes))})
	}
	if len(problems) > 0 {
		return &Error{Name: statemachine.ErrValidation, Err: &template.Error{Problems: problems}}
	}
	return nil
}

// templateProblems are the template's problems under every rule of the
// environment: YAML, kinds, namespace, the template policy, ownership and
// the router's own rules. An error means the template could not be read.
func (e *Engine) templateProblems(s spec.Spec) ([]template.Problem, error) {
	tmpl, err := s.Template()
	if err != nil {
		return nil, err
	}
	if _, err := e.router(s.Router); err != nil {
		return nil, err
	}
	open, err := template.Admit(tmpl, template.Values{Namespace: s.Namespace, Microservice: s.Microservice, Image: s.ContainerImage, Version: 1, ServiceDomain: e.ServiceDomain}, e.Policy)
	var refused *template.Error
	switch {
	case errors.As(err, &refused):
		return refused.Problems, nil
	case err != nil:
		return nil, err
	}
	problems := templateOwnership(s.Microservice, open)
	problems = append(problems, e.routerMismatch(s.Router, open)...)
	return append(problems, e.routeRules(s.Router, open)...), nil
}

// withTemplateProblems adds the template's problems to deploy.json's when
// the fields the template is rendered with are sound, so that one round
// fixes both.
func (e *Engine) withTemplateProblems(s spec.Spec, err error) error {
	var invalid *spec.ValidationError
	if !errors.As(err, &invalid) || invalid.Concerns("kubernetes_namespace", "microservice_name", "container_image", "config_file", "router") {
		return err
	}
	if _, ok := e.Routers[s.Router]; !ok {
		return err
	}
	if refused := e.admit(s); refused != nil {
		return fmt.Errorf("%w\n%w", err, refused)
	}
	return err
}

// routerMismatch explains a template written for another router: without
// it, the user would read about a missing route or a port instead.
func (e *Engine) routerMismatch(name string, open *template.Rendered) []template.Problem {
	own := e.Routers[name]
	var foreign []string
	others := map[string]bool{}
	for _, o := range open.Objects {
		if own.IsRoute(o.Obj) {
			return nil
		}
		for other, rt := range e.Routers {
			if other != name && rt.IsRoute(o.Obj) {
				foreign = append(foreign, o.Obj.GetKind()+"/"+o.Obj.GetName())
				others[other] = true
			}
		}
	}
	if len(foreign) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(others))
	return []template.Problem{{Message: fmt.Sprintf(
		"this template is written for router %s (its route %s), but deploy.json says router %q, which finds no route of its own in it: use the template written for %s (specfiles/%s/kubernetes_template.yml) or set \"router\": %q",
		strings.Join(names, ", "), strings.Join(foreign, ", "), name, name, name, names[0])}}
}

// routeRules applies the router's own rules to the routes the template
// renders, so a route its data plane would refuse or misroute never gets
// past Validate.
func (e *Engine) routeRules(name string, open *template.Rendered) []template.Problem {
	rt := e.Routers[name]
	checker, ok := rt.(router.RouteChecker)
	if !ok {
		return nil
	}
	var problems []template.Problem
	for _, o := range open.Objects {
		if !rt.IsRoute(o.Obj) {
			continue
		}
		if err := checker.CheckRoute(o.Obj, e.ServiceDomain); err != nil {
			problems = append(problems, template.Problem{Message: err.Error()})
		}
	}
	return problems
}

// ProjectedStateBytes is the size of the largest state a rollout of s can
// reach: deploy.json, a stable template as large as this one, the most
// verdicts and hook results kept, a hook's answer and a caught error.
func ProjectedStateBytes(s spec.Spec) int {
	rate, latency, p := 100.0, 1e6, 1.0
	verdicts := make([]status.Verdict, keepVerdicts)
	for i := range verdicts {
		verdicts[i] = status.Verdict{At: time.Now(), Weight: 100, Result: "nodata", Requests: 1e12, Errors: 1e12,
			SuccessRate: &rate, LatencyP99: &latency, PValue: &p, Reason: strings.Repeat("x", 200)}
	}
	st := State{Spec: s, Rollout: &Rollout{
		Versions: Versions{Execution: strings.Repeat("x", 256), Version: 1 << 30, StableVersion: 1 << 30, StableImage: s.ContainerImage,
			StableTemplate: s.ConfigFile, Plan: make([]int, 100), StartedAt: time.Now()},
		Progress:  Progress{DeployedAt: time.Now(), StepStartedAt: time.Now(), BakeStartedAt: time.Now()},
		Judgement: Judgement{Verdicts: verdicts, NoDataSince: time.Now()},
		Decision:  Decision{Reason: strings.Repeat("x", 200)},
	}}
	st.Rollout.Hooks, st.Rollout.Hook = worstHooks(s)
	st.Rollout.StatusVersion = strings.Repeat("9", 20)
	for range max(len(s.Analysis.Queries), 1) {
		st.Rollout.Warnings = append(st.Rollout.Warnings, strings.Repeat("x", maxWarningBytes))
	}
	// Each route object's resourceVersion rides along (RouteVersions); any
	// document of the template may be one, under the longest name allowed.
	if tmpl, err := s.Template(); err == nil {
		st.Rollout.RouteVersions = map[string]string{}
		for i := range bytes.Count(tmpl, []byte("\n---")) + 1 {
			st.Rollout.RouteVersions[fmt.Sprintf("%063d %0253d", i, i)] = strings.Repeat("9", 20)
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return math.MaxInt
	}
	return len(b) + reservedErrorBytes
}
