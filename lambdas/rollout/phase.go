package rollout

import "github.com/eks-canary/platform/lambdas/status"

// Held is what a Hold decision waits for.
type Held string

// What a rollout holds for.
const (
	NotHeld          Held = ""
	HeldPaused       Held = "paused"    // an operator paused it
	HeldForData      Held = "data"      // no data under no_data "hold"
	HeldForPromotion Held = "promotion" // manual_promotion: an operator's promote, at the last step before 100 or the A/B stage
)

// PhaseInput is what the status phase of a rollout in progress depends on.
type PhaseInput struct {
	Weight int // the canary's traffic weight now
	// BeforeTraffic: the hooks that run before the canary takes traffic
	// (pre_rollout, pre_traffic) are running.
	BeforeTraffic bool
	Held          Held // what the decision just taken holds for; NotHeld outside an analysis
}

// Phase is the status phase of a rollout in progress: WaitingForReady
// while the hooks before traffic run, Paused or WaitingPromotion while the
// rollout holds for an operator, Baking at 100%, Progressing otherwise. A
// hold for data is Progressing: the rollout goes on by itself.
func Phase(in PhaseInput) string {
	switch {
	case in.BeforeTraffic:
		return status.PhaseWaitingPods
	case in.Held == HeldPaused:
		return status.PhasePaused
	case in.Held == HeldForPromotion:
		return status.PhaseWaiting
	case in.Weight >= 100:
		return status.PhaseBaking
	default:
		return status.PhaseProgressing
	}
}
