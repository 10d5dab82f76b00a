package rollout

import (
	"time"

	"github.com/eks-canary/platform/lambdas/status"
)

// blueGreenPlan is a blue-green rollout with a stable version: the preview
// at 0% (the new version reached only through its preview route), then the
// switch to 100% in one route write.
func blueGreenPlan() []int { return []int{0, 100} }

// keepsOld reports whether the old version stays after the bake: only a
// blue-green rollout with a stable version to keep.
func (p Policy) keepsOld(in Input) bool { return p.BlueGreen && !in.FirstDeployment }

func ptrValue(v *int) int {
	if v == nil {
		return 0
	}
	return *v
}

// StageInput is what the stage of a blue-green rollout is judged from.
type StageInput struct {
	Policy Policy
	Weight int // the new version's share of production traffic
	// AnalysedAtFull is true once an analysis ran with the new version at
	// 100%; before that the rollout has just switched.
	AnalysedAtFull bool
	BakeStartedAt  time.Time // when traffic switched to the new version
	Now            time.Time
}

// BlueGreenStage names where a blue-green rollout is, and until when the
// old version is kept (zero outside that stage).
func BlueGreenStage(in StageInput) (string, time.Time) {
	p := in.Policy
	switch {
	case in.Weight < 100 || in.BakeStartedAt.IsZero():
		return status.StagePreview, time.Time{}
	case !in.AnalysedAtFull:
		return status.StageSwitched, time.Time{}
	}
	bakeEnds := in.BakeStartedAt.Add(p.BakeTime)
	if in.Now.Before(bakeEnds) {
		return status.StageBaking, time.Time{}
	}
	return status.StageOldKept, bakeEnds.Add(p.ScaleDownDelay)
}
