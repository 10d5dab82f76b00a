package router

import (
	"fmt"
	"strings"
)

// SameWeights reports whether a and b send the same share to the same
// versions, in any order.
func SameWeights(a, b []Backend) bool {
	if len(a) != len(b) {
		return false
	}
	weights := make(map[string]int, len(a))
	for _, x := range a {
		weights[x.Name] = x.Weight
	}
	for _, y := range b {
		w, ok := weights[y.Name]
		if !ok || w != y.Weight {
			return false
		}
	}
	return true
}

// FormatBackends renders backends for messages: "yelb-ui-2=70, yelb-ui-3=30".
func FormatBackends(backends []Backend) string {
	if len(backends) == 0 {
		return "no backends"
	}
	parts := make([]string, len(backends))
	for i, b := range backends {
		parts[i] = fmt.Sprintf("%s=%d", b.Name, b.Weight)
	}
	return strings.Join(parts, ", ")
}
