package gatewayapi

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
)

// maxRules is the HTTPRoute CRD's maxItems for spec.rules.
const maxRules = 16

// maxLatticeHeaders is how many header matches one VPC Lattice rule holds.
var maxLatticeHeaders = spec.MaxABHeaders(contract.RouterGatewayAPI)

// HeaderRoute adds, ahead of every rule of the HTTPRoute that sends to
// canary, a rule with the same matches plus the header conditions, sending
// to canary alone.
func (Router) HeaderRoute(route *unstructured.Unstructured, headers []spec.HeaderMatch, canary string, port int) error {
	refs, err := Router{}.Items([]router.Backend{{Name: canary, Weight: 1}}, port)
	if err != nil {
		return err
	}
	rules, _, err := unstructured.NestedSlice(route.Object, "spec", "rules")
	if err != nil {
		return fmt.Errorf("HTTPRoute %s: spec.rules: %w", route.GetName(), err)
	}
	out, err := headerRules(rules, headers, canary, refs[0])
	if err != nil {
		return fmt.Errorf("HTTPRoute %s: %w", route.GetName(), err)
	}
	return unstructured.SetNestedSlice(route.Object, out, "spec", "rules")
}

// headerRules is HeaderRoute on the rules list: each rule whose backendRefs
// name canary is preceded by its A/B copy. A rule without matches matches
// every path (the CRD's default), and so does its copy.
func headerRules(rules []any, headers []spec.HeaderMatch, canary string, canaryRef map[string]any) ([]any, error) {
	conditions := make([]any, 0, len(headers))
	for i, h := range headers {
		if h.Kind() != spec.MatchExact {
			return nil, fmt.Errorf("ab.headers[%d]: match %q cannot be written: VPC Lattice matches headers exactly", i, h.Kind())
		}
		conditions = append(conditions, map[string]any{"type": "Exact", "name": h.Name, "value": h.Value})
	}
	out := make([]any, 0, len(rules)+1)
	added := 0
	for i, r := range rules {
		rule, _ := r.(map[string]any)
		if !sendsTo(rule, canary) {
			out = append(out, r)
			continue
		}
		matches, _, err := unstructured.NestedSlice(rule, "matches")
		if err != nil {
			return nil, fmt.Errorf("rule %d: matches: %w", i, err)
		}
		if len(matches) == 0 {
			matches = []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}}
		}
		copied := runtime.DeepCopyJSONValue(rule).(map[string]any)
		for j, m := range matches {
			match := runtime.DeepCopyJSONValue(m).(map[string]any)
			own, _, _ := unstructured.NestedSlice(match, "headers")
			if n := len(own) + len(conditions); n > maxLatticeHeaders {
				return nil, fmt.Errorf("rule %d match %d: the template's %d header conditions and ab.headers' %d make %d, and VPC Lattice matches at most %d per rule: list fewer in ab.headers",
					i, j, len(own), len(conditions), n, maxLatticeHeaders)
			}
			match["headers"] = append(own, runtime.DeepCopyJSONValue(conditions).([]any)...)
			matches[j] = match
		}
		copied["matches"] = matches
		copied["backendRefs"] = []any{runtime.DeepCopyJSONValue(canaryRef)}
		copied["name"] = router.HeaderRulePrefix + strconv.Itoa(i)
		out = append(out, copied, r)
		added++
	}
	if added == 0 {
		return nil, fmt.Errorf("no rule sends to %s: the A/B rule has nothing to go ahead of", canary)
	}
	if len(out) > maxRules {
		return nil, fmt.Errorf("the A/B rules make %d rules, more than the %d an HTTPRoute holds: use fewer rules with [${CANARY_ROUTES}]", len(out), maxRules)
	}
	return out, nil
}

// sendsTo reports whether a rule has a backendRef named canary.
func sendsTo(rule map[string]any, canary string) bool {
	refs, _, _ := unstructured.NestedSlice(rule, "backendRefs")
	for _, ref := range refs {
		if m, ok := ref.(map[string]any); ok && m["name"] == canary {
			return true
		}
	}
	return false
}

// isHeaderRule reports whether HeaderRoute added rule.
func isHeaderRule(rule map[string]any) bool {
	name, _ := rule["name"].(string)
	return strings.HasPrefix(name, router.HeaderRulePrefix)
}
