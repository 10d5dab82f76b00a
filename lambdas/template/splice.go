package template

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// routesSentinel stands for ${CANARY_ROUTES} in an open rendering: a JSON
// object no router's items hold, found again after the YAML is parsed.
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

// checkRoutes checks the values that stand for ${CANARY_ROUTES} before they
// are spliced: each item an object, and nothing in it that an unstructured
// object cannot hold (a Go int where int64 belongs, a struct), which would
// otherwise fail later, deep in a copy or an apply. It returns the items as
// list elements.
func checkRoutes(routes []map[string]any) ([]any, error) {
	if len(routes) == 0 {
		return nil, nil
	}
	out := make([]any, len(routes))
	for i, item := range routes {
		if item == nil {
			return nil, fmt.Errorf("routes item %d is not an object: give each backend as a map", i)
		}
		if err := jsonValue(item, fmt.Sprintf("routes item %d", i)); err != nil {
			return nil, err
		}
		out[i] = item
	}
	return out, nil
}

// jsonValue reports the first value under v of a type unstructured objects
// do not hold, by its path.
func jsonValue(v any, at string) error {
	switch x := v.(type) {
	case nil, bool, string, int64, float64:
		return nil
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if err := jsonValue(x[k], at+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		for i, e := range x {
			if err := jsonValue(e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("%s holds a %T, which a Kubernetes object cannot: use int64, float64, bool, string, map[string]any or []any", at, v)
	}
}
