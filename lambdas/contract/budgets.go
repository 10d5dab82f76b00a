package contract

import "time"

// Time budgets of one rollout execution. The environment program sizes the
// Lambdas and the state machine with them, and the engine refuses at
// Validate a deploy.json whose plan cannot finish inside them; budgets_test.go
// checks that they nest.
const (
	// StepLambdaTimeout bounds one call of the engine's step entry point:
	// one Task of the state machine.
	StepLambdaTimeout = 90 * time.Second
	// TaskTimeout is the state machine's TimeoutSeconds on every Task that
	// calls the step entry point: longer than the Lambda, so that a slow
	// step ends as the Lambda's own timeout, which names the cause.
	TaskTimeout = 120 * time.Second
	// RollbackLambdaTimeout bounds the rollback entry point, which repeats
	// a roll back several times within one call.
	RollbackLambdaTimeout = 300 * time.Second
	// LambdaMaxTimeout is AWS Lambda's own limit.
	LambdaMaxTimeout = 900 * time.Second

	// HookCallBudget bounds one HTTP hook call, every attempt and pause
	// included: it runs inside one step, with StepMargin left for the
	// step's own reads and writes.
	HookCallBudget = 60 * time.Second
	StepMargin     = 30 * time.Second
	// HookRetryPause is the pause between two attempts of an HTTP hook.
	HookRetryPause = time.Second

	// JobHookPoll is how often "Run hooks" looks at a Job hook, and
	// ReadinessPoll how often "Wait until ready" looks at the canary.
	JobHookPoll   = 5 * time.Second
	ReadinessPoll = 5 * time.Second

	// DefaultRolloutTimeout is the stack's rolloutTimeoutSeconds when unset:
	// the state machine's TimeoutSeconds.
	DefaultRolloutTimeout = 7200 * time.Second
	// RolloutTimeoutMargin is kept free of the plan for the engine's own
	// calls and their retries, and for the roll back.
	RolloutTimeoutMargin = 300 * time.Second
)

// History budget. Step Functions fails an execution whose history reaches
// HistoryEvents; HistoryReserve of them are kept for Task retries and the
// roll back, so a plan may use the rest.
const (
	HistoryEvents  = 25000
	HistoryReserve = 1000
	// MaxPodChecks bounds the pod and alarm checks between analyses in one
	// execution; past it, pods and alarms are checked at every analysis only.
	MaxPodChecks = 1000
)

// The state machine's TimeoutSeconds reaches the engine Lambda as
// EnvRolloutTimeout (seconds), set by infra/deployer from the stack
// configuration key ConfigRolloutTimeout; refusals name that key.
const (
	EnvRolloutTimeout    = "CANARY_ROLLOUT_TIMEOUT_SECONDS"
	ConfigRolloutTimeout = "rolloutTimeoutSeconds"
)
