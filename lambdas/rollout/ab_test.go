package rollout

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/spec"
)

func withAB(s spec.Spec) spec.Spec {
	s.AB = spec.AB{Headers: []spec.HeaderMatch{{Name: "x-canary", Value: "always"}}, Duration: 300}
	return s
}

func TestPlanWithABStage(t *testing.T) {
	for _, c := range []struct {
		name      string
		s         spec.Spec
		hasStable bool
		want      []int
	}{
		{"stage then steps", withAB(spec.Spec{PercentageStep: 25}), true, []int{0, 25, 50, 75, 100}},
		{"stage then promotion", withAB(spec.Spec{PercentageStep: 100}), true, []int{0, 100}},
		{"stage then explicit steps capped", withAB(spec.Spec{Steps: []int{5, 30, 60}, MaxWeight: 30}), true, []int{0, 5, 30, 100}},
		{"a first deployment skips the stage", withAB(spec.Spec{PercentageStep: 25}), false, []int{100}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Plan(c.s, c.hasStable)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Plan = %v, want %v", got, c.want)
			}
			if stage := ABStage(got, 0); stage != (c.want[0] == 0) {
				t.Errorf("ABStage(%v, 0) = %v", got, stage)
			}
			if ABStage(got, 1) {
				t.Errorf("ABStage(%v, 1) is true: only the first step can be the stage", got)
			}
		})
	}
	if ABStage([]int{0}, 0) {
		t.Error("a plan of one weight has no stage before it")
	}
}

func TestDecideAtABStage(t *testing.T) {
	p := policy()
	p.AB, p.ABDuration = true, 300*time.Second
	plan := []int{0, 25, 50, 75, 100}
	for _, c := range []struct {
		name       string
		in         Input
		action     Action
		nextWeight int
		reason     string
	}{
		{"ready: start the stage", Input{Step: -1, Verdict: verdict(analysis.ResultPass)}, Shift, 0, "starting the A/B stage"},
		{"the stage lasts ab.duration, not wait_time", Input{Step: 0, StepElapsed: 120 * time.Second, Verdict: verdict(analysis.ResultPass)}, Analyse, 0, "analysing the A/B stage: 2m0s of ab.duration 5m0s passed"},
		{"passed: the weighted steps follow", Input{Step: 0, StepElapsed: 300 * time.Second, Verdict: verdict(analysis.ResultPass)}, Shift, 25, "the canary passed the A/B stage for 5m0s: shifting to 25%"},
		{"failing at the limit rolls back", Input{Step: 0, ConsecutiveFailures: 1, StepElapsed: 30 * time.Second, Verdict: verdict(analysis.ResultFail)}, RollBack, 0, "analysis failed 2 time(s) in a row at 0% (the A/B stage) (limit 2)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.in.Policy, c.in.Plan, c.in.Now = p, plan, now
			d := Decide(c.in)
			if d.Action != c.action || d.NextWeight != c.nextWeight || !strings.Contains(d.Reason, c.reason) {
				t.Errorf("Decide = %s to %d%% (%q), want %s to %d%% (%q)", d.Action, d.NextWeight, d.Reason, c.action, c.nextWeight, c.reason)
			}
		})
	}
	t.Run("stage then promotion", func(t *testing.T) {
		d := Decide(Input{Policy: p, Plan: []int{0, 100}, Step: 0, StepElapsed: 300 * time.Second, Verdict: verdict(analysis.ResultPass), Now: now})
		if d.Action != Shift || d.NextWeight != 100 {
			t.Errorf("Decide = %s to %d%%, want Shift to 100%%", d.Action, d.NextWeight)
		}
		mp := p
		mp.ManualPromotion = true
		d = Decide(Input{Policy: mp, Plan: []int{0, 100}, Step: 0, StepElapsed: 300 * time.Second, Verdict: verdict(analysis.ResultPass), Now: now})
		if d.Action != Hold || !strings.Contains(d.Reason, "A/B stage for an operator") {
			t.Errorf("manual promotion: Decide = %s (%q), want Hold at the stage", d.Action, d.Reason)
		}
	})
	t.Run("waits", func(t *testing.T) {
		in := Input{Policy: p, Plan: plan, Step: -1, Now: now}
		if got := WaitSeconds(in, Decision{Action: Shift, NextStep: 0, NextWeight: 0}, 5*time.Second); got != 30 {
			t.Errorf("wait after shifting into the stage %d s, want the 30 s interval", got)
		}
		in.Step, in.StepElapsed = 0, 290*time.Second
		if got := WaitSeconds(in, Decision{Action: Analyse}, 5*time.Second); got != 10 {
			t.Errorf("wait near the end of the stage %d s, want the 10 s left of ab.duration", got)
		}
	})
}
