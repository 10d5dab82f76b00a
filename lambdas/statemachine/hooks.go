package statemachine

import (
	"github.com/eks-canary/platform/lambdas/hooks"
	"github.com/eks-canary/platform/lambdas/spec"
)

// hookFunctionTransient are the Lambda service errors worth invoking a hook
// function again for. A hook that timed out or failed is not retried: it
// may not be safe to repeat, and its failure is the gate's answer.
var hookFunctionTransient = []string{
	"Lambda.ServiceException",
	"Lambda.AWSLambdaException",
	"Lambda.SdkClientException",
	"Lambda.TooManyRequestsException",
}

// hookStates are the states that run rollout hooks. One loop serves every
// point: the engine's "Run hooks" runs the HTTP and Job hooks of the point
// in $.rollout.hook.point, prepares Lambda hooks for "Invoke hook function"
// and judges their answers, and sets $.rollout.next to what follows.
// Notify-only points (post_rollout, on_rollback) never reverse the
// outcome: even an engine error there ends where the rollout was going.
func (cfg Config) hookStates() object {
	return object{
		StateRunHooks: cfg.task(ActionHooks, StateHookNext, []object{
			catch([]string{ErrEnded}, StateEnded), catch([]string{"States.ALL"}, StateHookError),
		}),
		StateHookNext: object{
			"Type": "Choice",
			"Choices": []object{
				next(NextHooks, StateRunHooks),
				next(NextInvoke, StateInvokeHook),
				next(NextWait, StateWaitHook),
				next(NextDeploy, StateDeploy),
				next(NextShift, StateShift),
				next(NextHold, StateWaitAnalysis),
				next(NextPromote, StatePromote),
				next(NextRollBack, StateRollBack),
				next(NextSucceeded, StateSucceeded),
				next(NextRolledBack, StateRolledBack),
			},
			"Default": StateRollBack,
		},
		// The function's answer (or its error, caught) goes back to the
		// engine to judge; the rest of the state passes through. JSONPath
		// cannot cut a string, so the answer is kept whole for the one
		// transition to "Run hooks", which keeps a verdict and an excerpt
		// (hooks.OutputLimit) and drops it. An answer over the 256 KiB
		// Step Functions carries fails the integration itself with
		// States.DataLimitExceeded, which States.ALL does not take: it is
		// caught by name and judged as the hook failing.
		StateInvokeHook: object{
			"Type":     "Task",
			"Resource": "arn:aws:states:::lambda:invoke",
			"Parameters": object{
				"FunctionName.$": "$.rollout.hook.function",
				"Payload.$":      "$.rollout.hook.payload",
			},
			// The function's own timeout bounds it; this is Lambda's maximum.
			"TimeoutSeconds": spec.MaxLambdaTimeout,
			"ResultSelector": object{"Payload.$": "$.Payload"},
			"ResultPath":     "$.rollout.hook.result",
			"Retry": []object{{
				"ErrorEquals": hookFunctionTransient, "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2,
			}},
			"Catch": []object{
				{"ErrorEquals": []string{hooks.ErrDataLimitExceeded}, "ResultPath": "$.rollout.hook.error", "Next": StateRunHooks},
				{"ErrorEquals": []string{"States.ALL"}, "ResultPath": "$.rollout.hook.error", "Next": StateRunHooks},
			},
			"Next": StateRunHooks,
		},
		StateWaitHook: object{"Type": "Wait", "SecondsPath": "$.rollout.wait_seconds", "Next": StateRunHooks},
		StateHookError: object{
			"Type": "Choice",
			"Choices": []object{
				atPoint(spec.HookPostRollout, StateSucceeded),
				atPoint(spec.HookOnRollback, StateRolledBack),
			},
			"Default": StateRollBack,
		},
		StateAfterPromote: object{
			"Type":    "Choice",
			"Choices": []object{next(NextHooks, StateRunHooks)},
			"Default": StateSucceeded,
		},
		StateAfterRollBack: object{
			"Type":    "Choice",
			"Choices": []object{next(NextHooks, StateRunHooks)},
			"Default": StateRolledBack,
		},
	}
}

// atPoint matches the hook point, and nothing when the state has none.
func atPoint(point, nextState string) object {
	return object{"And": []object{
		{"Variable": "$.rollout.hook.point", "IsPresent": true},
		{"Variable": "$.rollout.hook.point", "StringEquals": point},
	}, "Next": nextState}
}
