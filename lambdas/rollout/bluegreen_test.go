package rollout

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/status"
)

func TestBlueGreenPlan(t *testing.T) {
	bg := spec.Spec{Strategy: spec.StrategyBlueGreen, PercentageStep: 25}
	if got := Plan(bg, true); !reflect.DeepEqual(got, []int{0, 100}) {
		t.Errorf("Plan = %v, want the preview at 0 then 100", got)
	}
	if got := Plan(bg, false); !reflect.DeepEqual(got, []int{100}) {
		t.Errorf("first deployment Plan = %v, want [100]: there is nothing to keep", got)
	}
}

func blueGreenPolicy() Policy {
	p := policy() // wait 60 s, interval 30 s, bake 120 s
	p.BlueGreen, p.ScaleDownDelay = true, 300*time.Second
	return p
}

func TestDecideBlueGreen(t *testing.T) {
	plan := []int{0, 100}
	cases := []struct {
		name   string
		in     func(*Input)
		action Action
		weight int
		step   int
		handle bool
		reason string
	}{
		{"ready: the preview at 0%", func(in *Input) { in.Step = -1 }, Shift, 0, 0, false, "shifting to 0%"},
		{"preview before wait_time keeps analysing", func(in *Input) { in.StepElapsed = 30 * time.Second }, Analyse, 0, 0, false, "analysing at 0%"},
		{"preview passed: the switch", func(in *Input) { in.StepElapsed = 60 * time.Second }, Shift, 100, 1, false, "passed at 0% for 1m0s: shifting to 100%"},
		{"preview fails: roll back at the limit", func(in *Input) {
			in.Verdict, in.ConsecutiveFailures = verdict(analysis.ResultFail), 1
		}, RollBack, 0, 0, false, "analysis failed 2 time(s) in a row at 0%"},
		{"preview paused holds", func(in *Input) { in.StepElapsed, in.Control.Paused = time.Hour, true }, Hold, 0, 0, false, "paused"},
		{"promote at the preview switches, it does not skip the bake", func(in *Input) { in.Control.Promote = true }, Shift, 100, 1, true, "promoted the new version at the preview"},
		{"baking", func(in *Input) { in.Step, in.BakeElapsed = 1, 60*time.Second }, Bake, 100, 1, false, "baking at 100%"},
		{"bake passed: the old version is kept", func(in *Input) { in.Step, in.BakeElapsed = 1, 120*time.Second }, KeepOld, 100, 1, false, "0s of scale_down_delay 5m0s"},
		{"still in the window", func(in *Input) { in.Step, in.BakeElapsed = 1, 419*time.Second }, KeepOld, 100, 1, false, "4m59s of scale_down_delay"},
		{"window over: promote", func(in *Input) { in.Step, in.BakeElapsed = 1, 420*time.Second }, Promote, 100, 1, false, "promoting"},
		{"failure in the window rolls back", func(in *Input) {
			in.Step, in.BakeElapsed, in.Verdict, in.ConsecutiveFailures = 1, 200*time.Second, verdict(analysis.ResultFail), 1
		}, RollBack, 0, 1, false, "at 100%"},
		{"abort in the window rolls back", func(in *Input) { in.Step, in.BakeElapsed, in.Control.Abort = 1, 200*time.Second, true }, RollBack, 0, 1, true, "aborted"},
		{"promote in the window removes the old version now", func(in *Input) { in.Step, in.BakeElapsed, in.Control.Promote = 1, 200*time.Second, true }, Promote, 100, 1, true, "promoted"},
		{"first deployment keeps nothing", func(in *Input) {
			in.Plan, in.Step, in.BakeElapsed, in.FirstDeployment = []int{100}, 0, 120*time.Second, true
		}, Promote, 100, 0, false, "promoting"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := Input{Policy: blueGreenPolicy(), Plan: plan, Step: 0, Verdict: verdict(analysis.ResultPass), Now: now}
			c.in(&in)
			d := Decide(in)
			if d.Action != c.action || d.NextWeight != c.weight || d.NextStep != c.step || d.RequestHandled != c.handle {
				t.Errorf("Decide = {%s weight %d step %d handled %v}, want {%s weight %d step %d handled %v}\nreason: %s",
					d.Action, d.NextWeight, d.NextStep, d.RequestHandled, c.action, c.weight, c.step, c.handle, d.Reason)
			}
			if !strings.Contains(d.Reason, c.reason) {
				t.Errorf("reason %q does not contain %q", d.Reason, c.reason)
			}
		})
	}
}

func TestBlueGreenWaits(t *testing.T) {
	p := blueGreenPolicy()
	cases := []struct {
		name string
		in   Input
		d    Decision
		want int
	}{
		{"keep: a full interval", Input{Policy: p, BakeElapsed: 120 * time.Second}, Decision{Action: KeepOld}, 30},
		{"keep: what is left of the window", Input{Policy: p, BakeElapsed: 410 * time.Second}, Decision{Action: KeepOld}, 10},
		{"preview: an interval capped by wait_time", Input{Policy: p}, Decision{Action: Shift, NextWeight: 0}, 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := WaitSeconds(c.in, c.d, 0); got != c.want {
				t.Errorf("WaitSeconds = %d, want %d", got, c.want)
			}
		})
	}
}

func TestBlueGreenStage(t *testing.T) {
	switched := now.Add(-time.Minute)
	cases := []struct {
		name     string
		in       StageInput
		stage    string
		keptTill time.Time
	}{
		{"at 0%", StageInput{Weight: 0}, status.StagePreview, time.Time{}},
		{"just switched", StageInput{Weight: 100, BakeStartedAt: now}, status.StageSwitched, time.Time{}},
		{"baking", StageInput{Weight: 100, BakeStartedAt: switched, AnalysedAtFull: true}, status.StageBaking, time.Time{}},
		{"old version kept", StageInput{Weight: 100, BakeStartedAt: now.Add(-3 * time.Minute), AnalysedAtFull: true}, status.StageOldKept,
			now.Add(-3 * time.Minute).Add(120 * time.Second).Add(300 * time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.Policy, c.in.Now = blueGreenPolicy(), now
			stage, until := BlueGreenStage(c.in)
			if stage != c.stage || !until.Equal(c.keptTill) {
				t.Errorf("BlueGreenStage = %s until %v, want %s until %v", stage, until, c.stage, c.keptTill)
			}
		})
	}
}

func TestPolicyFromBlueGreenSpec(t *testing.T) {
	delay := 45
	got := PolicyFromSpec(spec.Spec{Strategy: spec.StrategyBlueGreen, WaitTime: 60, ScaleDownDelay: &delay})
	if !got.BlueGreen || got.ScaleDownDelay != 45*time.Second {
		t.Errorf("PolicyFromSpec = %+v, want blue-green with a 45 s delay", got)
	}
	if got := PolicyFromSpec(spec.Spec{Strategy: spec.StrategyBlueGreen, WaitTime: 60}); got.ScaleDownDelay != spec.DefaultScaleDownDelay*time.Second {
		t.Errorf("default delay %s", got.ScaleDownDelay)
	}
}
