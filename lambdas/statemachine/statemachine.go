// Package statemachine generates the Step Functions definition that sequences
// a rollout. Step Functions is only the durable sequencer: every decision is
// taken by the engine's Go handlers, which return the next action in
// $.rollout.next. The definition guarantees that no path ends with traffic on
// a broken version: every Task retries transient errors and catches
// everything else into "Roll back", and the execution has an overall timeout
// whose expiry is handled outside (an EventBridge rule invokes the engine's
// rollback entry point for aborted, timed-out and failed executions).
package statemachine

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
)

// State names, readable in the Step Functions console.
const (
	StateValidate       = "Validate"
	StateLock           = "Lock"
	StateDeploy         = "Deploy canary at 0%"
	StateReady          = "Wait until ready"
	StateReadyChoice    = "Canary ready?"
	StateWaitPods       = "Wait for pods"
	StateShift          = "Shift traffic"
	StateWaitAnalysis   = "Wait for analysis"
	StateCheck          = "Check pods and alarms"
	StateCheckChoice    = "Analysis due?"
	StateAnalyse        = "Analyse"
	StateNextAction     = "Next action"
	StatePromote        = "Promote"
	StateRollBack       = "Roll back"
	StateRecordFailure  = "Record roll back failure"
	StateSucceeded      = "Rollout succeeded"
	StateRolledBack     = "Rolled back"
	StateInvalid        = "Invalid deploy.json"
	StateInProgress     = "Another rollout in progress"
	StateRollBackFailed = "Roll back failed"
	StateEnded          = "Rollout ended elsewhere"
	StateRefused        = "Refused"

	// Rollout hooks (hooks.go).
	StateRunHooks      = "Run hooks"
	StateHookNext      = "Next hook action"
	StateInvokeHook    = "Invoke hook function"
	StateWaitHook      = "Wait for hook"
	StateHookError     = "Hook step failed"
	StateAfterPromote  = "Post-rollout hooks?"
	StateAfterRollBack = "Roll back hooks?"
)

// Handler actions: the "action" field of the Lambda payload, one per Task.
const (
	ActionValidate = "validate"
	ActionLock     = "lock"
	ActionDeploy   = "deploy"
	ActionReady    = "ready"
	ActionShift    = "shift"
	ActionAnalyse  = "analyse"
	// ActionCheck reads only the canary's pods and alarms between analyses.
	ActionCheck    = "check"
	ActionPromote  = "promote"
	ActionRollBack = "rollback"
	// ActionRollBackFailed records a roll back that gave up: phase Failed,
	// the lock held for recovery, a notice.
	ActionRollBackFailed = "rollbackfailed"
	// ActionHooks runs the hooks of the point the state names, or judges
	// the answer of a Lambda hook the state machine invoked.
	ActionHooks = "hooks"
)

// TaskActions maps every Task state to the handler action it calls.
var TaskActions = map[string]string{
	StateValidate:      ActionValidate,
	StateLock:          ActionLock,
	StateDeploy:        ActionDeploy,
	StateReady:         ActionReady,
	StateShift:         ActionShift,
	StateAnalyse:       ActionAnalyse,
	StateCheck:         ActionCheck,
	StatePromote:       ActionPromote,
	StateRollBack:      ActionRollBack,
	StateRecordFailure: ActionRollBackFailed,
	StateRunHooks:      ActionHooks,
}

// Values of $.rollout.next chosen by the engine after "Analyse" and, with
// NextCheck, NextAnalyse and NextRollBack, after "Check pods and alarms".
const (
	NextCheck    = "check"
	NextAnalyse  = "analyse"
	NextShift    = "shift"
	NextBake     = "bake"
	NextHold     = "hold"
	NextPromote  = "promote"
	NextRollBack = "rollback"

	// Values the hook steps add (Lock, "Wait until ready", Promote and
	// Roll back set them too).
	NextHooks      = "hooks"      // run the hooks of $.rollout.hook.point
	NextInvoke     = "invoke"     // invoke $.rollout.hook.function
	NextWait       = "wait"       // wait $.rollout.wait_seconds, then look at the hook again
	NextDeploy     = "deploy"     // the pre_rollout hooks passed (or there are none)
	NextSucceeded  = "succeeded"  // the post_rollout hooks ran
	NextRolledBack = "rolledback" // the on_rollback hooks ran, or a pre_rollout hook ended the rollout
)

// Error names the handlers raise; Retry and Catch match on them.
const (
	ErrValidation = "ValidationFailed"  // bad deploy.json or template, or refused by the API server's dry run: nothing was written
	ErrInProgress = "RolloutInProgress" // another execution holds the microservice's lock
	ErrTransient  = "Transient"         // worth retrying: API server busy, throttled, conflict
	ErrNotReady   = "CanaryNotReady"    // the canary failed or outlived progress_deadline
	ErrEnded      = "RolloutEnded"      // rolled back from outside, or the lock was lost: touch nothing
	ErrRefused    = "RolloutRefused"    // the cluster is not in a state a rollout can start from: nothing was written
)

// lambdaTransient are the Lambda service errors AWS recommends retrying.
var lambdaTransient = []string{
	"Lambda.ClientExecutionTimeoutException",
	"Lambda.ServiceException",
	"Lambda.AWSLambdaException",
	"Lambda.SdkClientException",
	"Lambda.TooManyRequestsException",
	"Sandbox.Timedout", // every handler is safe to repeat
}

// Config parameterises the definition.
type Config struct {
	FunctionArn    string // the engine's step function
	TimeoutSeconds int    // the whole execution; its expiry triggers the rollback entry point
	TaskTimeout    int    // one handler call; defaults to contract.TaskTimeout
}

type object = map[string]any

// Definition renders the state machine as JSON (JSONPath query language).
func Definition(cfg Config) (string, error) {
	if cfg.FunctionArn == "" {
		return "", fmt.Errorf("state machine: FunctionArn is empty: pass the engine Lambda's ARN")
	}
	if cfg.TimeoutSeconds <= 0 {
		return "", fmt.Errorf("state machine: TimeoutSeconds %d must be positive", cfg.TimeoutSeconds)
	}
	if cfg.TaskTimeout <= 0 {
		cfg.TaskTimeout = int(contract.TaskTimeout / time.Second)
	}
	states := object{
		StateValidate: cfg.task(ActionValidate, StateLock, []object{
			catch([]string{"States.ALL"}, StateInvalid),
		}),
		StateLock: cfg.task(ActionLock, StateHookNext, []object{
			catch([]string{ErrInProgress}, StateInProgress),
			catch([]string{ErrRefused}, StateRefused),
			catch([]string{"States.ALL"}, StateRollBack),
		}),
		// The API server's dry run refusing the new version is invalid
		// input: the handler wrote nothing but the refusal to the status.
		StateDeploy: cfg.task(ActionDeploy, StateReady, append([]object{catch([]string{ErrValidation}, StateInvalid)}, rollBackOnError()...)),
		StateReady:  cfg.task(ActionReady, StateReadyChoice, rollBackOnError()),
		StateReadyChoice: object{
			"Type": "Choice",
			"Choices": []object{{
				"Variable":      "$.rollout.ready",
				"BooleanEquals": true,
				"Next":          StateHookNext,
			}},
			"Default": StateWaitPods,
		},
		StateWaitPods: object{"Type": "Wait", "SecondsPath": "$.rollout.wait_seconds", "Next": StateReady},
		StateShift:    cfg.task(ActionShift, StateWaitAnalysis, rollBackOnError()),
		// The wait before an analysis is a loop of short waits, each
		// followed by a light check of the canary's pods and alarms that
		// rolls back at once, waits again, or analyses when it is due.
		StateWaitAnalysis: object{
			"Type": "Wait", "SecondsPath": "$.rollout.check_seconds", "Next": StateCheck,
		},
		StateCheck: cfg.task(ActionCheck, StateCheckChoice, rollBackOnError()),
		StateCheckChoice: object{
			"Type": "Choice",
			"Choices": []object{
				next(NextCheck, StateWaitAnalysis),
				next(NextAnalyse, StateAnalyse),
				next(NextRollBack, StateRollBack),
			},
			"Default": StateRollBack,
		},
		StateAnalyse: cfg.task(ActionAnalyse, StateNextAction, rollBackOnError()),
		StateNextAction: object{
			"Type": "Choice",
			"Choices": []object{
				next(NextAnalyse, StateWaitAnalysis),
				next(NextHold, StateWaitAnalysis),
				next(NextShift, StateShift),
				next(NextBake, StateWaitAnalysis),
				next(NextPromote, StatePromote),
				next(NextRollBack, StateRollBack),
				next(NextHooks, StateRunHooks),
			},
			"Default": StateRollBack,
		},
		StatePromote: cfg.task(ActionPromote, StateAfterPromote, rollBackOnError()),
		StateRollBack: cfg.withRetry(object{
			"Type":           "Task",
			"Resource":       "arn:aws:states:::lambda:invoke",
			"Parameters":     cfg.parameters(ActionRollBack),
			"OutputPath":     "$.Payload",
			"TimeoutSeconds": cfg.TaskTimeout,
			"Next":           StateAfterRollBack,
			"Catch":          []object{catch([]string{"States.ALL"}, StateRecordFailure)},
		}, object{
			// Rolling back must not give up on a flaky API server: retry anything, longer.
			"ErrorEquals": []string{"States.ALL"}, "IntervalSeconds": 3, "MaxAttempts": 8, "BackoffRate": 2, "MaxDelaySeconds": 60,
		}),
		// Phase Failed, the lock held and a notice. Should even that fail,
		// the execution still ends in "Roll back failed", whose event the
		// rollback entry point receives.
		StateRecordFailure: cfg.task(ActionRollBackFailed, StateRollBackFailed, []object{
			catch([]string{"States.ALL"}, StateRollBackFailed),
		}),
		StateSucceeded:      object{"Type": "Succeed"},
		StateRolledBack:     object{"Type": "Fail", "Error": "RolledBack", "Cause": "The canary failed and traffic is back on the stable version; see the rollout status for the reason."},
		StateInvalid:        object{"Type": "Fail", "Error": ErrValidation, "Cause": "deploy.json or its template is invalid, or the API server refused the new version in a dry run; nothing was changed. The error output names every bad field."},
		StateInProgress:     object{"Type": "Fail", "Error": ErrInProgress, "Cause": "Another rollout of this microservice is in progress; nothing was changed."},
		StateRollBackFailed: object{"Type": "Fail", "Error": "RollBackFailed", "Cause": "Roll back did not complete: the status says Failed and the lock stays held. The rollback entry point retries it from the execution-failed event; if that fails too, fix the cause and run canaryctl recover."},
		StateRefused:        object{"Type": "Fail", "Error": ErrRefused, "Cause": "The cluster is not in a state a rollout can start from; nothing was changed. The error output says why and what to do."},
		StateEnded:          object{"Type": "Fail", "Error": ErrEnded, "Cause": "The rollout was rolled back from outside or lost its lock; this execution changed nothing more."},
	}
	maps.Copy(states, cfg.hookStates())
	def := object{
		"Comment":        "Canary rollout of one microservice: shift traffic step by step, analyse at every interval, roll back on failure.",
		"QueryLanguage":  "JSONPath",
		"StartAt":        StateValidate,
		"TimeoutSeconds": cfg.TimeoutSeconds,
		"States":         states,
	}
	out, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return "", fmt.Errorf("state machine: encode definition: %w", err)
	}
	return string(out), nil
}

// parameters sends the whole state and the execution id to the handler.
func (cfg Config) parameters(action string) object {
	return object{
		"FunctionName": cfg.FunctionArn,
		"Payload": object{
			"action":      action,
			"execution.$": "$$.Execution.Id",
			"state.$":     "$",
		},
	}
}

func (cfg Config) task(action, nextState string, catches []object) object {
	return cfg.withRetry(object{
		"Type":           "Task",
		"Resource":       "arn:aws:states:::lambda:invoke",
		"Parameters":     cfg.parameters(action),
		"OutputPath":     "$.Payload",
		"TimeoutSeconds": cfg.TaskTimeout,
		"Next":           nextState,
		"Catch":          catches,
	}, object{
		"ErrorEquals":     append(append([]string{}, lambdaTransient...), ErrTransient, "States.Timeout"),
		"IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2, "MaxDelaySeconds": 30,
	})
}

func (cfg Config) withRetry(state, retrier object) object {
	state["Retry"] = []object{retrier}
	return state
}

// rollBackOnError keeps the error next to the state so the handler can report
// why. A rollout that ended elsewhere has nothing left to roll back.
func rollBackOnError() []object {
	return []object{catch([]string{ErrEnded}, StateEnded), catch([]string{"States.ALL"}, StateRollBack)}
}

func catch(errorsEqual []string, nextState string) object {
	return object{"ErrorEquals": errorsEqual, "ResultPath": "$.error", "Next": nextState}
}

func next(value, nextState string) object {
	return object{"Variable": "$.rollout.next", "StringEquals": value, "Next": nextState}
}
