package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestBlueGreenDefaults(t *testing.T) {
	s, err := Parse(encode(t, with(map[string]any{"strategy": "blue-green"})))
	if err != nil {
		t.Fatal(err)
	}
	if !s.BlueGreen() || !s.Versioned() || s.ScaleDownDelay == nil || *s.ScaleDownDelay != DefaultScaleDownDelay {
		t.Errorf("blue-green spec %+v: want scale_down_delay %d", s, DefaultScaleDownDelay)
	}
	s, err = Parse(encode(t, with(map[string]any{"strategy": "blue-green", "scale_down_delay": 0})))
	if err != nil {
		t.Fatal(err)
	}
	if *s.ScaleDownDelay != 0 {
		t.Errorf("scale_down_delay 0 became %d: 0 removes the old version at once", *s.ScaleDownDelay)
	}
	s, err = Parse(encode(t, with(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if s.ScaleDownDelay != nil || s.BlueGreen() {
		t.Errorf("a canary got scale_down_delay %v", *s.ScaleDownDelay)
	}
}

func TestBlueGreenRefusesWhatMeansNothingToIt(t *testing.T) {
	cases := []struct {
		name    string
		changes map[string]any
		want    []string
	}{
		{"proportional", map[string]any{"strategy": "blue-green", "canary_scale": "proportional"},
			[]string{`canary_scale: "proportional" is not allowed with strategy "blue-green": the new version takes all traffic at once`}},
		{"manual promotion", map[string]any{"strategy": "blue-green", "manual_promotion": true},
			[]string{`manual_promotion: true is not allowed with strategy "blue-green": a blue-green rollout switches after wait_time at the preview; remove manual_promotion`}},
		{"steps", map[string]any{"strategy": "blue-green", "steps": []int{10, 50}},
			[]string{`steps: [10, 50] is not allowed with strategy "blue-green": a blue-green rollout moves all traffic in one write`}},
		{"max weight", map[string]any{"strategy": "blue-green", "max_weight": 50},
			[]string{`max_weight: 50 is not allowed with strategy "blue-green"`}},
		{"delay out of range", map[string]any{"strategy": "blue-green", "scale_down_delay": 90000},
			[]string{"scale_down_delay: 90000 is not allowed: use 0..86400 seconds"}},
		{"negative delay", map[string]any{"strategy": "blue-green", "scale_down_delay": -1},
			[]string{"scale_down_delay: -1 is not allowed"}},
		{"delay with canary", map[string]any{"scale_down_delay": 60},
			[]string{`scale_down_delay: 60 has no effect without strategy "blue-green": remove scale_down_delay or set "strategy": "blue-green"`}},
		{"delay in place", map[string]any{"strategy": "in-place", "scale_down_delay": 60},
			[]string{`scale_down_delay: 60 has no effect without strategy "blue-green"`}},
		{"every problem at once", map[string]any{"strategy": "blue-green", "manual_promotion": true, "canary_scale": "proportional"},
			[]string{"manual_promotion: true", "canary_scale: \"proportional\""}},
		{"unknown strategy names blue-green", map[string]any{"strategy": "bluegreen"},
			[]string{`strategy: "bluegreen" is not a known strategy: use "canary", "blue-green" or "in-place"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(encode(t, with(c.changes)))
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse error = %v, want *ValidationError", err)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("no problem contains %q; got:\n%v", want, err)
				}
			}
		})
	}
}
