package rollout

import (
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/spec"
)

// Validate's worst case (spec.WorstCaseSeconds) schedules analyses as
// Decide and WaitSeconds do: a rollout whose every analysis passes takes,
// from its first shift to its promotion, exactly what it counts beyond
// readiness.
func TestWorstCaseFollowsTheSchedule(t *testing.T) {
	base := func(change func(*spec.Spec)) spec.Spec {
		s := spec.Spec{Router: contract.RouterAppMesh, PercentageStep: 25, WaitTime: 60}
		change(&s)
		return s.WithDefaults()
	}
	cases := []struct {
		name   string
		spec   spec.Spec
		settle time.Duration
	}{
		{"canary", base(func(*spec.Spec) {}), contract.AppMeshSettleTime},
		{"steps longer than the interval", base(func(s *spec.Spec) { s.WaitTime, s.Analysis.Interval = 100, 60 }), contract.AppMeshSettleTime},
		{"VPC Lattice settles", base(func(s *spec.Spec) { s.Router, s.WaitTime, s.Analysis.Interval = contract.RouterGatewayAPI, 100, 60 }), contract.LatticeSettleTime},
		{"bake", base(func(s *spec.Spec) { s.BakeTime = 250 }), contract.AppMeshSettleTime},
		{"blue-green", base(func(s *spec.Spec) {
			d := 330
			s.Strategy, s.PercentageStep, s.BakeTime, s.ScaleDownDelay = spec.StrategyBlueGreen, 0, 250, &d
		}), contract.AppMeshSettleTime},
		{"A/B stage", base(func(s *spec.Spec) {
			s.AB = spec.AB{Headers: []spec.HeaderMatch{{Name: "x-canary", Value: "1"}}, Duration: 170}
		}), contract.AppMeshSettleTime},
		{"in place", base(func(s *spec.Spec) { s.Strategy, s.BakeTime = spec.StrategyInPlace, 130 }), contract.AppMeshSettleTime},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := Plan(c.spec, true)
			in := Input{Policy: PolicyFromSpec(c.spec), Plan: plan, Step: -1, Verdict: analysis.Verdict{Result: analysis.ResultPass}}
			now := time.Unix(0, 0)
			var stepStart, bakeStart time.Time
			d := Decide(in)
			for analyses := 0; d.Action != Promote; analyses++ {
				if analyses > 10000 {
					t.Fatalf("no promotion after %d analyses: %+v", analyses, d)
				}
				if d.Action == Shift {
					in.Step, stepStart = d.NextStep, now
					if plan[d.NextStep] >= 100 {
						bakeStart = now
					}
				}
				now = now.Add(time.Duration(WaitSeconds(in, d, c.settle)) * time.Second)
				in.Now, in.StepElapsed = now, now.Sub(stepStart)
				if !bakeStart.IsZero() {
					in.BakeElapsed = now.Sub(bakeStart)
				}
				d = Decide(in)
			}
			ran := int(now.Unix())
			readiness := c.spec.ProgressDeadline // 600 s: a whole number of readiness polls
			got, _ := spec.WorstCaseSeconds(c.spec, spec.Limits{Timeout: contract.DefaultRolloutTimeout, Settle: c.settle, Plan: plan})
			if got-readiness != ran {
				t.Errorf("WorstCaseSeconds counts %d s beyond readiness; the schedule takes %d s", got-readiness, ran)
			}
		})
	}
}
