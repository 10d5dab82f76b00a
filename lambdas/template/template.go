// Package template renders a microservice's kubernetes_template.yml into the
// objects the engine applies, and refuses a template that would write
// anything outside the microservice's own namespace and kinds.
//
// The placeholders are those of the original pipeline:
// ${KUBERNETES_NAMESPACE}, ${MICROSERVICE_NAME}, ${CONTAINER_IMAGE},
// ${CANARY_VERSION} and ${CANARY_ROUTES}. Every occurrence is replaced (the
// original sed replaced only the first one on each line), and any other
// ${...} is an error, so a typo cannot reach the cluster as literal text.
//
// Objects are classified per version or shared by rendering twice with two
// different versions: an object whose name changes belongs to one version
// (Deployment "<svc>-<N>"), the others are shared by all versions
// (VirtualService, the route object).
//
// Nothing is applied here: Render either returns every object or an error
// listing every problem, so a bad template changes nothing in the cluster.
package template

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/eks-canary/platform/lambdas/spec"
)

// Placeholders.
const (
	PlaceholderNamespace    = "KUBERNETES_NAMESPACE"
	PlaceholderMicroservice = "MICROSERVICE_NAME"
	PlaceholderImage        = "CONTAINER_IMAGE"
	PlaceholderVersion      = "CANARY_VERSION"
	PlaceholderRoutes       = "CANARY_ROUTES"
)

// Values fill the placeholders.
type Values struct {
	Namespace    string
	Microservice string
	Image        string
	Version      int
	Routes       string // comma-separated JSON objects from router.Fragment; may be empty
}

// Object is one rendered object.
type Object struct {
	Obj *unstructured.Unstructured
	// PerVersion is true for objects named after the version
	// ("<svc>-<N>"): they are created for a canary and deleted with it.
	PerVersion bool
}

// Rendered is a rendered template, objects in template order.
type Rendered struct {
	Objects []Object
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
	if len(e.Problems) == 1 {
		return "invalid kubernetes template: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid kubernetes template: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Render fills the template with v and returns its objects, or an *Error
// listing every problem (or a plain error for bad values).
func Render(tmpl []byte, v Values) (*Rendered, error) {
	routes, err := checkValues(v)
	if err != nil {
		return nil, err
	}
	v.Routes = routes
	if len(bytes.TrimSpace(tmpl)) == 0 {
		return nil, &Error{Problems: []Problem{{Message: "the template is empty: it must hold the microservice's objects"}}}
	}
	if problems := checkPlaceholders(tmpl); len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}

	objs, problems := decode(substitute(tmpl, v), v.Namespace)
	// The second rendering only classifies: names that follow the version
	// differ between the two, names of shared objects do not.
	other := v
	other.Version = v.Version + 1
	twins, _ := decode(substitute(tmpl, other), v.Namespace)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	if len(objs) == 0 {
		return nil, &Error{Problems: []Problem{{Message: "the template holds no objects, only comments or empty documents"}}}
	}
	out := &Rendered{Objects: make([]Object, len(objs))}
	for i, o := range objs {
		out.Objects[i] = Object{Obj: o.obj, PerVersion: i < len(twins) && twins[i].obj.GetName() != o.obj.GetName()}
	}
	return out, nil
}

// checkValues validates the values before they are written into YAML, and
// returns the routes fragment in compact form.
func checkValues(v Values) (string, error) {
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
	routes, err := compactRoutes(v.Routes)
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("render template: %s", strings.Join(errs, "; "))
	}
	return routes, nil
}

// compactRoutes checks that the fragment is a comma-separated list of JSON
// objects, as the route list "[${CANARY_ROUTES}]" needs, and puts it on one
// line so that template line numbers stay true.
func compactRoutes(routes string) (string, error) {
	if strings.TrimSpace(routes) == "" {
		return "", nil
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte("["+routes+"]"), &list); err != nil {
		return "", fmt.Errorf("routes fragment %q is not a comma-separated list of JSON objects: %w", abbreviate(routes), err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte("["+routes+"]")); err != nil {
		return "", fmt.Errorf("compact routes fragment: %w", err)
	}
	b := buf.Bytes()
	return string(b[1 : len(b)-1]), nil
}

var placeholder = regexp.MustCompile(`\$\{([^}\n]*)\}`)

var known = map[string]bool{
	PlaceholderNamespace: true, PlaceholderMicroservice: true, PlaceholderImage: true,
	PlaceholderVersion: true, PlaceholderRoutes: true,
}

func checkPlaceholders(tmpl []byte) []Problem {
	var problems []Problem
	for i, line := range bytes.Split(tmpl, []byte("\n")) {
		for _, m := range placeholder.FindAllSubmatch(line, -1) {
			if name := string(m[1]); !known[name] {
				problems = append(problems, Problem{Line: i + 1, Message: fmt.Sprintf(
					"unknown placeholder ${%s}: use ${KUBERNETES_NAMESPACE}, ${MICROSERVICE_NAME}, ${CONTAINER_IMAGE}, ${CANARY_VERSION} or ${CANARY_ROUTES}; for a container variable write $(%s)", name, name)})
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
	if err := json.Unmarshal(js, &content); err != nil {
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
