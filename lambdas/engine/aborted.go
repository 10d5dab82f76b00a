package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	if err := e.RollBack(ctx, s, ev.ExecutionArn, fmt.Sprintf("the execution ended with status %s", ev.Status)); err != nil {
		return fmt.Errorf("roll back %s after execution %s %s: %w", s.Microservice, ev.ExecutionArn, ev.Status, err)
	}
	return nil
}
