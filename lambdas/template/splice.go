package template

import (
	"fmt"
	"slices"
	"strings"

	utiljson "k8s.io/apimachinery/pkg/util/json"

	"k8s.io/apimachinery/pkg/runtime"
)

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
