// Package template renders a microservice's kubernetes_template.yml into the
// objects the engine applies, and refuses a template that would write
// anything outside the microservice's own namespace and kinds.
//
// The placeholders are those of the original pipeline:
// ${KUBERNETES_NAMESPACE}, ${MICROSERVICE_NAME}, ${CONTAINER_IMAGE},
// ${CANARY_VERSION} and ${CANARY_ROUTES}, plus ${SERVICE_DOMAIN}, the stack's
// private DNS domain (stable VPC Lattice names are
// "<svc>.<namespace>.<domain>"). Every occurrence is replaced (the
// original sed replaced only the first one on each line), and any other
// ${...} is an error, so a typo cannot reach the cluster as literal text.
//
// Objects are classified per version or shared by rendering twice with two
// different versions: an object whose name changes belongs to one version
// (Deployment "<svc>-<N>"), the others are shared by all versions
// (VirtualService, the route object).
//
// ${CANARY_ROUTES} must stand alone inside a list ("weightedTargets:
// [${CANARY_ROUTES}]"): the template is parsed with a sentinel there, and the
// routes are spliced into the parsed lists. Open and Fill split the two, so a
// caller rendering one version at every step parses its YAML once.
//
// Nothing is applied here: Render either returns every object or an error
// listing every problem, so a bad template changes nothing in the cluster.
package template

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/spec"
)

// Placeholders.
const (
	PlaceholderNamespace    = "KUBERNETES_NAMESPACE"
	PlaceholderMicroservice = "MICROSERVICE_NAME"
	PlaceholderImage        = "CONTAINER_IMAGE"
	PlaceholderVersion      = "CANARY_VERSION"
	PlaceholderRoutes       = "CANARY_ROUTES"
	PlaceholderDomain       = "SERVICE_DOMAIN"
)

// Values fill the placeholders.
type Values struct {
	Namespace    string
	Microservice string
	Image        string
	Version      int
	// Routes are the list items that stand for ${CANARY_ROUTES}
	// (router.Router.Items), spliced into the parsed objects; may be
	// empty, must be for Open.
	Routes []map[string]any
	// ServiceDomain fills ${SERVICE_DOMAIN}; a template that uses it
	// cannot render without it.
	ServiceDomain string
}

// Object is one rendered object.
type Object struct {
	Obj *unstructured.Unstructured
	// PerVersion is true for objects named after the version
	// ("<svc>-<N>"): they are created for a canary and deleted with it.
	PerVersion bool

	routed bool // holds ${CANARY_ROUTES}; set by Open
	line   int  // where the object starts in the template; set by Open
}

// Line is where the object starts in the template (0 when unknown).
func (o Object) Line() int { return o.line }

// Rendered is a rendered template, objects in template order.
type Rendered struct {
	Objects []Object

	open  bool   // made by Open: Fill puts the routes in
	image string // Values.Image, which Check leaves to deploy.json's checks
}

// PerVersion returns the objects that belong to the rendered version only.
func (r *Rendered) PerVersion() []*unstructured.Unstructured { return r.filter(true) }

// Shared returns the objects that every version shares.
func (r *Rendered) Shared() []*unstructured.Unstructured { return r.filter(false) }

func (r *Rendered) filter(perVersion bool) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.Objects {
		if o.PerVersion == perVersion {
			out = append(out, o.Obj)
		}
	}
	return out
}

// Problem is one thing wrong with a template.
type Problem struct {
	Line    int    // 1-based line in the template; 0 when not tied to a line
	Object  string // "Kind/name" when tied to an object
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Object != "" {
		b.WriteString(p.Object)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error lists every problem found in a template.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	problems := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		problems[i] = p.String()
	}
	return spec.ListProblems("invalid kubernetes template", problems)
}

// Render fills the template with v and returns its objects, or an *Error
// listing every problem (or a plain error for bad values).
func Render(tmpl []byte, v Values) (*Rendered, error) {
	routes, err := checkValues(v)
	if err != nil {
		return nil, err
	}
	open, err := openTemplate(tmpl, v, nil)
	if err != nil {
		return nil, err
	}
	return open.fill(routes), nil
}

// Open renders tmpl with every ${CANARY_ROUTES} list left open, for a caller
// that fills the same version's routes again and again (the engine, at every
// traffic step): the YAML is parsed here once, and Fill only copies the
// objects and splices the routes in. v.Routes must be empty. The returned
// rendering is shared by every Fill and must not be modified.
func Open(tmpl []byte, v Values) (*Rendered, error) {
	if len(v.Routes) > 0 {
		return nil, errors.New("open template: Values.Routes must be empty: pass the routes to Fill")
	}
	if _, err := checkValues(v); err != nil {
		return nil, err
	}
	return openTemplate(tmpl, v, nil)
}

// Admit is Open followed by Check(p), with the problems of both (YAML,
// kinds, namespaces and the policy) in one *Error: a user fixes the
// template in one round.
func Admit(tmpl []byte, v Values, p Policy) (*Rendered, error) {
	if len(v.Routes) > 0 {
		return nil, errors.New("admit template: Values.Routes must be empty")
	}
	if _, err := checkValues(v); err != nil {
		return nil, err
	}
	return openTemplate(tmpl, v, &p)
}

// Fill returns a copy of an open rendering with copies of routes, the list
// items of router.Router.Items, in place of every ${CANARY_ROUTES}.
func (r *Rendered) Fill(routes []map[string]any) (*Rendered, error) {
	if !r.open {
		return nil, errors.New("fill routes: the rendering was not made by Open")
	}
	list, err := checkRoutes(routes)
	if err != nil {
		return nil, err
	}
	return r.fill(list), nil
}

// HasRoutes reports whether an open rendering holds ${CANARY_ROUTES}. A
// template without a route list (a service replaced in place) needs no
// routes, and may have no Service port to build them from.
func (r *Rendered) HasRoutes() bool {
	return slices.ContainsFunc(r.Objects, func(o Object) bool { return o.routed })
}

// openTemplate parses the template with a sentinel object in each routes
// list and classifies the objects; with a policy, it checks them too.
func openTemplate(tmpl []byte, v Values, policy *Policy) (*Rendered, error) {
	if len(bytes.TrimSpace(tmpl)) == 0 {
		return nil, &Error{Problems: []Problem{{Message: "the template is empty: it must hold the microservice's objects"}}}
	}
	if problems := checkPlaceholders(tmpl, v); len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}

	objs, problems := decode(substitute(tmpl, v), v.Namespace)
	// The second rendering only classifies: names that follow the version
	// differ between the two, names of shared objects do not.
	other := v
	other.Version = v.Version + 1
	twins, _ := decode(substitute(tmpl, other), v.Namespace)
	out := &Rendered{Objects: make([]Object, len(objs)), open: true, image: v.Image}
	for i, o := range objs {
		lists, misplaced := findSentinels(o.obj.Object)
		if misplaced {
			problems = append(problems, Problem{Line: o.line, Object: o.obj.GetKind() + "/" + o.obj.GetName(), Message: fmt.Sprintf(
				"${%s} must stand alone inside a list, as in weightedTargets: [${%s}]", PlaceholderRoutes, PlaceholderRoutes)})
		}
		out.Objects[i] = Object{Obj: o.obj, PerVersion: i < len(twins) && twins[i].obj.GetName() != o.obj.GetName(), routed: lists > 0, line: o.line}
	}
	if policy != nil {
		problems = append(problems, out.check(*policy)...)
		slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	if len(objs) == 0 {
		return nil, &Error{Problems: []Problem{{Message: "the template holds no objects, only comments or empty documents"}}}
	}
	return out, nil
}

// fill copies every object and splices routes into the ones that hold
// ${CANARY_ROUTES}.
func (r *Rendered) fill(routes []any) *Rendered {
	out := &Rendered{Objects: make([]Object, len(r.Objects)), image: r.image}
	for i, o := range r.Objects {
		obj := o.Obj.DeepCopy()
		if o.routed {
			splice(obj.Object, routes)
		}
		out.Objects[i] = Object{Obj: obj, PerVersion: o.PerVersion, line: o.line}
	}
	return out
}
