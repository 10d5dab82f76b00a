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
		n, msg := 1, err.Error()
		if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
			n, _ = strconv.Atoi(msg[m[2]:m[3]])
			msg = strings.TrimPrefix(strings.TrimSpace(msg[m[1]:]), ": ")
		}
		msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
		msg = strings.TrimPrefix(msg, "yaml: ")
		n, fix := yamlFix(strings.Split(string(doc.text), "\n"), n, msg)
		return nil, problem(doc.line+n-1, "invalid YAML: %s: %s", msg, fix)
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
		return "a list: write each object as its own document, separated by lines of ---, without a leading '- '"
	case '"':
		return "a string: write apiVersion, kind and metadata as keys, each followed by ': ' (a colon and a space), at the start of the line"
	default:
		return "a scalar: write apiVersion, kind and metadata as keys, each followed by ': ' (a colon and a space)"
	}
}

var (
	// missingSpace is "key:value", a key without the space YAML needs
	// after its colon ("http://" is left alone).
	missingSpace = regexp.MustCompile(`^\s*(?:-\s+)?([A-Za-z0-9_.\-/]+):([^\s:/].*)$`)
	// textAfterQuote is a quoted value followed by more text on its line.
	textAfterQuote = regexp.MustCompile(`:\s+("[^"]*"|'[^']*')\s*[^\s#,\]}]`)
	// unclosedQuote is a value that opens a quote and does not close it.
	unclosedQuote = regexp.MustCompile(`^\s*(?:-\s+)?(?:[^\s"':#][^:]*:\s+)?("(?:[^"\\]|\\.)*|'[^']*)$`)
)

// yamlFix explains a YAML error in the words of the common mistake behind
// it, with the line to fix: the parser's message names what it met, often
// a line after the mistake. lines is the document, n the 1-based line the
// parser named, msg its message.
func yamlFix(lines []string, n int, msg string) (int, string) {
	n = min(max(n, 1), len(lines))
	text := func(k int) string { return lines[k-1] }
	// The parser names the line of a scanner error, and the line before
	// the one it stopped at for a parser error ("did not find expected").
	next := min(n+1, len(lines))
	// find returns the nearest line at most from, and no more than back
	// lines before it, that matches.
	find := func(from, back int, match func(string) bool) (int, bool) {
		for k := from; k >= max(1, from-back); k-- {
			if match(text(k)) {
				return k, true
			}
		}
		return 0, false
	}
	indent := func(l string) string { return l[:len(l)-len(strings.TrimLeft(l, " \t"))] }
	switch {
	case strings.Contains(msg, "tab character") || strings.Contains(msg, "cannot start any token"):
		if k, ok := find(n, n, func(l string) bool { return strings.Contains(indent(l), "\t") }); ok {
			return k, "the line is indented with a tab: YAML indentation must use spaces, so replace the tab with spaces"
		}
		return n, "a plain value cannot start with @, ` or %: quote it, e.g. key: \"@value\""
	case strings.Contains(msg, "could not find expected ':'") || strings.Contains(msg, "mapping values are not allowed"):
		if k, ok := find(n, 2, missingSpace.MatchString); ok {
			m := missingSpace.FindStringSubmatch(text(k))
			return k, fmt.Sprintf("%q has no space after the colon: write %q (YAML needs a space after a key's colon)", strings.TrimSpace(text(k)), m[1]+": "+m[2])
		}
		if strings.Contains(msg, "mapping values") {
			if _, value, ok := strings.Cut(text(n), ": "); ok && strings.Contains(value, ": ") {
				return n, "a value that contains ': ' must be quoted, e.g. key: \"a: b\""
			}
		}
		if k, ok := find(n, 2, func(l string) bool {
			l = strings.TrimSpace(l)
			return l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "-") && !strings.Contains(l, ":")
		}); ok {
			return k, "the line has no ':' after its key: write key: value"
		}
		return n, "the line is indented under a key that already has a value: indent it like the keys beside it, or quote a value that contains ': '"
	case strings.Contains(msg, "did not find expected key"):
		if k, ok := find(next, 1, textAfterQuote.MatchString); ok {
			return k, "text follows the closing quote of a value: quote the whole value"
		}
		if k, ok := find(next, 2, unclosedQuote.MatchString); ok {
			return k, "the quoted value is not closed: end it with the same quote on this line"
		}
		return next, "the line is indented differently from the lines beside it: indent the keys of one mapping, and the '-' of one list, by the same number of spaces"
	case strings.Contains(msg, "did not find expected '-' indicator"):
		return next, "the items of one list must start at the same column: align the '-' with the items above"
	case strings.Contains(msg, "block sequence entries are not allowed"):
		return n, "a list item cannot follow a key on the same line: put each '- item' on its own line, indented under the key, or write [a, b]"
	case strings.Contains(msg, "end of stream") || strings.Contains(msg, "quoted scalar"):
		if k, ok := find(n, n, unclosedQuote.MatchString); ok {
			return k, "the quoted value is not closed: end it with the same quote on this line"
		}
		return n, "a quote, [ or { is not closed: close it"
	case strings.Contains(msg, "did not find expected ',' or ']'"):
		return n, "a [ list is not closed: end it with ], with commas between its items"
	case strings.Contains(msg, "did not find expected ',' or '}'"):
		return n, "a { mapping is not closed: end it with }, with commas between its entries"
	case strings.Contains(msg, "unknown escape character"):
		return n, `in a "double-quoted" value a backslash starts an escape: write \\ for a backslash, or use 'single quotes'`
	case strings.Contains(msg, "alphabetic or numeric character") || strings.Contains(msg, "unknown anchor"):
		return n, "& and * start YAML anchors and aliases: quote a value that starts with them, e.g. key: \"*\""
	case strings.Contains(msg, "already set in map"):
		return n, "a key may appear once in a mapping, and YAML would keep only one: remove the other"
	case strings.Contains(msg, "excessive aliasing"):
		return n, "its anchors and aliases (&name, *name) expand too far: write the values out"
	case strings.Contains(msg, "exceeded max depth"):
		return n, "lists and mappings nest too deeply for a Kubernetes object: remove the extra levels"
	}
	return n, "check the indentation and quoting there"
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
