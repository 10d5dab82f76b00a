package router

import (
	"fmt"
	"slices"
	"strings"
)

// MaxWeight is the largest weight: the engine's weights are percentages.
const MaxWeight = 100

// Limits is what one route object's list of weighted backends accepts, and
// the words its messages use, so an error reads in that object's own terms.
type Limits struct {
	Route       string // prefix of every message: "App Mesh route"
	Holder      string // what holds the list: "a VirtualRouter route"
	Items       string // what the list holds: "weighted targets"
	MaxBackends int    // the CRD's maxItems for the list
	NameOf      string // the object a backend name refers to: "VirtualNode"
}

// CheckBackends refuses a list the route object's schema would refuse, or
// one that cannot be a traffic split: no or too many backends, a missing or
// repeated name, a weight outside 0..MaxWeight.
func CheckBackends(backends []Backend, l Limits) error {
	if len(backends) < 1 || len(backends) > l.MaxBackends {
		return fmt.Errorf("%s: %d backends given, %s takes 1 to %d %s", l.Route, len(backends), l.Holder, l.MaxBackends, l.Items)
	}
	seen := make(map[string]bool, len(backends))
	for i, b := range backends {
		if b.Name == "" {
			return fmt.Errorf("%s: backend %d has no name: give the version's %s name", l.Route, i, l.NameOf)
		}
		if seen[b.Name] {
			return fmt.Errorf("%s: backend %s listed twice: give each version once", l.Route, b.Name)
		}
		seen[b.Name] = true
		if b.Weight < 0 || b.Weight > MaxWeight {
			return fmt.Errorf("%s: weight %d of backend %s is out of range: use 0 to %d", l.Route, b.Weight, b.Name, MaxWeight)
		}
	}
	return nil
}

// RouteBackends are the backends one route inside a route object sends to.
type RouteBackends struct {
	At       string // names the route in messages: `HTTPRoute yelb-ui rule 0`
	Backends []Backend
	// Header is set on a rule HeaderRoute added: it sends only matching
	// requests, so its weights say nothing about the split.
	Header bool
}

// HeaderRulePrefix begins the name of every rule HeaderRoute adds, which is
// how Weights tells them from the template's own.
const HeaderRulePrefix = "canary-ab-"

// MergeRoutes returns the backends all of a microservice's routes send to,
// nil when it has none. Every route is written from the same items, so
// they agree; if they do not (a hand edit), the error names the first route
// and the first one that differs from it. A backend only an A/B header rule
// sends to is reported at weight 0: it still has traffic, so nothing may
// delete it yet.
func MergeRoutes(microservice string, routes []RouteBackends) ([]Backend, error) {
	var weighted, header []RouteBackends
	for _, r := range routes {
		if r.Header {
			header = append(header, r)
		} else {
			weighted = append(weighted, r)
		}
	}
	if len(routes) == 0 {
		return nil, nil
	}
	var out []Backend
	if len(weighted) > 0 {
		merged, err := mergeWeighted(microservice, weighted)
		if err != nil {
			return nil, err
		}
		out = slices.Clone(merged)
	}
	for _, r := range header {
		for _, b := range r.Backends {
			if !slices.ContainsFunc(out, func(x Backend) bool { return x.Name == b.Name }) {
				out = append(out, Backend{Name: b.Name, Weight: 0})
			}
		}
	}
	return out, nil
}

func mergeWeighted(microservice string, routes []RouteBackends) ([]Backend, error) {
	first := routes[0]
	for _, r := range routes[1:] {
		if !SameWeights(first.Backends, r.Backends) {
			return nil, fmt.Errorf("routes of %s disagree: %s sends %s but %s sends %s: re-run the rollout step to rewrite them",
				microservice, first.At, FormatBackends(first.Backends), r.At, FormatBackends(r.Backends))
		}
	}
	return first.Backends, nil
}

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
