package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eks-canary/platform/lambdas/spec"
)

// ExecutionEnded is the part of an EventBridge "Step Functions Execution
// Status Change" event the rollback entry point needs.
type ExecutionEnded struct {
	ExecutionArn string `json:"executionArn"`
	Status       string `json:"status"` // ABORTED, TIMED_OUT or FAILED
	Input        string `json:"input"`  // the execution input: deploy.json
}

// RollBackEnded rolls back the rollout of an execution that ended without
// running "Roll back" itself: stopped by hand, timed out, or failed while
// rolling back. A rollout that already finished is left alone, so the rule
// may also deliver executions that ended cleanly.
func (e *Engine) RollBackEnded(ctx context.Context, ev ExecutionEnded) error {
	if ev.ExecutionArn == "" {
		return errors.New("execution status event without executionArn")
	}
	// Decoded leniently: rules tightened since the execution started must
	// not keep a live canary from being rolled back. What the roll back
	// needs is checked; an input without it never deployed anything.
	var s spec.Spec
	if err := json.Unmarshal([]byte(ev.Input), &s); err != nil {
		e.log().Warn("execution input is not deploy.json; nothing was deployed", "execution", ev.ExecutionArn, "error", err)
		return nil
	}
	s = s.WithDefaults()
	if s.Microservice == "" || s.Namespace == "" || s.ConfigFile == "" || e.Routers[s.Router] == nil {
		e.log().Info("execution input names no rollout; nothing was deployed", "execution", ev.ExecutionArn)
		return nil
	}
	reason := fmt.Sprintf("the execution ended with status %s", ev.Status)
	delay := rollBackBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = e.RollBack(ctx, s, ev.ExecutionArn, reason); err == nil {
			return nil
		}
		if attempt == rollBackAttempts || ctx.Err() != nil {
			break
		}
		e.log().Warn("roll back failed; retrying", "execution", ev.ExecutionArn, "attempt", attempt, "error", err)
		if err := e.sleep(ctx, delay); err != nil {
			break
		}
		delay *= 2
	}
	err = fmt.Errorf("roll back %s after execution %s %s: %d attempts failed: %w", s.Microservice, ev.ExecutionArn, ev.Status, rollBackAttempts, err)
	// Recorded with a fresh context: the invocation's may be what ran out.
	record, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rec := e.RecordRollBackFailure(record, s, ev.ExecutionArn, err.Error()); rec != nil {
		return errors.Join(err, fmt.Errorf("record the failure: %w", rec))
	}
	// Returned, so the event is delivered again: a later attempt that
	// succeeds finishes the roll back and frees the lock.
	return err
}

// The rollback entry point's own retries, within one invocation, before it
// records the roll back as Failed (the Lambda allows 300 s).
const (
	rollBackAttempts = 5
	rollBackBackoff  = 2 * time.Second
)

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	return sleepFor(ctx, d)
}
