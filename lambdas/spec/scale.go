package spec

import (
	"fmt"
	"strconv"
)

// Canary scale modes.
const (
	// ScaleFull runs the canary with its template's replicas from the first
	// step.
	ScaleFull = "full"
	// ScaleProportional runs the canary with replicas that follow its
	// weight: ceil(replicas × weight / 100), at least canary_min_replicas,
	// at most the template's count.
	ScaleProportional = "proportional"

	DefaultCanaryScale       = ScaleFull
	DefaultCanaryMinReplicas = 1
	MaxCanaryMinReplicas     = 100
)

func (s *Spec) applyScaleDefaults() {
	if s.CanaryScale == "" {
		s.CanaryScale = DefaultCanaryScale
	}
	if s.CanaryMinReplicas == 0 && s.CanaryScale == ScaleProportional {
		s.CanaryMinReplicas = DefaultCanaryMinReplicas
	}
}

// Proportional reports whether the canary's replicas follow its weight.
func (s Spec) Proportional() bool {
	return s.CanaryScale == ScaleProportional && s.Strategy == StrategyCanary
}

func (s Spec) scaleProblems() []FieldError {
	var out []FieldError
	add := func(field, value, problem, allowed string) {
		out = append(out, FieldError{Field: field, Value: value, Problem: problem, Allowed: allowed})
	}
	switch s.CanaryScale {
	case ScaleFull:
	case ScaleProportional:
		if s.Strategy == StrategyInPlace {
			add("canary_scale", strconv.Quote(s.CanaryScale), "is not allowed with strategy \"in-place\"",
				"an in-place rollout replaces the one workload and has no canary to scale; remove canary_scale or use strategy \"canary\"")
		}
	default:
		add("canary_scale", QuoteValue(s.CanaryScale), "is not a known scale",
			`use "full" (the template's replicas from the first step) or "proportional" (replicas follow the canary's weight)`)
	}
	switch {
	case s.CanaryMinReplicas != 0 && s.CanaryScale != ScaleProportional:
		add("canary_min_replicas", strconv.Itoa(s.CanaryMinReplicas), "has no effect without canary_scale \"proportional\"",
			`remove canary_min_replicas or set "canary_scale": "proportional"`)
	case s.CanaryScale == ScaleProportional && (s.CanaryMinReplicas < 1 || s.CanaryMinReplicas > MaxCanaryMinReplicas):
		add("canary_min_replicas", strconv.Itoa(s.CanaryMinReplicas), "is not allowed",
			fmt.Sprintf("use 1..%d replicas (the fewest the canary runs with, whatever its weight)", MaxCanaryMinReplicas))
	}
	return out
}
