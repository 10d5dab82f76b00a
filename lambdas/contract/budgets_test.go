package contract

import (
	"testing"
	"time"
)

// TestBudgetsNest checks that every budget fits inside the one that
// contains it: a webhook call inside one step, the step inside its Task,
// the polls inside the waits they serve.
func TestBudgetsNest(t *testing.T) {
	cases := []struct {
		name          string
		inner, outer  time.Duration
		strictlyBelow bool
	}{
		{"an HTTP hook call and the step's own work fit in the step Lambda", HookCallBudget + StepMargin, StepLambdaTimeout, false},
		{"the step Lambda times out before its Task", StepLambdaTimeout, TaskTimeout, true},
		{"the rollback Lambda has longer than one step", StepLambdaTimeout, RollbackLambdaTimeout, true},
		{"the rollback Lambda is within Lambda's limit", RollbackLambdaTimeout, LambdaMaxTimeout, false},
		{"the Task timeout is within Lambda's limit", TaskTimeout, LambdaMaxTimeout, false},
		{"a pause between attempts is shorter than the call budget", HookRetryPause, HookCallBudget, true},
		{"the margin leaves room in the default timeout", RolloutTimeoutMargin, DefaultRolloutTimeout, true},
		{"a Job hook is looked at within one Task timeout", JobHookPoll, TaskTimeout, true},
		{"the canary is looked at within one Task timeout", ReadinessPoll, TaskTimeout, true},
		{"the step margin is positive", 0, StepMargin, true},
		{"Job polls are at least a second apart", time.Second, JobHookPoll, false},
		{"readiness polls are at least a second apart", time.Second, ReadinessPoll, false},
	}
	for _, c := range cases {
		if c.inner > c.outer || (c.strictlyBelow && c.inner == c.outer) {
			t.Errorf("%s: %s does not fit in %s", c.name, c.inner, c.outer)
		}
	}
}

func TestHistoryBudget(t *testing.T) {
	cases := []struct {
		name         string
		inner, outer int
	}{
		{"the reserve leaves most of the history to the plan", 2 * HistoryReserve, HistoryEvents},
		{"the pod checks leave room for analyses", MaxPodChecks, HistoryEvents - HistoryReserve},
	}
	for _, c := range cases {
		if c.inner >= c.outer {
			t.Errorf("%s: %d is not below %d", c.name, c.inner, c.outer)
		}
	}
}

// Whole seconds: the values become Lambda and state machine settings.
func TestBudgetsAreWholeSeconds(t *testing.T) {
	for name, d := range map[string]time.Duration{
		"StepLambdaTimeout": StepLambdaTimeout, "TaskTimeout": TaskTimeout, "RollbackLambdaTimeout": RollbackLambdaTimeout,
		"HookCallBudget": HookCallBudget, "HookRetryPause": HookRetryPause, "JobHookPoll": JobHookPoll, "ReadinessPoll": ReadinessPoll,
		"DefaultRolloutTimeout": DefaultRolloutTimeout, "RolloutTimeoutMargin": RolloutTimeoutMargin,
	} {
		if d%time.Second != 0 || d <= 0 {
			t.Errorf("%s = %s: want a positive whole number of seconds", name, d)
		}
	}
}

// The environment variable joins the values TestNoContractLiteralOutsideContract
// looks for. rolloutTimeoutSeconds does not: stacks/config still spells it.
func init() { distinctive = append(distinctive, EnvRolloutTimeout) }
