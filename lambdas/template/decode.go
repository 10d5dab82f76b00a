package template

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	utiljson "k8s.io/apimachinery/pkg/util/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

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
