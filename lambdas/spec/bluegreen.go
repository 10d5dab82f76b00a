package spec

import (
	"fmt"
	"strconv"
)

// Blue-green: the new version is created beside the old one with no
// production traffic, judged through a preview route of its own, then
// given all traffic in one route write. After bake_time the old version is
// kept running for scale_down_delay, so that a roll back is one route write
// back to it, and removed only then.
const (
	DefaultScaleDownDelay = 600 // seconds: Argo Rollouts' scaleDownDelaySeconds is 30 s; a person needs longer to notice and roll back
	MaxScaleDownDelay     = 86400
)

// BlueGreen reports whether s rolls out with strategy blue-green.
func (s Spec) BlueGreen() bool { return s.Strategy == StrategyBlueGreen }

// Versioned reports whether each version runs beside the others behind the
// shared route (canary, blue-green), rather than replacing the one workload
// (in-place).
func (s Spec) Versioned() bool { return s.Strategy != StrategyInPlace }

func (s *Spec) applyBlueGreenDefaults() {
	if s.ScaleDownDelay == nil && s.Strategy == StrategyBlueGreen {
		v := DefaultScaleDownDelay
		s.ScaleDownDelay = &v
	}
}

// blueGreenProblems refuses the fields that mean nothing to a blue-green
// rollout (it has no traffic steps and no canary to scale), and
// scale_down_delay with any other strategy.
func (s Spec) blueGreenProblems() []FieldError {
	var out []FieldError
	add := func(field, value, problem, allowed string) {
		out = append(out, FieldError{Field: field, Value: value, Problem: problem, Allowed: allowed})
	}
	if !s.BlueGreen() {
		if s.ScaleDownDelay != nil {
			add("scale_down_delay", strconv.Itoa(*s.ScaleDownDelay), "has no effect without strategy \"blue-green\"",
				`remove scale_down_delay or set "strategy": "blue-green"`)
		}
		return out
	}
	const bg = `is not allowed with strategy "blue-green"`
	if d := *s.ScaleDownDelay; d < 0 || d > MaxScaleDownDelay {
		add("scale_down_delay", strconv.Itoa(d), "is not allowed",
			fmt.Sprintf("use 0..%d seconds the old version keeps running after bake_time (0 removes it at once)", MaxScaleDownDelay))
	}
	if len(s.Steps) > 0 {
		add("steps", formatInts(s.Steps), bg,
			"a blue-green rollout moves all traffic in one write after the preview; remove steps, or use strategy \"canary\" for weighted steps")
	}
	if s.MaxWeight < 100 {
		add("max_weight", strconv.Itoa(s.MaxWeight), bg,
			"a blue-green rollout has no partial weight to cap; remove max_weight, or use strategy \"canary\"")
	}
	if s.ManualPromotion {
		add("manual_promotion", "true", bg,
			"a blue-green rollout switches after wait_time at the preview; remove manual_promotion, and hold it with `canaryctl pause` or switch it early with `canaryctl promote`")
	}
	if s.CanaryScale == ScaleProportional {
		add("canary_scale", strconv.Quote(s.CanaryScale), bg,
			"the new version takes all traffic at once, so it runs its template's replicas from the start; remove canary_scale (or use \"full\")")
	}
	return out
}

func formatInts(v []int) string {
	out := "["
	for i, n := range v {
		if i > 0 {
			out += ", "
		}
		out += strconv.Itoa(n)
	}
	return out + "]"
}
