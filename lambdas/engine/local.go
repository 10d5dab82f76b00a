package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/statemachine/interp"
	"github.com/eks-canary/platform/lambdas/status"
)

// Outcome is how a local rollout ended.
type Outcome struct {
	Phase  string // status.PhaseSucceeded, PhaseRolledBack or PhaseFailed
	Reason string
	State  State
	// Execution is the run of the definition: its terminal state and
	// history. Its Status is ABORTED or TIMED_OUT when the run was stopped.
	Execution interp.Result
}

// Local runs the generated state machine definition in-process, for trying
// the engine against any cluster without Step Functions. The definition's
// own states, Retry, Catch and Choice rules sequence the handlers, so a local
// run takes the same path an execution would.
type Local struct {
	Engine *Engine
	// Sleep runs the definition's Waits and Retry intervals; a demo can make
	// it shorter than the engine's clock says. Nil sleeps for real.
	Sleep func(ctx context.Context, d time.Duration) error
	// Timeout is the execution's TimeoutSeconds; its expiry rolls back
	// through the rollback entry point. Zero means two hours.
	Timeout time.Duration
	// Invoke runs a Task's payload, "Invoke hook function" included; nil
	// calls the engine in-process and refuses Lambda hooks.
	Invoke interp.Invoke
}

// localFunction stands for the engine Lambda: the runner calls it in-process.
const localFunction = "local"

// Run executes one rollout of deploy.json. Cancelling ctx (Ctrl-C) rolls the
// rollout back through the rollback entry point, as stopping an execution does.
func (l *Local) Run(ctx context.Context, deployJSON []byte, execution string) (Outcome, error) {
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = contract.DefaultRolloutTimeout
	}
	def, err := statemachine.Definition(statemachine.Config{FunctionArn: localFunction, TimeoutSeconds: int(timeout / time.Second)})
	if err != nil {
		return Outcome{}, err
	}
	m, err := interp.Parse(def)
	if err != nil {
		return Outcome{}, fmt.Errorf("run the state machine locally: %w", err)
	}
	var last State // the state after the last Task that succeeded
	call := l.Invoke
	if call == nil {
		// Bad input is left to the definition's Validate to report.
		if s, err := spec.Parse(deployJSON); err == nil {
			if err := localHooks(s); err != nil {
				return Outcome{}, err
			}
		}
		call = l.handle
	}
	invoke := func(ctx context.Context, name string, payload json.RawMessage) (json.RawMessage, error) {
		out, err := call(ctx, name, payload)
		if err != nil {
			l.Engine.log().Warn("step failed", "state", name, "error", err)
			return nil, err
		}
		if err := json.Unmarshal(out, &last); err != nil {
			return nil, fmt.Errorf("decode the result of %q: %w", name, err)
		}
		return out, nil
	}
	sleep := l.Sleep
	if sleep == nil {
		sleep = l.Engine.sleep
	}
	res, err := m.Run(ctx, deployJSON, interp.Options{Execution: execution, Invoke: invoke, ErrorName: ErrorName, Sleep: sleep})
	if err != nil {
		if ended := ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded); ended {
			return l.stopped(ctx, deployJSON, execution, last, res)
		}
		return Outcome{State: last, Execution: res}, err
	}
	var st State
	if err := json.Unmarshal(res.Output, &st); err != nil {
		return Outcome{}, fmt.Errorf("decode the final state: %w", err)
	}
	out := Outcome{State: st, Execution: res}
	if st.Rollout != nil {
		out.Reason = st.Rollout.Reason
	}
	switch res.State {
	case statemachine.StateSucceeded:
		out.Phase = status.PhaseSucceeded
		return out, nil
	case statemachine.StateRolledBack:
		out.Phase = status.PhaseRolledBack
		if out.Reason == "" && st.Error != nil {
			out.Reason = st.Error.Cause
		}
		return out, nil
	case statemachine.StateRollBackFailed:
		out.Phase = status.PhaseFailed
		return out, fmt.Errorf("roll back failed (traffic may be split; fix the cause, then run `%s`): %w",
			RecoverCommand(st.Namespace, st.Microservice), res.Caught)
	}
	// Invalid input, a lock held elsewhere, a refusal or a rollout ended
	// elsewhere: the error the definition caught says why.
	if res.Caught != nil {
		return out, fmt.Errorf("%s: %w", res.State, res.Caught)
	}
	return out, fmt.Errorf("%s: %s: %s", res.State, res.Error, res.Cause)
}

// stopped rolls back an execution that ended without running "Roll back",
// with a fresh context: the cluster must not be left with mixed weights
// because the operator pressed Ctrl-C.
func (l *Local) stopped(ctx context.Context, deployJSON []byte, execution string, last State, res interp.Result) (Outcome, error) {
	how := "ABORTED"
	if ctx.Err() == nil {
		how = "TIMED_OUT"
	}
	res.Status = how
	rb, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	out := Outcome{State: last, Execution: res, Reason: fmt.Sprintf("the execution ended with status %s", how)}
	if err := l.Engine.RollBackEnded(rb, ExecutionEnded{ExecutionArn: execution, Status: how, Input: string(deployJSON)}); err != nil {
		out.Phase = status.PhaseFailed
		return out, fmt.Errorf("roll back failed (traffic may be split; fix the cause, then run `%s`): %w",
			RecoverCommand(last.Namespace, last.Microservice), err)
	}
	out.Phase = status.PhaseRolledBack
	return out, nil
}

// handle calls the engine's handler for one Task payload.
func (l *Local) handle(ctx context.Context, _ string, payload json.RawMessage) (json.RawMessage, error) {
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("decode the task payload: %w", err)
	}
	return l.Engine.Handle(ctx, ev)
}
