package rollout

import (
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/status"
)

func TestPhase(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   PhaseInput
		want string
	}{
		{"below 100", PhaseInput{Weight: 25}, status.PhaseProgressing},
		{"the A/B stage", PhaseInput{Weight: 0}, status.PhaseProgressing},
		{"at 100", PhaseInput{Weight: 100}, status.PhaseBaking},
		{"hooks before traffic", PhaseInput{BeforeTraffic: true}, status.PhaseWaitingPods},
		{"hooks before traffic win over a hold", PhaseInput{BeforeTraffic: true, Held: HeldPaused}, status.PhaseWaitingPods},
		{"paused", PhaseInput{Weight: 50, Held: HeldPaused}, status.PhasePaused},
		{"paused at 100", PhaseInput{Weight: 100, Held: HeldPaused}, status.PhasePaused},
		{"at the manual gate", PhaseInput{Weight: 75, Held: HeldForPromotion}, status.PhaseWaiting},
		{"at the manual gate of the A/B stage", PhaseInput{Weight: 0, Held: HeldForPromotion}, status.PhaseWaiting},
		{"waiting for data goes on by itself", PhaseInput{Weight: 25, Held: HeldForData}, status.PhaseProgressing},
		{"waiting for data at 100", PhaseInput{Weight: 100, Held: HeldForData}, status.PhaseBaking},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Phase(tt.in); got != tt.want {
				t.Errorf("Phase(%+v) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestDecideSaysWhatItHoldsFor: the phase follows the rule that held, not
// the verdict; a quiet A/B stage under no_data "pass" still waits for the
// operator.
func TestDecideSaysWhatItHoldsFor(t *testing.T) {
	manual := policy()
	manual.ManualPromotion, manual.AB, manual.ABDuration = true, true, 300*time.Second
	pass := manual
	pass.NoData = spec.NoDataPass
	for _, tt := range []struct {
		name string
		in   Input
		held Held
	}{
		{"paused", Input{Policy: policy(), Plan: []int{25, 50, 100}, Step: 0, Verdict: verdict(analysis.ResultPass), Control: Control{Paused: true}}, HeldPaused},
		{"no data under hold", Input{Policy: policy(), Plan: []int{25, 50, 100}, Step: 0, Verdict: verdict(analysis.ResultNoData)}, HeldForData},
		{"the manual gate", Input{Policy: manual, Plan: []int{25, 50, 100}, Step: 1, StepElapsed: time.Hour, Verdict: verdict(analysis.ResultPass)}, HeldForPromotion},
		{"the A/B stage before 100", Input{Policy: manual, Plan: []int{0, 100}, Step: 0, StepElapsed: time.Hour, Verdict: verdict(analysis.ResultPass)}, HeldForPromotion},
		{"a quiet A/B stage under no_data pass", Input{Policy: pass, Plan: []int{0, 100}, Step: 0, StepElapsed: time.Hour, Verdict: verdict(analysis.ResultNoData)}, HeldForPromotion},
		{"the A/B stage still analysed", Input{Policy: manual, Plan: []int{0, 100}, Step: 0, StepElapsed: time.Minute, Verdict: verdict(analysis.ResultPass)}, NotHeld},
		{"a shift", Input{Policy: policy(), Plan: []int{25, 50, 100}, Step: 0, StepElapsed: time.Hour, Verdict: verdict(analysis.ResultPass)}, NotHeld},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = now
			d := Decide(tt.in)
			if d.Held != tt.held || (tt.held != NotHeld) != (d.Action == Hold) {
				t.Errorf("Decide = %s held %q (%s), want held %q", d.Action, d.Held, d.Reason, tt.held)
			}
		})
	}
}
