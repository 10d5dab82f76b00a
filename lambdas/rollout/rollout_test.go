package rollout

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/spec"
)

func TestPlan(t *testing.T) {
	cases := []struct {
		name      string
		s         spec.Spec
		hasStable bool
		want      []int
	}{
		{"step 25", spec.Spec{PercentageStep: 25}, true, []int{25, 50, 75, 100}},
		{"step 10", spec.Spec{PercentageStep: 10}, true, []int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}},
		{"step 30 does not overshoot", spec.Spec{PercentageStep: 30}, true, []int{30, 60, 90, 100}},
		{"step 100", spec.Spec{PercentageStep: 100}, true, []int{100}},
		{"default step", spec.Spec{}, true, []int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}},
		{"explicit steps", spec.Spec{Steps: []int{5, 20, 50}}, true, []int{5, 20, 50, 100}},
		{"explicit steps ending at 100", spec.Spec{Steps: []int{1, 10, 100}}, true, []int{1, 10, 100}},
		{"explicit steps override percentage_step", spec.Spec{PercentageStep: 25, Steps: []int{2, 4}}, true, []int{2, 4, 100}},
		{"max weight caps steps", spec.Spec{PercentageStep: 20, MaxWeight: 50}, true, []int{20, 40, 50, 100}},
		{"max weight on a step", spec.Spec{PercentageStep: 25, MaxWeight: 50}, true, []int{25, 50, 100}},
		{"max weight below first step", spec.Spec{PercentageStep: 25, MaxWeight: 10}, true, []int{10, 100}},
		{"max weight caps explicit steps", spec.Spec{Steps: []int{5, 30, 60, 90}, MaxWeight: 60}, true, []int{5, 30, 60, 100}},
		{"first deployment", spec.Spec{PercentageStep: 25}, false, []int{100}},
		{"in-place", spec.Spec{PercentageStep: 25, Strategy: spec.StrategyInPlace}, true, []int{100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Plan(c.s, c.hasStable); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Plan = %v, want %v", got, c.want)
			}
		})
	}
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func policy() Policy {
	return Policy{
		WaitTime: 60 * time.Second, Interval: 30 * time.Second, BakeTime: 120 * time.Second,
		ProgressDeadline: 600 * time.Second, FailureLimit: 2, NoData: spec.NoDataHold,
	}
}

func verdict(result string) analysis.Verdict {
	return analysis.Verdict{Result: result, Reason: "figures: " + result}
}

func TestDecide(t *testing.T) {
	plan := []int{25, 50, 75, 100}
	cases := []struct {
		name   string
		in     func(*Input)
		action Action
		weight int
		step   int
		fails  int
		nodata time.Time
		handle bool
		reason []string
	}{
		{
			name:   "pass before wait_time keeps analysing",
			in:     func(in *Input) { in.StepElapsed = 30 * time.Second },
			action: Analyse, weight: 25, step: 0, reason: []string{"analysing at 25%: 30s of wait_time 1m0s"},
		},
		{
			name:   "pass after wait_time shifts",
			in:     func(in *Input) { in.StepElapsed = 60 * time.Second },
			action: Shift, weight: 50, step: 1, reason: []string{"passed at 25% for 1m0s: shifting to 50%"},
		},
		{
			name:   "pass resets consecutive failures",
			in:     func(in *Input) { in.StepElapsed = 10 * time.Second; in.ConsecutiveFailures = 1 },
			action: Analyse, weight: 25, step: 0, fails: 0,
		},
		{
			name:   "first failure stays at the weight",
			in:     func(in *Input) { in.Verdict = verdict(analysis.ResultFail); in.StepElapsed = 90 * time.Second },
			action: Analyse, weight: 25, step: 0, fails: 1, reason: []string{"failed at 25% (1 of 2 allowed in a row)", "figures: fail"},
		},
		{
			name: "failure reaching the limit rolls back",
			in: func(in *Input) {
				in.Verdict = verdict(analysis.ResultFail)
				in.ConsecutiveFailures = 1
			},
			action: RollBack, weight: 0, step: 0, fails: 2, reason: []string{"failed 2 time(s) in a row at 25% (limit 2)"},
		},
		{
			name: "limit 1 rolls back on the first failure",
			in: func(in *Input) {
				in.Verdict = verdict(analysis.ResultFail)
				in.Policy.FailureLimit = 1
			},
			action: RollBack, weight: 0, step: 0, fails: 1,
		},
		{
			name: "failure at 100% rolls back too",
			in: func(in *Input) {
				in.Step = 3
				in.Verdict = verdict(analysis.ResultFail)
				in.ConsecutiveFailures = 1
			},
			action: RollBack, weight: 0, step: 3, fails: 2,
		},
		{
			name:   "abort rolls back at once, even when passing",
			in:     func(in *Input) { in.Control.Abort = true; in.Step = 2 },
			action: RollBack, weight: 0, step: 2, handle: true, reason: []string{"an operator aborted the rollout at 75%"},
		},
		{
			name:   "abort wins over promote",
			in:     func(in *Input) { in.Control.Abort = true; in.Control.Promote = true },
			action: RollBack, weight: 0, step: 0, handle: true,
		},
		{
			name:   "promote skips the remaining steps",
			in:     func(in *Input) { in.Control.Promote = true; in.StepElapsed = time.Second },
			action: Promote, weight: 100, step: 3, handle: true, reason: []string{"promoted the canary at 25%"},
		},
		{
			name:   "promote passes a pause",
			in:     func(in *Input) { in.Control.Promote = true; in.Control.Paused = true },
			action: Promote, weight: 100, step: 3, handle: true,
		},
		{
			name:   "promote while waiting for data",
			in:     func(in *Input) { in.Control.Promote = true; in.Verdict = verdict(analysis.ResultNoData) },
			action: Promote, weight: 100, step: 3, handle: true, nodata: now,
		},
		{
			name: "promote never overrides a failing verdict",
			in: func(in *Input) {
				in.Control.Promote = true
				in.Verdict = verdict(analysis.ResultFail)
			},
			action: Analyse, weight: 25, step: 0, fails: 1, reason: []string{"the promote request waits"},
		},
		{
			name:   "pause holds",
			in:     func(in *Input) { in.Control.Paused = true; in.StepElapsed = time.Hour },
			action: Hold, weight: 25, step: 0, reason: []string{"paused by an operator at 25%"},
		},
		{
			name: "pause does not stop a failing canary from rolling back",
			in: func(in *Input) {
				in.Control.Paused = true
				in.Verdict = verdict(analysis.ResultFail)
				in.ConsecutiveFailures = 1
			},
			action: RollBack, weight: 0, step: 0, fails: 2,
		},
		{
			name:   "no data under hold starts the clock",
			in:     func(in *Input) { in.Verdict = verdict(analysis.ResultNoData); in.StepElapsed = time.Hour },
			action: Hold, weight: 25, step: 0, nodata: now, reason: []string{"waiting for data at 25% (0s of progress_deadline 10m0s)"},
		},
		{
			name: "no data under hold keeps the failure count",
			in: func(in *Input) {
				in.Verdict = verdict(analysis.ResultNoData)
				in.ConsecutiveFailures = 1
				in.NoDataSince = now.Add(-2 * time.Minute)
			},
			action: Hold, weight: 25, step: 0, fails: 1, nodata: now.Add(-2 * time.Minute), reason: []string{"2m0s of progress_deadline"},
		},
		{
			name: "no data past the progress deadline rolls back",
			in: func(in *Input) {
				in.Verdict = verdict(analysis.ResultNoData)
				in.NoDataSince = now.Add(-10 * time.Minute)
			},
			action: RollBack, weight: 0, step: 0, nodata: now.Add(-10 * time.Minute), reason: []string{"no data for 10m0s at 25%, reaching progress_deadline"},
		},
		{
			name: "no data while paused holds without rolling back and stops the no-data clock",
			in: func(in *Input) {
				in.Verdict = verdict(analysis.ResultNoData)
				in.Control.Paused = true
				in.NoDataSince = now.Add(-time.Hour)
			},
			action: Hold, weight: 25, step: 0, reason: []string{"paused"},
		},
		{
			name: "data again clears the no-data clock",
			in: func(in *Input) {
				in.NoDataSince = now.Add(-5 * time.Minute)
				in.StepElapsed = 61 * time.Second
			},
			action: Shift, weight: 50, step: 1,
		},
		{
			name: "no data under fail counts as a failure",
			in: func(in *Input) {
				in.Policy.NoData = spec.NoDataFail
				in.Verdict = verdict(analysis.ResultNoData)
			},
			action: Analyse, weight: 25, step: 0, fails: 1, reason: []string{`no data counts as a failure (no_data "fail")`},
		},
		{
			name: "no data under pass advances",
			in: func(in *Input) {
				in.Policy.NoData = spec.NoDataPass
				in.Verdict = verdict(analysis.ResultNoData)
				in.StepElapsed = time.Minute
				in.ConsecutiveFailures = 1
			},
			action: Shift, weight: 50, step: 1, fails: 0,
		},
		{
			name: "no data on a first deployment counts as a pass",
			in: func(in *Input) {
				in.Plan = []int{100}
				in.FirstDeployment = true
				in.Verdict = verdict(analysis.ResultNoData)
				in.BakeElapsed = 3 * time.Minute
				in.NoDataSince = now.Add(-time.Hour)
			},
			action: Promote, weight: 100, step: 0,
		},
		{
			name: "a failing first deployment still rolls back",
			in: func(in *Input) {
				in.Plan = []int{100}
				in.FirstDeployment = true
				in.Verdict = verdict(analysis.ResultFail)
				in.ConsecutiveFailures = 1
			},
			action: RollBack, weight: 0, step: 0, fails: 2,
		},
		{
			name:   "ready canary at 0% shifts to the first weight",
			in:     func(in *Input) { in.Step = -1 },
			action: Shift, weight: 25, step: 0, reason: []string{"the canary is ready: shifting to 25%"},
		},
		{
			name:   "last canary step shifts to 100",
			in:     func(in *Input) { in.Step = 2; in.StepElapsed = time.Minute },
			action: Shift, weight: 100, step: 3,
		},
		{
			name:   "bake at 100% until bake_time",
			in:     func(in *Input) { in.Step = 3; in.BakeElapsed = time.Minute },
			action: Bake, weight: 100, step: 3, reason: []string{"baking at 100%: 1m0s of bake_time 2m0s"},
		},
		{
			name:   "promote after bake_time",
			in:     func(in *Input) { in.Step = 3; in.BakeElapsed = 2 * time.Minute },
			action: Promote, weight: 100, step: 3, reason: []string{"passed at 100% for 2m0s"},
		},
		{
			name:   "bake_time 0 promotes at the first analysis at 100%",
			in:     func(in *Input) { in.Step = 3; in.Policy.BakeTime = 0 },
			action: Promote, weight: 100, step: 3,
		},
		{
			name:   "manual promotion holds before 100",
			in:     func(in *Input) { in.Step = 2; in.StepElapsed = time.Hour; in.Policy.ManualPromotion = true },
			action: Hold, weight: 75, step: 2, reason: []string{"waiting at 75% for an operator to promote (manual_promotion)"},
		},
		{
			name:   "manual promotion does not hold earlier steps",
			in:     func(in *Input) { in.Step = 1; in.StepElapsed = time.Minute; in.Policy.ManualPromotion = true },
			action: Shift, weight: 75, step: 2,
		},
		{
			name: "manual promotion gate opened by promote",
			in: func(in *Input) {
				in.Step = 2
				in.Policy.ManualPromotion = true
				in.Control.Promote = true
			},
			action: Promote, weight: 100, step: 3, handle: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := Input{Policy: policy(), Plan: plan, Step: 0, Verdict: verdict(analysis.ResultPass), Now: now}
			c.in(&in)
			d := Decide(in)
			if d.Action != c.action || d.NextWeight != c.weight || d.NextStep != c.step || d.ConsecutiveFailures != c.fails ||
				!d.NoDataSince.Equal(c.nodata) || d.RequestHandled != c.handle {
				t.Errorf("Decide = {%s weight %d step %d fails %d nodata %v handled %v}, want {%s weight %d step %d fails %d nodata %v handled %v}\nreason: %s",
					d.Action, d.NextWeight, d.NextStep, d.ConsecutiveFailures, d.NoDataSince, d.RequestHandled,
					c.action, c.weight, c.step, c.fails, c.nodata, c.handle, d.Reason)
			}
			for _, want := range c.reason {
				if !strings.Contains(d.Reason, want) {
					t.Errorf("reason %q does not contain %q", d.Reason, want)
				}
			}
			if d.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

// A canary that fails every analysis is rolled back within the default
// limit of two intervals after its first shift.
func TestBadCanaryRollsBackWithinTwoIntervals(t *testing.T) {
	s := spec.Spec{PercentageStep: 25}
	p := PolicyFromSpec(s)
	in := Input{Policy: p, Plan: Plan(s, true), Step: 0, Verdict: verdict(analysis.ResultFail), Now: now}
	for i := 1; i <= 10; i++ {
		in.StepElapsed = time.Duration(i) * p.Interval
		d := Decide(in)
		if d.Action == RollBack {
			if i != spec.DefaultConsecutiveFailureLimit {
				t.Errorf("rolled back after %d analyses, want %d", i, spec.DefaultConsecutiveFailureLimit)
			}
			return
		}
		in.ConsecutiveFailures = d.ConsecutiveFailures
	}
	t.Fatal("never rolled back")
}

// Walking a healthy rollout from the ready canary to promotion visits every
// planned weight in order.
func TestHealthyRolloutWalksThePlan(t *testing.T) {
	s := spec.Spec{PercentageStep: 25, BakeTime: 60}
	p := PolicyFromSpec(s)
	in := Input{Policy: p, Plan: Plan(s, true), Step: -1, Verdict: verdict(analysis.ResultPass), Now: now}
	var weights []int
	for range 100 {
		d := Decide(in)
		wait := time.Duration(WaitSeconds(in, d, 0)) * time.Second
		switch d.Action {
		case Shift:
			weights = append(weights, d.NextWeight)
			in.Step, in.StepElapsed, in.BakeElapsed = d.NextStep, wait, 0
			if d.NextWeight == 100 {
				in.BakeElapsed = wait
			}
		case Analyse:
			in.StepElapsed += wait
		case Bake:
			in.BakeElapsed += wait
		case Promote:
			if !reflect.DeepEqual(weights, []int{25, 50, 75, 100}) {
				t.Errorf("visited %v", weights)
			}
			return
		default:
			t.Fatalf("unexpected %s: %s", d.Action, d.Reason)
		}
	}
	t.Fatal("never promoted")
}

func TestWaitSeconds(t *testing.T) {
	p := policy() // wait 60 s, interval 30 s, bake 120 s
	cases := []struct {
		name   string
		in     Input
		d      Decision
		settle time.Duration
		want   int
	}{
		{"analyse: a full interval", Input{Policy: p, StepElapsed: 0}, Decision{Action: Analyse}, 0, 30},
		{"analyse: only what is left of the step", Input{Policy: p, StepElapsed: 50 * time.Second}, Decision{Action: Analyse}, 0, 10},
		{"analyse: never below the settle time", Input{Policy: p, StepElapsed: 50 * time.Second}, Decision{Action: Analyse}, 90 * time.Second, 90},
		{"shift: a full interval", Input{Policy: p, StepElapsed: time.Hour}, Decision{Action: Shift, NextWeight: 50}, 0, 30},
		{"shift: interval capped by wait_time", Input{Policy: Policy{WaitTime: 20 * time.Second, Interval: 30 * time.Second}}, Decision{Action: Shift, NextWeight: 50}, 0, 20},
		{"shift to 100 with no bake still waits an interval", Input{Policy: Policy{Interval: 30 * time.Second}}, Decision{Action: Shift, NextWeight: 100}, 0, 30},
		{"shift: settle time on Lattice", Input{Policy: p}, Decision{Action: Shift, NextWeight: 50}, 90 * time.Second, 90},
		{"bake: what is left of bake_time", Input{Policy: p, BakeElapsed: 100 * time.Second}, Decision{Action: Bake}, 0, 20},
		{"hold: an interval", Input{Policy: p}, Decision{Action: Hold}, 0, 30},
		{"sub-second settle rounds up", Input{Policy: Policy{Interval: 500 * time.Millisecond}}, Decision{Action: Hold}, 1500 * time.Millisecond, 2},
		{"promote: no wait", Input{Policy: p}, Decision{Action: Promote}, 90 * time.Second, 0},
		{"roll back: no wait", Input{Policy: p}, Decision{Action: RollBack}, 90 * time.Second, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := WaitSeconds(c.in, c.d, c.settle); got != c.want {
				t.Errorf("WaitSeconds = %d, want %d", got, c.want)
			}
		})
	}
}

func TestPolicyFromSpec(t *testing.T) {
	s := spec.Spec{WaitTime: 120, BakeTime: 300, ManualPromotion: true}
	s.Analysis.NoData = spec.NoDataFail
	got := PolicyFromSpec(s)
	want := Policy{
		WaitTime: 120 * time.Second, Interval: 60 * time.Second, BakeTime: 300 * time.Second,
		ProgressDeadline: 600 * time.Second, FailureLimit: 2, NoData: spec.NoDataFail, ManualPromotion: true,
	}
	if got != want {
		t.Errorf("PolicyFromSpec = %+v, want %+v", got, want)
	}
}
