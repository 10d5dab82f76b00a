package rollout

import (
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
)

// Between two analyses the canary's pods and alarms are checked every
// pod_check_interval, so a crash under traffic rolls back within seconds
// instead of at the next analysis.

// MaxPodChecks bounds the checks between analyses in one execution: each
// costs history events (statemachine.Costs), which Validate counts against
// the execution's 25,000. Past it, pods and alarms are checked at every
// analysis only.
const MaxPodChecks = contract.MaxPodChecks

// CheckWait is the number of seconds to wait before the next check, with
// remaining left until the analysis is due and checks already made.
func CheckWait(remaining, every time.Duration, checks int) int {
	wait := remaining
	if checks < MaxPodChecks {
		wait = min(every, remaining)
	}
	return ceilSeconds(max(wait, time.Second))
}

// CheckInput is what NextCheck decides on after a check found the pods and
// alarms healthy.
type CheckInput struct {
	Now       time.Time
	AnalyseAt time.Time     // when the next analysis is due
	Every     time.Duration // pod_check_interval
	Checks    int           // checks made in this execution, this one included
	Abort     bool          // an operator asked to abort: the analysis acts on it
}

// CheckDecision says whether to analyse now or to check again after
// WaitSeconds.
type CheckDecision struct {
	Analyse     bool
	WaitSeconds int
}

// NextCheck analyses once the interval has passed (less than a second left
// is not worth another wait) or when an abort is pending; otherwise it
// checks again.
func NextCheck(in CheckInput) CheckDecision {
	remaining := in.AnalyseAt.Sub(in.Now)
	if in.Abort || remaining < time.Second {
		return CheckDecision{Analyse: true}
	}
	return CheckDecision{WaitSeconds: CheckWait(remaining, in.Every, in.Checks)}
}

func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
