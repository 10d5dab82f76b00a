package job

import (
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/template"
)

// A hook Job's pods must never pass for the microservice's own: a Service
// would send them traffic, an App Mesh VirtualNode would route to them, and
// the engine finds the canary's pods by its workload's selector
// (kube.Client.Pods), so a finished Job pod, never ready, would fail the
// canary's pod-health gate. Selected finds every selector of a template that
// would pick a hook Job's pods, at any version.

// Twin is one object of a template rendered at versions 1 and 2. Of the
// values that change from one rollout to the next, only ${CANARY_VERSION}
// can stand in a name or a label (an image reference holds ':' or '@'), and
// "1" and "2" have the same length: the two renderings differ exactly where
// the template writes the version.
type Twin struct{ V1, V2 *unstructured.Unstructured }

var versionPlaceholder = "${" + template.PlaceholderVersion + "}"

// Written is a rendered string as the template writes it, given its
// renderings at versions 1 and 2: ${CANARY_VERSION} where they differ.
func Written(v1, v2 string) string {
	var b strings.Builder
	for i := range len(v1) {
		if i < len(v2) && v1[i] != v2[i] {
			b.WriteString(versionPlaceholder)
		} else {
			b.WriteByte(v1[i])
		}
	}
	return b.String()
}

// value is a label value, or a selector's, at versions 1 and 2.
type value struct{ v1, v2 string }

func (v value) followsVersion() bool { return v.v1 != v.v2 }

func (v value) String() string { return Written(v.v1, v.v2) }

// pattern matches the value at every version: versions are whole numbers
// from 1, written without leading zeros.
func (v value) pattern() *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	run := 0
	for i := range len(v.v1) {
		if i < len(v.v2) && v.v1[i] != v.v2[i] {
			b.WriteString(regexp.QuoteMeta(v.v1[run:i]) + "[1-9][0-9]*")
			run = i + 1
		}
	}
	b.WriteString(regexp.QuoteMeta(v.v1[run:]) + "$")
	return regexp.MustCompile(b.String())
}

// meets reports whether a selector's value and a pod label's can be equal
// while both are live. One that follows the version meets a fixed value at
// the version that writes it (a Job labelled version: "3" is the canary's
// at version 3, the stable's after); two that follow it meet when they are
// equal at the same version, the canary's.
func meets(sel, pod value) bool {
	switch {
	case sel.followsVersion() && pod.followsVersion():
		return sel.v1 == pod.v1 || sel.v2 == pod.v2
	case sel.followsVersion():
		return sel.pattern().MatchString(pod.v1)
	case pod.followsVersion():
		return pod.pattern().MatchString(sel.v1)
	default:
		return sel.v1 == pod.v1
	}
}

// requirement is one term of a label selector.
type requirement struct {
	key      string
	operator metav1.LabelSelectorOperator
	values   []value
}

// holds reports whether the term can hold for pods labelled labels.
func (r requirement) holds(labels map[string]value) bool {
	got, ok := labels[r.key]
	switch r.operator {
	case metav1.LabelSelectorOpIn:
		return ok && slices.ContainsFunc(r.values, func(v value) bool { return meets(v, got) })
	case metav1.LabelSelectorOpNotIn:
		// Only a label written as an excluded value is excluded at every version.
		return !ok || !slices.Contains(r.values, got)
	case metav1.LabelSelectorOpExists:
		return ok
	case metav1.LabelSelectorOpDoesNotExist:
		return !ok
	}
	return false // the API server refuses an unknown operator: the selector selects nothing
}

// String writes the term as kubectl reads selectors.
func (r requirement) String() string {
	values := make([]string, len(r.values))
	for i, v := range r.values {
		values[i] = v.String()
	}
	switch r.operator {
	case metav1.LabelSelectorOpIn:
		if len(values) == 1 {
			return r.key + "=" + values[0]
		}
		return r.key + " in (" + strings.Join(values, ",") + ")"
	case metav1.LabelSelectorOpNotIn:
		return r.key + " notin (" + strings.Join(values, ",") + ")"
	case metav1.LabelSelectorOpExists:
		return r.key
	default: // DoesNotExist: a term of another operator never holds, so is never shown
		return "!" + r.key
	}
}

// Selection is a selector of the template that would select a hook Job's pods.
type Selection struct {
	Object   string            // the selecting object at version 1, "Service/shop-1"
	Selector string            // its selector as the template writes it, "spec.selector app=shop,version=${CANARY_VERSION}"
	Labels   string            // the Job's pod labels it selects them by, "app=shop, version=${CANARY_VERSION}"
	Effect   string            // what would follow
	Pods     map[string]string // the Job's pod labels at version 1
}

// Selected lists the selectors among objs, the template's other objects,
// that would select the pods of the Job j: those of Services, App Mesh
// VirtualNodes, Deployments and StatefulSets. The Job's pods carry the
// labels of its spec.template.metadata.labels.
func Selected(j Twin, objs []Twin) []Selection {
	pods, ok := podLabels(j)
	if !ok {
		return nil // the template policy refuses a pod template it cannot read
	}
	var out []Selection
	for _, o := range objs {
		field, effect := selectorOf(o.V1)
		if field == nil {
			continue
		}
		reqs, ok := readSelector(o, field)
		if !ok {
			continue
		}
		if !slices.ContainsFunc(reqs, func(r requirement) bool { return !r.holds(pods) }) {
			out = append(out, Selection{Object: o.V1.GetKind() + "/" + o.V1.GetName(), Selector: strings.Join(field, ".") + " " + selectorString(reqs),
				Labels: matched(reqs, pods), Effect: effect, Pods: at1(pods)})
		}
	}
	return out
}

// selectorOf is where obj's kind keeps the selector of the pods it serves,
// and what selecting a Job's pods would do; nil for kinds that select none.
func selectorOf(obj *unstructured.Unstructured) ([]string, string) {
	switch gk := obj.GroupVersionKind().GroupKind(); {
	case gk.Group == "" && gk.Kind == "Service":
		return []string{"spec", "selector"}, "the Service would send its traffic to them"
	case gk.Group == "appmesh.k8s.aws" && gk.Kind == "VirtualNode":
		return []string{"spec", "podSelector"}, "App Mesh would take them for the virtual node's pods and route its traffic to them"
	case gk.Group == "apps" && (gk.Kind == "Deployment" || gk.Kind == "StatefulSet"):
		return []string{"spec", "selector"}, "the canary's pod checks, which find its pods by this selector, would count a finished Job pod, never ready, and fail the pod-health gate"
	}
	return nil, ""
}

// readSelector reads the selector at field of both renderings. A Service
// selects by a plain map, and one without it selects no pods; the other
// kinds hold a label selector, which selects every pod when empty. A
// selector that is missing or holds anything but strings selects nothing
// (the API server refuses it).
func readSelector(o Twin, field []string) ([]requirement, bool) {
	var at [2][]requirement
	for i, obj := range []*unstructured.Unstructured{o.V1, o.V2} {
		raw, found, err := unstructured.NestedFieldNoCopy(obj.Object, field...)
		if !found || err != nil {
			return nil, false
		}
		var ok bool
		if obj.GetKind() == "Service" {
			m, _ := raw.(map[string]any)
			at[i], ok = matchLabels(m)
			ok = ok && len(m) > 0
		} else {
			at[i], ok = labelSelector(raw)
		}
		if !ok {
			return nil, false
		}
	}
	return zip(at[0], at[1])
}

// labelSelector reads a metav1.LabelSelector: matchLabels, then matchExpressions.
func labelSelector(raw any) ([]requirement, bool) {
	sel, ok := raw.(map[string]any)
	if !ok {
		return nil, false
	}
	labels, _ := sel["matchLabels"].(map[string]any)
	reqs, ok := matchLabels(labels)
	if !ok {
		return nil, false
	}
	exprs, _ := sel["matchExpressions"].([]any)
	for _, e := range exprs {
		expr, _ := e.(map[string]any)
		key, keyOK := expr["key"].(string)
		op, opOK := expr["operator"].(string)
		if !keyOK || !opOK {
			return nil, false
		}
		r := requirement{key: key, operator: metav1.LabelSelectorOperator(op)}
		list, _ := expr["values"].([]any)
		for _, v := range list {
			s, isString := v.(string)
			if !isString {
				return nil, false
			}
			r.values = append(r.values, value{s, s})
		}
		reqs = append(reqs, r)
	}
	return reqs, true
}

// matchLabels reads a map of label values as In terms, by key.
func matchLabels(m map[string]any) ([]requirement, bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	reqs := make([]requirement, 0, len(keys))
	for _, k := range keys {
		s, ok := m[k].(string)
		if !ok {
			return nil, false
		}
		reqs = append(reqs, requirement{key: k, operator: metav1.LabelSelectorOpIn, values: []value{{s, s}}})
	}
	return reqs, true
}

// zip pairs the terms read at version 1 with those read at version 2.
func zip(at1, at2 []requirement) ([]requirement, bool) {
	if len(at1) != len(at2) {
		return nil, false
	}
	out := make([]requirement, len(at1))
	for i, r := range at1 {
		if len(r.values) != len(at2[i].values) {
			return nil, false
		}
		out[i] = requirement{key: r.key, operator: r.operator, values: make([]value, len(r.values))}
		for k, v := range r.values {
			out[i].values[k] = value{v.v1, at2[i].values[k].v2}
		}
	}
	return out, true
}

// podLabels are the labels of the Job's pod template, by key.
func podLabels(j Twin) (map[string]value, bool) {
	var at [2]map[string]string
	for i, obj := range []*unstructured.Unstructured{j.V1, j.V2} {
		m, _, err := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "labels")
		if err != nil {
			return nil, false
		}
		at[i] = m
	}
	keys1, keys2 := sortedKeys(at[0]), sortedKeys(at[1])
	if len(keys1) != len(keys2) {
		return nil, false
	}
	out := make(map[string]value, len(keys1))
	for i, k := range keys1 {
		out[k] = value{at[0][k], at[1][keys2[i]]}
	}
	return out, true
}

func at1(labels map[string]value) map[string]string {
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		out[k] = v.v1
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func selectorString(reqs []requirement) string {
	if len(reqs) == 0 {
		return "{} (every pod)"
	}
	terms := make([]string, len(reqs))
	for i, r := range reqs {
		terms[i] = r.String()
	}
	return strings.Join(terms, ",")
}

// matched names the pod labels the selector's terms pick, or every pod
// label when it picks by absence alone.
func matched(reqs []requirement, pods map[string]value) string {
	var keys []string
	for _, r := range reqs {
		if _, ok := pods[r.key]; ok && (r.operator == metav1.LabelSelectorOpIn || r.operator == metav1.LabelSelectorOpExists) && !slices.Contains(keys, r.key) {
			keys = append(keys, r.key)
		}
	}
	if len(keys) == 0 {
		for k := range pods {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "none"
	}
	slices.Sort(keys)
	terms := make([]string, len(keys))
	for i, k := range keys {
		terms[i] = k + "=" + pods[k].String()
	}
	return strings.Join(terms, ", ")
}
