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
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/eks-canary/platform/lambdas/contract"
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
	Routes       string // comma-separated JSON objects from router.Fragment; may be empty, must be for Open
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
}

// Rendered is a rendered template, objects in template order.
type Rendered struct {
	Objects []Object

	open bool // made by Open: Fill puts the routes in
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

// Kind is an object kind a template may hold, with the resource name RBAC
// grants need.
type Kind struct {
	Group, Version, Kind, Resource string
}

// GroupVersionKind of the allowed kind.
func (k Kind) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

// AllowedKinds are the kinds a template may hold: the workload and its
// networking for both routers, all namespaced. The list matches what the
// engine's namespace Role lets it write, so a template is refused before the
// rollout starts rather than failing half-applied with "forbidden".
// ServiceAccounts are not among them: the environment creates the one App
// Mesh pods use, and the engine may only read them. PodDisruptionBudgets and
// HorizontalPodAutoscalers would need the Role to grant policy and
// autoscaling resources first.
func AllowedKinds() []Kind {
	return []Kind{
		{"apps", "v1", "Deployment", "deployments"},
		{"apps", "v1", "StatefulSet", "statefulsets"},
		{"", "v1", "Service", "services"},
		{"", "v1", "ConfigMap", "configmaps"},
		{"appmesh.k8s.aws", "v1beta2", "VirtualNode", "virtualnodes"},
		{"appmesh.k8s.aws", "v1beta2", "VirtualRouter", "virtualrouters"},
		{"appmesh.k8s.aws", "v1beta2", "VirtualService", "virtualservices"},
		{"gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"},
		{"application-networking.k8s.aws", "v1alpha1", "TargetGroupPolicy", "targetgrouppolicies"},
	}
}

// clusterScoped are kinds a template might plausibly carry that have no
// namespace; naming them gives a clearer refusal than "not allowed".
var clusterScoped = map[string]bool{
	"Namespace": true, "Mesh": true, "GatewayClass": true, "ServiceNetwork": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "CustomResourceDefinition": true,
	"PersistentVolume": true, "StorageClass": true, "PriorityClass": true, "Node": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
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
	open, err := openTemplate(tmpl, v)
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
	if v.Routes != "" {
		return nil, errors.New("open template: Values.Routes must be empty: pass the routes to Fill")
	}
	if _, err := checkValues(v); err != nil {
		return nil, err
	}
	return openTemplate(tmpl, v)
}

// Fill returns a copy of an open rendering with routes, a comma-separated
// list of JSON objects (router.Fragment), in place of every ${CANARY_ROUTES}.
func (r *Rendered) Fill(routes string) (*Rendered, error) {
	if !r.open {
		return nil, errors.New("fill routes: the rendering was not made by Open")
	}
	list, err := parseRoutes(routes)
	if err != nil {
		return nil, err
	}
	return r.fill(list), nil
}

// HasRoutes reports whether an open rendering holds ${CANARY_ROUTES}. A
// template without a route list (a service replaced in place) needs no
// routes fragment, and may have no Service port to build one from.
func (r *Rendered) HasRoutes() bool {
	return slices.ContainsFunc(r.Objects, func(o Object) bool { return o.routed })
}

// openTemplate parses the template with a sentinel object in each routes
// list and classifies the objects.
func openTemplate(tmpl []byte, v Values) (*Rendered, error) {
	v.Routes = routesSentinel
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
	out := &Rendered{Objects: make([]Object, len(objs)), open: true}
	for i, o := range objs {
		lists, misplaced := findSentinels(o.obj.Object)
		if misplaced {
			problems = append(problems, Problem{Line: o.line, Object: o.obj.GetKind() + "/" + o.obj.GetName(), Message: fmt.Sprintf(
				"${%s} must stand alone inside a list, as in weightedTargets: [${%s}]", PlaceholderRoutes, PlaceholderRoutes)})
		}
		out.Objects[i] = Object{Obj: o.obj, PerVersion: i < len(twins) && twins[i].obj.GetName() != o.obj.GetName(), routed: lists > 0}
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
	out := &Rendered{Objects: make([]Object, len(r.Objects))}
	for i, o := range r.Objects {
		obj := o.Obj.DeepCopy()
		if o.routed {
			splice(obj.Object, routes)
		}
		out.Objects[i] = Object{Obj: obj, PerVersion: o.PerVersion}
	}
	return out
}

// Cache keeps the open renderings of the last few templates and values, so
// that a warm process rendering the same version at every step parses its
// YAML once. Safe for concurrent use; the zero value is ready.
type Cache struct {
	mu      sync.Mutex
	entries map[cacheKey]*Rendered
	order   []cacheKey // oldest first
}

// cacheSize bounds the cache: one rollout opens two versions (canary and
// stable), so eight entries serve a few microservices from one process.
const cacheSize = 8

type cacheKey struct {
	template, namespace, microservice, image, domain string
	version                                          int
}

// Open returns Open(tmpl, v), from the cache when the same template and
// values were opened before. Errors are not kept. The returned rendering is
// shared: take objects from Fill, never modify it.
func (c *Cache) Open(tmpl []byte, v Values) (*Rendered, error) {
	key := cacheKey{string(tmpl), v.Namespace, v.Microservice, v.Image, v.ServiceDomain, v.Version}
	c.mu.Lock()
	r, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := Open(tmpl, v)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.entries[key]; ok {
		return kept, nil // opened concurrently; keep one
	}
	if c.entries == nil {
		c.entries = map[cacheKey]*Rendered{}
	}
	if len(c.order) == cacheSize {
		delete(c.entries, c.order[0])
		c.order = append(c.order[:0], c.order[1:]...)
	}
	c.entries[key] = r
	c.order = append(c.order, key)
	return r, nil
}

// routesSentinel stands for ${CANARY_ROUTES} in an open rendering: a JSON
// object no router fragment holds, found again after the YAML is parsed.
const (
	sentinelKey    = "$canary-routes"
	routesSentinel = `{"` + sentinelKey + `":true}`
)

func isSentinel(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	_, ok = m[sentinelKey]
	return ok
}

// findSentinels counts the lists holding the sentinel and reports one found
// anywhere else (a mapping value, or quoted into a key or a string).
func findSentinels(v any) (lists int, misplaced bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if isSentinel(e) || strings.Contains(k, sentinelKey) {
				misplaced = true
				continue
			}
			n, bad := findSentinels(e)
			lists, misplaced = lists+n, misplaced || bad
		}
	case []any:
		held := false
		for _, e := range x {
			if isSentinel(e) {
				held = true
				continue
			}
			n, bad := findSentinels(e)
			lists, misplaced = lists+n, misplaced || bad
		}
		if held {
			lists++
		}
	case string:
		misplaced = strings.Contains(x, sentinelKey)
	}
	return lists, misplaced
}

// splice replaces, in every list under v, each sentinel by copies of routes.
func splice(v any, routes []any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if l, ok := e.([]any); ok {
				x[k] = spliceList(l, routes)
			}
			splice(x[k], routes)
		}
	case []any:
		for i, e := range x {
			if l, ok := e.([]any); ok {
				x[i] = spliceList(l, routes)
			}
			splice(x[i], routes)
		}
	}
}

func spliceList(l []any, routes []any) []any {
	if !slices.ContainsFunc(l, isSentinel) {
		return l
	}
	out := make([]any, 0, len(l)-1+len(routes))
	for _, e := range l {
		if !isSentinel(e) {
			out = append(out, e)
			continue
		}
		for _, r := range routes {
			out = append(out, runtime.DeepCopyJSONValue(r))
		}
	}
	return out
}

// checkValues validates the values before they are written into YAML, and
// returns the parsed routes fragment.
func checkValues(v Values) ([]any, error) {
	var errs []string
	if err := spec.CheckNamespace(v.Namespace); err != nil {
		errs = append(errs, err.Error())
	}
	if err := spec.CheckMicroservice(v.Microservice); err != nil {
		errs = append(errs, err.Error())
	}
	if err := spec.CheckImage(v.Image); err != nil {
		errs = append(errs, err.Error())
	}
	if v.Version < 1 {
		errs = append(errs, fmt.Sprintf("version %d is not allowed: versions start at 1", v.Version))
	}
	if v.ServiceDomain != "" {
		if msgs := validation.IsDNS1123Subdomain(v.ServiceDomain); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("service domain %q is not a DNS name: %s", v.ServiceDomain, strings.Join(msgs, "; ")))
		}
	}
	routes, err := parseRoutes(v.Routes)
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("render template: %s", strings.Join(errs, "; "))
	}
	return routes, nil
}

// parseRoutes reads the fragment as the items of the route list
// "[${CANARY_ROUTES}]": a comma-separated list of JSON objects, or nothing.
// Numbers become int64 where they are whole, as in any unstructured object.
func parseRoutes(routes string) ([]any, error) {
	if strings.TrimSpace(routes) == "" {
		return nil, nil
	}
	var list []any
	err := utiljson.Unmarshal([]byte("["+routes+"]"), &list)
	if err == nil {
		for _, item := range list {
			if _, ok := item.(map[string]any); !ok {
				err = fmt.Errorf("%v is not an object", item)
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("routes fragment %q is not a comma-separated list of JSON objects: %w", abbreviate(routes), err)
	}
	return list, nil
}

var placeholder = regexp.MustCompile(`\$\{([^}\n]*)\}`)

// placeholders in the order messages list them.
var placeholders = []string{PlaceholderNamespace, PlaceholderMicroservice, PlaceholderImage, PlaceholderVersion, PlaceholderRoutes, PlaceholderDomain}

func knownPlaceholders() string {
	quoted := make([]string, len(placeholders))
	for i, p := range placeholders {
		quoted[i] = "${" + p + "}"
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

func checkPlaceholders(tmpl []byte, v Values) []Problem {
	var problems []Problem
	for i, line := range bytes.Split(tmpl, []byte("\n")) {
		for _, m := range placeholder.FindAllSubmatch(line, -1) {
			if name := string(m[1]); !slices.Contains(placeholders, name) {
				problems = append(problems, Problem{Line: i + 1, Message: fmt.Sprintf(
					"unknown placeholder ${%s}: use %s; for a container variable write $(%s)", name, knownPlaceholders(), name)})
			} else if name == PlaceholderDomain && v.ServiceDomain == "" {
				problems = append(problems, Problem{Line: i + 1, Message: fmt.Sprintf(
					"${%s} has no value: the engine runs without a service domain; set %s (the environment program sets it on the engine Lambda) or pass canary-run --service-domain",
					PlaceholderDomain, contract.EnvServiceDomain)})
			}
		}
		rest := placeholder.ReplaceAll(line, nil)
		if bytes.Contains(rest, []byte("${")) {
			problems = append(problems, Problem{Line: i + 1, Message: "unterminated placeholder: \"${\" without a closing \"}\""})
		}
	}
	return problems
}

// substitute replaces every placeholder. Replacement text is not scanned
// again, so a value can never introduce a placeholder.
func substitute(tmpl []byte, v Values) []byte {
	values := map[string]string{
		PlaceholderNamespace:    v.Namespace,
		PlaceholderMicroservice: v.Microservice,
		PlaceholderImage:        v.Image,
		PlaceholderVersion:      strconv.Itoa(v.Version),
		PlaceholderRoutes:       v.Routes,
		PlaceholderDomain:       v.ServiceDomain,
	}
	return placeholder.ReplaceAllFunc(tmpl, func(m []byte) []byte {
		return []byte(values[string(m[2:len(m)-1])])
	})
}

type decoded struct {
	obj  *unstructured.Unstructured
	line int
}

var docSeparator = regexp.MustCompile(`^---(\s|$)`)

// decode splits the rendered text into YAML documents and checks each object.
func decode(text []byte, namespace string) ([]decoded, []Problem) {
	var (
		objs     []decoded
		problems []Problem
		seen     = map[string]int{}
	)
	allowed := map[schema.GroupVersionKind]bool{}
	kinds := map[string]bool{}
	for _, k := range AllowedKinds() {
		allowed[k.GroupVersionKind()] = true
		kinds[k.Kind] = true
	}
	for _, doc := range splitDocuments(text) {
		obj, problem := parseObject(doc)
		if problem != nil {
			problems = append(problems, *problem)
			continue
		}
		if obj == nil {
			continue
		}
		gvk := obj.GroupVersionKind()
		ref := gvk.Kind + "/" + obj.GetName()
		add := func(format string, args ...any) {
			problems = append(problems, Problem{Line: doc.line, Object: ref, Message: fmt.Sprintf(format, args...)})
		}
		switch {
		case gvk.Kind == "Secret" && gvk.Group == "":
			add("Secrets are refused: the template travels base64 in deploy.json, the pipeline artifacts and the execution history, where anyone reading them would see the secret; reference a Secret created with the environment (such as yelb-db-credentials) instead")
		case clusterScoped[gvk.Kind]:
			add("%s is cluster-scoped: a microservice template may only hold objects of its own namespace; cluster objects belong to the environment", gvk.Kind)
		case !allowed[gvk]:
			if kinds[gvk.Kind] {
				add("apiVersion %q is not allowed for %s: use %s", obj.GetAPIVersion(), gvk.Kind, allowedVersion(gvk.Kind))
			} else {
				add("kind %s (%s) is not allowed: use one of %s", gvk.Kind, obj.GetAPIVersion(), kindList())
			}
		}
		switch ns := obj.GetNamespace(); {
		case ns == "":
			obj.SetNamespace(namespace)
		case ns != namespace:
			add("namespace %q is not the rollout's namespace %q: remove metadata.namespace or use ${KUBERNETES_NAMESPACE}", ns, namespace)
		}
		for _, msg := range validation.IsDNS1123Subdomain(obj.GetName()) {
			add("metadata.name %q is not valid: %s", obj.GetName(), msg)
		}
		for _, field := range []string{"labels", "annotations"} {
			if bad := nonStringValues(obj.Object, field); len(bad) > 0 {
				add("metadata.%s %s must be strings: quote the values, e.g. version: \"${CANARY_VERSION}\"", field, strings.Join(bad, ", "))
			}
		}
		key := gvk.GroupKind().String() + "/" + obj.GetName()
		if first, dup := seen[key]; dup {
			add("duplicate object: the same %s is defined at line %d", ref, first)
		} else {
			seen[key] = doc.line
		}
		objs = append(objs, decoded{obj: obj, line: doc.line})
	}
	return objs, problems
}

type document struct {
	text []byte
	line int // line of the document's first line in the template
}

// splitDocuments splits on "---" lines, remembering where each document
// starts so that errors point at template lines.
func splitDocuments(text []byte) []document {
	var docs []document
	lines := bytes.SplitAfter(text, []byte("\n"))
	start := 0
	for i := 0; i <= len(lines); i++ {
		if i == len(lines) || docSeparator.Match(lines[i]) {
			docs = append(docs, document{text: bytes.Join(lines[start:i], nil), line: start + 1})
			start = i + 1
		}
	}
	return docs
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseObject decodes one document. An empty document (only comments)
// returns nil and no problem.
func parseObject(doc document) (*unstructured.Unstructured, *Problem) {
	problem := func(line int, format string, args ...any) *Problem {
		return &Problem{Line: line, Message: fmt.Sprintf(format, args...)}
	}
	js, err := yaml.YAMLToJSONStrict(doc.text)
	if err != nil {
		line := doc.line
		msg := err.Error()
		if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
			n, _ := strconv.Atoi(msg[m[2]:m[3]])
			line = doc.line + n - 1
			msg = strings.TrimSpace(msg[m[1]:])
			msg = strings.TrimPrefix(msg, ": ")
		}
		msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
		return nil, problem(line, "invalid YAML: %s", msg)
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, nil
	}
	var content map[string]any
	if err := utiljson.Unmarshal(js, &content); err != nil {
		return nil, problem(doc.line, "a document must be a Kubernetes object (a mapping with apiVersion, kind and metadata), not %s", describeJSON(js))
	}
	obj := &unstructured.Unstructured{Object: content}
	var missing []string
	if s, ok := content["apiVersion"].(string); !ok || s == "" {
		missing = append(missing, "apiVersion")
	}
	if s, ok := content["kind"].(string); !ok || s == "" {
		missing = append(missing, "kind")
	}
	if _, ok := content["metadata"].(map[string]any); !ok {
		missing = append(missing, "metadata")
	} else if obj.GetName() == "" {
		missing = append(missing, "metadata.name")
	}
	if len(missing) > 0 {
		return nil, problem(doc.line, "object without %s: every document needs apiVersion, kind and metadata.name", strings.Join(missing, ", "))
	}
	if strings.HasSuffix(obj.GetKind(), "List") {
		return nil, problem(doc.line, "%s is a list: write each object as its own document separated by ---", obj.GetKind())
	}
	if obj.GetGenerateName() != "" {
		return nil, problem(doc.line, "metadata.generateName is not allowed: objects are applied again at every step and need a fixed name")
	}
	return obj, nil
}

func describeJSON(js []byte) string {
	switch bytes.TrimSpace(js)[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	default:
		return "a scalar"
	}
}

// nonStringValues lists metadata label or annotation keys whose values are
// not strings: unstructured accessors would silently drop them.
func nonStringValues(obj map[string]any, field string) []string {
	meta, _ := obj["metadata"].(map[string]any)
	m, ok := meta[field].(map[string]any)
	if !ok {
		return nil
	}
	var bad []string
	for k, v := range m {
		if _, ok := v.(string); !ok {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad)
	return bad
}

func allowedVersion(kind string) string {
	for _, k := range AllowedKinds() {
		if k.Kind == kind {
			return schema.GroupVersion{Group: k.Group, Version: k.Version}.String()
		}
	}
	return ""
}

func kindList() string {
	var names []string
	for _, k := range AllowedKinds() {
		names = append(names, k.Kind)
	}
	return strings.Join(names, ", ")
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
