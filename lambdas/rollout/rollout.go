// Package rollout makes the engine's decisions: which traffic weights a
// rollout walks through, and what to do after each analysis. Both are plain
// functions of their inputs so that every rule is a table test.
//
// # Plan
//
// The canary weights come from steps when given, else from percentage_step
// (25 gives 25, 50, 75, 100). Weights above max_weight are dropped and
// max_weight itself becomes the last canary weight; the plan always ends at
// 100, the promotion. A first deployment (no stable version) and the
// in-place strategy have nothing to split traffic with and go straight to
// [100].
//
// An A/B stage (deploy.json "ab") is the plan's first step, weight 0: the
// default route keeps all traffic on the stable version and only requests
// whose headers match reach the canary. It lasts ab.duration instead of
// wait_time; the weighted steps follow.
//
// # Decide
//
// Decide runs after every analysis. The rules, first match wins:
//
//  1. An operator abort rolls back at once, whatever the verdict.
//  2. A failing verdict (or no data under no_data "fail") adds one to the
//     consecutive failures; reaching consecutive_failure_limit rolls back.
//     Below the limit the rollout stays at its weight (Analyse). Pausing
//     does not suspend this: a paused canary that keeps failing still rolls
//     back. A pass resets the count; no data under "hold" leaves it as is.
//  3. An operator promote request promotes at once (skipping the remaining
//     steps, the manual gate and the bake; a blue-green rollout before its
//     switch switches at once instead, then bakes), but only when the verdict is not
//     failing: a promote request never overrides evidence that the canary is
//     broken. The request then stays pending and is honoured at the next
//     analysis that does not fail.
//  4. Paused holds the weight. The no-data clock of rule 5 does not run
//     while paused: it starts again at the first analysis after resuming,
//     so resuming a quiet canary does not roll it back at once.
//  5. No data under "hold" holds the weight until data arrives; when no data
//     has lasted progress_deadline the rollout rolls back, so a canary that
//     never receives traffic cannot stall forever. Under "pass" no data is
//     treated as a pass, and so it is on a first deployment whatever the
//     policy: with no stable version there is nothing safer to return to,
//     and a new service without users yet must still come up.
//  6. Before the first step (weight 0, the canary just became ready) the
//     rollout shifts to the first weight.
//  7. At 100% the rollout bakes until bake_time has passed, then promotes.
//     A blue-green rollout first keeps the old version running for
//     scale_down_delay (KeepOld), still analysing, so that a failure or an
//     abort in that window is one route write back to it.
//  8. Below 100% it keeps analysing until wait_time has passed at the step
//     (ab.duration at the A/B stage).
//  9. With manual_promotion the rollout holds at the last weight before 100
//     until an operator promotes.
//  10. Otherwise it shifts to the next weight.
package rollout

import (
	"fmt"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/spec"
)

// Plan returns the traffic weights of a rollout, always ending at 100.
// hasStable is false on a first deployment, when no version serves traffic
// yet.
func Plan(s spec.Spec, hasStable bool) []int {
	s = s.WithDefaults()
	if !hasStable || s.Strategy == spec.StrategyInPlace {
		return []int{100}
	}
	if s.BlueGreen() {
		return blueGreenPlan()
	}
	var canary []int
	if len(s.Steps) > 0 {
		canary = append(canary, s.Steps...)
	} else {
		for w := s.PercentageStep; w < 100; w += s.PercentageStep {
			canary = append(canary, w)
		}
	}
	plan := make([]int, 0, len(canary)+2)
	if s.HasAB() {
		plan = append(plan, 0)
	}
	for _, w := range canary {
		if w >= s.MaxWeight || w >= 100 {
			break
		}
		plan = append(plan, w)
	}
	if s.MaxWeight < 100 && (len(plan) == 0 || plan[len(plan)-1] < s.MaxWeight) {
		plan = append(plan, s.MaxWeight)
	}
	return append(plan, 100)
}

// ABStage reports whether step of plan is the A/B stage: the only weight 0
// a plan holds, always its first step.
func ABStage(plan []int, step int) bool {
	return step == 0 && len(plan) > 1 && plan[0] == 0
}

// abStage reports whether step is the A/B stage of this rollout: a
// blue-green plan also opens at 0%, for its preview.
func (in Input) abStage(step int) bool { return in.Policy.AB && ABStage(in.Plan, step) }

// Action is what the engine does next.
type Action string

// Actions.
const (
	Analyse  Action = "Analyse"  // stay at this weight and analyse again
	Shift    Action = "Shift"    // move traffic to NextWeight
	Bake     Action = "Bake"     // stay at 100% and analyse until bake_time has passed
	Promote  Action = "Promote"  // make the canary the stable version
	RollBack Action = "RollBack" // return all traffic to the stable version
	Hold     Action = "Hold"     // stay at this weight: paused, manual gate or waiting for data
	// KeepOld stays at 100% after the bake with the old version running
	// (blue-green's scale_down_delay), analysing until it may go.
	KeepOld Action = "KeepOld"
)

// Policy is the part of the spec that drives decisions.
type Policy struct {
	WaitTime         time.Duration // time at each canary weight
	AB               bool          // the plan opens with an A/B stage
	ABDuration       time.Duration // time at the A/B stage
	Interval         time.Duration // time between analyses
	BakeTime         time.Duration // time analysed at 100% before promotion
	ProgressDeadline time.Duration // longest no-data hold
	FailureLimit     int           // consecutive failed analyses that roll back
	NoData           string        // spec.NoDataFail, NoDataHold or NoDataPass
	ManualPromotion  bool
	BlueGreen        bool
	ScaleDownDelay   time.Duration // blue-green: time the old version is kept after the bake
}

// PolicyFromSpec derives the decision policy, applying the spec defaults
// first.
func PolicyFromSpec(s spec.Spec) Policy {
	s = s.WithDefaults()
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	return Policy{
		WaitTime:         sec(s.WaitTime),
		AB:               s.HasAB(),
		ABDuration:       sec(s.AB.Duration),
		Interval:         sec(s.Analysis.Interval),
		BakeTime:         sec(s.BakeTime),
		ProgressDeadline: sec(s.ProgressDeadline),
		FailureLimit:     s.Analysis.ConsecutiveFailureLimit,
		NoData:           s.Analysis.NoData,
		ManualPromotion:  s.ManualPromotion,
		BlueGreen:        s.BlueGreen(),
		ScaleDownDelay:   sec(ptrValue(s.ScaleDownDelay)),
	}
}

// Control is the operator's input as Decide sees it.
type Control struct {
	Paused  bool
	Promote bool // a pending promote request
	Abort   bool // a pending abort request
}

// Input is everything Decide needs after one analysis.
type Input struct {
	Policy Policy
	Plan   []int // from Plan
	// Step is the index in Plan of the current weight; -1 before the first
	// shift (the canary is deployed at 0% and ready).
	Step    int
	Verdict analysis.Verdict
	// FirstDeployment is true when no stable version exists (Plan was
	// called with hasStable false).
	FirstDeployment     bool
	ConsecutiveFailures int           // failed analyses in a row before this one
	StepElapsed         time.Duration // time since traffic reached the current weight
	BakeElapsed         time.Duration // time since traffic reached 100%; zero below 100
	Control             Control
	// NoDataSince is when the current run of no-data verdicts began; zero
	// when the previous verdict had data. Now is the time of this decision.
	NoDataSince time.Time
	Now         time.Time
}

// Decision is what to do next and the counters to carry to the next call.
type Decision struct {
	Action              Action
	NextWeight          int       // the weight traffic should be at after the action
	NextStep            int       // the index of NextWeight in the plan
	ConsecutiveFailures int       // to pass back as Input.ConsecutiveFailures
	NoDataSince         time.Time // to pass back as Input.NoDataSince
	RequestHandled      bool      // the operator's request was acted on; clear it
	Held                Held      // what a Hold waits for; NotHeld for other actions
	Reason              string
}

// Decide applies the rules in the package documentation.
func Decide(in Input) Decision {
	p := in.Policy
	current := in.weight()
	where := in.where()
	d := Decision{
		NextWeight:          current,
		NextStep:            in.Step,
		ConsecutiveFailures: in.ConsecutiveFailures,
		NoDataSince:         in.NoDataSince,
	}
	v := in.Verdict
	noData := v.Result == analysis.ResultNoData
	noDataPolicy := p.NoData
	if in.FirstDeployment {
		noDataPolicy = spec.NoDataPass
	}
	failing := v.Result == analysis.ResultFail || (noData && noDataPolicy == spec.NoDataFail)
	limit := max(p.FailureLimit, 1)

	if in.Control.Abort {
		return d.rollBack(true, fmt.Sprintf("an operator aborted the rollout at %s", where))
	}

	switch {
	case failing:
		d.ConsecutiveFailures++
		d.NoDataSince = time.Time{}
	case noData && noDataPolicy == spec.NoDataHold:
		if d.NoDataSince.IsZero() {
			d.NoDataSince = in.Now
		}
	default: // a pass, or no data treated as a pass
		d.ConsecutiveFailures = 0
		d.NoDataSince = time.Time{}
	}

	if failing {
		why := v.Reason
		if noData {
			why = "no data counts as a failure (no_data \"fail\"): " + v.Reason
		}
		if d.ConsecutiveFailures >= limit {
			return d.rollBack(false, fmt.Sprintf("analysis failed %d time(s) in a row at %s (limit %d): %s",
				d.ConsecutiveFailures, where, limit, why))
		}
		d.Action = Analyse
		d.Reason = fmt.Sprintf("analysis failed at %s (%d of %d allowed in a row), staying at this weight: %s",
			where, d.ConsecutiveFailures, limit, why)
		if in.Control.Promote {
			d.Reason += "; the promote request waits for an analysis that does not fail"
		}
		return d
	}

	if in.Control.Promote && p.BlueGreen && current < 100 && len(in.Plan) > 1 {
		d = d.shift(in, len(in.Plan)-1, fmt.Sprintf("an operator promoted the new version at the preview (%d%%)", current))
		d.RequestHandled = true
		return d
	}
	if in.Control.Promote {
		d.Action, d.NextWeight, d.NextStep, d.RequestHandled = Promote, 100, len(in.Plan)-1, true
		d.Reason = fmt.Sprintf("an operator promoted the canary at %s, skipping the remaining steps", where)
		return d
	}
	if in.Control.Paused {
		d.NoDataSince = time.Time{}
		d.Action, d.Held = Hold, HeldPaused
		d.Reason = fmt.Sprintf("paused by an operator at %s", where)
		return d
	}
	if noData && noDataPolicy == spec.NoDataHold {
		waited := in.Now.Sub(d.NoDataSince)
		if waited >= p.ProgressDeadline {
			return d.rollBack(false, fmt.Sprintf("no data for %s at %s, reaching progress_deadline (%s): %s",
				waited.Round(time.Second), where, p.ProgressDeadline, v.Reason))
		}
		d.Action, d.Held = Hold, HeldForData
		d.Reason = fmt.Sprintf("waiting for data at %s (%s of progress_deadline %s): %s",
			where, waited.Round(time.Second), p.ProgressDeadline, v.Reason)
		return d
	}

	if in.Step < 0 {
		return d.shift(in, 0, "the canary is ready")
	}
	if current >= 100 {
		if kept := in.BakeElapsed - p.BakeTime; in.BakeElapsed >= p.BakeTime && p.keepsOld(in) && kept < p.ScaleDownDelay {
			d.Action = KeepOld
			d.Reason = fmt.Sprintf("the new version passed bake_time %s; the old version is kept running for a roll back: %s of scale_down_delay %s passed",
				p.BakeTime, kept.Round(time.Second), p.ScaleDownDelay)
			return d
		}
		if in.BakeElapsed >= p.BakeTime {
			d.Action, d.NextWeight, d.NextStep = Promote, 100, in.Step
			d.Reason = fmt.Sprintf("the canary passed at 100%% for %s (bake_time %s): promoting", in.BakeElapsed.Round(time.Second), p.BakeTime)
			return d
		}
		d.Action = Bake
		d.Reason = fmt.Sprintf("baking at 100%%: %s of bake_time %s passed", in.BakeElapsed.Round(time.Second), p.BakeTime)
		return d
	}
	if in.abStage(in.Step) {
		if in.StepElapsed < p.ABDuration {
			d.Action = Analyse
			d.Reason = fmt.Sprintf("analysing the A/B stage: %s of ab.duration %s passed", in.StepElapsed.Round(time.Second), p.ABDuration)
			return d
		}
		if p.ManualPromotion && in.Plan[1] >= 100 {
			d.Action, d.Held = Hold, HeldForPromotion
			d.Reason = "waiting at the A/B stage for an operator to promote (manual_promotion)"
			return d
		}
		return d.shift(in, 1, fmt.Sprintf("the canary passed the A/B stage for %s", in.StepElapsed.Round(time.Second)))
	}
	if in.StepElapsed < p.WaitTime {
		d.Action = Analyse
		d.Reason = fmt.Sprintf("analysing at %d%%: %s of wait_time %s passed", current, in.StepElapsed.Round(time.Second), p.WaitTime)
		return d
	}
	if p.ManualPromotion && in.Step+1 < len(in.Plan) && in.Plan[in.Step+1] >= 100 {
		d.Action, d.Held = Hold, HeldForPromotion
		d.Reason = fmt.Sprintf("waiting at %d%% for an operator to promote (manual_promotion)", current)
		return d
	}
	return d.shift(in, in.Step+1, fmt.Sprintf("the canary passed at %d%% for %s", current, in.StepElapsed.Round(time.Second)))
}

// where names the current step in reasons: "25%", or "0% (the A/B stage)".
func (in Input) where() string {
	if in.abStage(in.Step) {
		return "0% (the A/B stage)"
	}
	return fmt.Sprintf("%d%%", in.weight())
}

// weight is the current traffic weight of the canary.
func (in Input) weight() int {
	if in.Step < 0 || len(in.Plan) == 0 {
		return 0
	}
	return in.Plan[min(in.Step, len(in.Plan)-1)]
}

func (d Decision) rollBack(handled bool, reason string) Decision {
	d.Action, d.NextWeight, d.RequestHandled, d.Reason = RollBack, 0, handled, reason
	return d
}

func (d Decision) shift(in Input, step int, why string) Decision {
	if step >= len(in.Plan) {
		d.Action, d.NextWeight = Promote, 100
		d.Reason = why + ": the plan is complete, promoting"
		return d
	}
	d.Action, d.NextStep, d.NextWeight = Shift, step, in.Plan[step]
	d.Reason = fmt.Sprintf("%s: shifting to %d%%", why, in.Plan[step])
	if in.abStage(step) {
		d.Reason = why + ": starting the A/B stage (matching requests to the canary, 0% of the rest)"
	}
	return d
}

// WaitSeconds is how long to wait before the next analysis after decision d:
// the analysis interval, shortened so that a step or bake ends on time, and
// never shorter than the router's settle time, because an analysis sooner
// than that would judge the previous weight.
func WaitSeconds(in Input, d Decision, settle time.Duration) int {
	p := in.Policy
	wait := p.Interval
	switch d.Action {
	case Shift:
		// A new canary weight gets a full interval (capped by wait_time);
		// 100% gets a full interval even with bake_time 0, so the promoted
		// version is analysed once at full traffic before the old one goes.
		if in.abStage(d.NextStep) {
			wait = min(p.Interval, p.ABDuration)
		} else if d.NextWeight < 100 {
			wait = min(p.Interval, p.WaitTime)
		}
	case Analyse:
		stepWait := p.WaitTime
		if in.abStage(in.Step) {
			stepWait = p.ABDuration
		}
		if remaining := stepWait - in.StepElapsed; remaining > 0 {
			wait = min(p.Interval, remaining)
		}
	case Bake:
		if remaining := p.BakeTime - in.BakeElapsed; remaining > 0 {
			wait = min(p.Interval, remaining)
		}
	case KeepOld:
		if remaining := p.BakeTime + p.ScaleDownDelay - in.BakeElapsed; remaining > 0 {
			wait = min(p.Interval, remaining)
		}
	case Promote, RollBack:
		return 0
	}
	wait = max(wait, settle, time.Second)
	return int((wait + time.Second - 1) / time.Second)
}
