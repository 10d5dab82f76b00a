package spec

import (
	"errors"
	"testing"
)

func TestScaleDefaults(t *testing.T) {
	s, err := Parse(encode(t, original()))
	if err != nil {
		t.Fatal(err)
	}
	if s.CanaryScale != ScaleFull || s.CanaryMinReplicas != 0 || s.Proportional() {
		t.Errorf("defaults: canary_scale %q, canary_min_replicas %d, proportional %v; want full, 0, false", s.CanaryScale, s.CanaryMinReplicas, s.Proportional())
	}
	s, err = Parse(encode(t, with(map[string]any{"canary_scale": "proportional"})))
	if err != nil {
		t.Fatal(err)
	}
	if s.CanaryMinReplicas != DefaultCanaryMinReplicas || !s.Proportional() {
		t.Errorf("proportional: canary_min_replicas %d, proportional %v; want %d, true", s.CanaryMinReplicas, s.Proportional(), DefaultCanaryMinReplicas)
	}
	s, err = Parse(encode(t, with(map[string]any{"canary_scale": "proportional", "canary_min_replicas": 3})))
	if err != nil || s.CanaryMinReplicas != 3 {
		t.Errorf("canary_min_replicas 3: %d, %v", s.CanaryMinReplicas, err)
	}
}

func TestScaleRejects(t *testing.T) {
	for _, tt := range []struct {
		name    string
		changes map[string]any
		want    string // the whole problem
	}{
		{"unknown scale", map[string]any{"canary_scale": "half"},
			`canary_scale: "half" is not a known scale: use "full" (the template's replicas from the first step) or "proportional" (replicas follow the canary's weight)`},
		{"in place", map[string]any{"canary_scale": "proportional", "strategy": "in-place"},
			`canary_scale: "proportional" is not allowed with strategy "in-place": an in-place rollout replaces the one workload and has no canary to scale; remove canary_scale or use strategy "canary"`},
		{"floor without proportional", map[string]any{"canary_min_replicas": 2},
			`canary_min_replicas: 2 has no effect without canary_scale "proportional": remove canary_min_replicas or set "canary_scale": "proportional"`},
		{"floor negative", map[string]any{"canary_scale": "proportional", "canary_min_replicas": -1},
			"canary_min_replicas: -1 is not allowed: use 1..100 replicas (the fewest the canary runs with, whatever its weight)"},
		{"floor too high", map[string]any{"canary_scale": "proportional", "canary_min_replicas": 101},
			"canary_min_replicas: 101 is not allowed: use 1..100 replicas (the fewest the canary runs with, whatever its weight)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(encode(t, with(tt.changes)))
			var invalid *ValidationError
			if !errors.As(err, &invalid) {
				t.Fatalf("error %v, want a *ValidationError", err)
			}
			if len(invalid.Problems) != 1 || invalid.Problems[0].Error() != tt.want {
				t.Errorf("problems %q\nwant [%s]", invalid.Problems, tt.want)
			}
		})
	}
}

func TestScaleAcceptsInPlaceWithFull(t *testing.T) {
	if _, err := Parse(encode(t, with(map[string]any{"strategy": "in-place", "canary_scale": "full"}))); err != nil {
		t.Errorf("in-place with canary_scale full refused: %v", err)
	}
}
