package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// Outcome is how a local rollout ended.
type Outcome struct {
	Phase  string // status.PhaseSucceeded, PhaseRolledBack or PhaseFailed
	Reason string
	State  State
}

// Local sequences the handlers in-process, exactly as the state machine
// does (the same states, retries and roll back on any error), for trying the
// engine against any cluster without Step Functions.
type Local struct {
	Engine *Engine
	// Sleep waits between steps; a demo can make it shorter than the
	// engine's clock says.
	Sleep func(ctx context.Context, d time.Duration) error
	// Attempts and Backoff mirror the definition's Retry on transient errors.
	Attempts int
	Backoff  time.Duration
}

// Run executes one rollout of deploy.json. Cancelling ctx (Ctrl-C) rolls the
// rollout back, as stopping an execution does through the rollback entry point.
func (l *Local) Run(ctx context.Context, deployJSON []byte, execution string) (Outcome, error) {
	st, err := l.Engine.validate(execution, deployJSON)
	if err != nil {
		return Outcome{}, err
	}
	if err := localHooks(st.Spec); err != nil {
		return Outcome{}, err
	}
	if err := l.step(ctx, statemachine.ActionLock, &st); err != nil {
		// As the definition's Catch: these wrote nothing to roll back.
		if name := ErrorName(err); name == statemachine.ErrInProgress || name == statemachine.ErrRefused {
			return Outcome{}, err
		}
		return l.rollBack(st, err)
	}
	if next, err := l.hooks(ctx, &st); err != nil {
		return l.rollBack(st, err)
	} else if next == statemachine.NextRolledBack {
		return Outcome{Phase: status.PhaseRolledBack, Reason: st.Rollout.Reason, State: st}, nil
	}
	if err := l.step(ctx, statemachine.ActionDeploy, &st); err != nil {
		// As the definition's Catch: refused by the API server's dry run,
		// nothing was written and the refusal is recorded.
		if ErrorName(err) == statemachine.ErrValidation {
			return Outcome{}, err
		}
		return l.rollBack(st, err)
	}
	for {
		if err := l.step(ctx, statemachine.ActionReady, &st); err != nil {
			return l.rollBack(st, err)
		}
		if st.Rollout.Ready {
			break
		}
		if err := l.wait(ctx, st); err != nil {
			return l.rollBack(st, err)
		}
	}
	next, err := l.hooks(ctx, &st)
	if err != nil {
		return l.rollBack(st, err)
	}
	for {
		switch next {
		case statemachine.NextShift:
			if err := l.step(ctx, statemachine.ActionShift, &st); err != nil {
				return l.rollBack(st, err)
			}
		case statemachine.NextPromote:
			if err := l.step(ctx, statemachine.ActionPromote, &st); err != nil {
				return l.rollBack(st, err)
			}
			l.notifyHooks(ctx, &st)
			return Outcome{Phase: "Succeeded", Reason: st.Rollout.Reason, State: st}, nil
		case statemachine.NextRollBack:
			return l.rollBack(st, nil)
		}
		if err := l.wait(ctx, st); err != nil {
			return l.rollBack(st, err)
		}
		if err := l.step(ctx, statemachine.ActionAnalyse, &st); err != nil {
			return l.rollBack(st, err)
		}
		if next, err = l.hooks(ctx, &st); err != nil {
			return l.rollBack(st, err)
		}
	}
}

func (l *Local) wait(ctx context.Context, st State) error {
	return l.Sleep(ctx, time.Duration(st.Rollout.WaitSeconds)*time.Second)
}

// step runs one handler, retrying transient errors with backoff.
func (l *Local) step(ctx context.Context, action string, st *State) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	delay := l.Backoff
	for attempt := 0; ; attempt++ {
		out, err := l.Engine.Handle(ctx, Event{Action: action, Execution: st.Rollout.Execution, State: raw})
		if err == nil {
			var next State
			if err := json.Unmarshal(out, &next); err != nil {
				return err
			}
			*st = next
			return nil
		}
		if ErrorName(err) != statemachine.ErrTransient || attempt+1 >= l.Attempts || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		l.Engine.log().Warn("retrying after a transient error", "action", action, "attempt", attempt+1, "error", err)
		if err := l.Sleep(ctx, delay); err != nil {
			return err
		}
		delay *= 2
	}
}

// rollBack runs even when ctx was cancelled: the cluster must not be left
// with mixed weights because the operator pressed Ctrl-C.
func (l *Local) rollBack(st State, cause error) (Outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	reason := ""
	if st.Rollout != nil {
		reason = st.Rollout.Reason
	}
	if cause != nil {
		reason = cause.Error()
		st.Error = &CaughtError{Error: ErrorName(cause), Cause: cause.Error()}
	}
	if err := l.step(ctx, statemachine.ActionRollBack, &st); err != nil {
		st.Error = &CaughtError{Error: ErrorName(err), Cause: err.Error()}
		if rec := l.step(ctx, statemachine.ActionRollBackFailed, &st); rec != nil {
			err = errors.Join(err, fmt.Errorf("record the failure: %w", rec))
		}
		return Outcome{Phase: status.PhaseFailed, State: st}, fmt.Errorf("roll back failed (traffic may be split; fix the cause, then run `%s`): %w",
			RecoverCommand(st.Namespace, st.Microservice), err)
	}
	l.notifyHooks(ctx, &st)
	return Outcome{Phase: "RolledBack", Reason: reason, State: st}, nil
}
