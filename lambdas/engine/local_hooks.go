package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
)

// localHooks refuses hooks the local runner cannot run: Lambda hooks are
// invoked by the state machine's own Task, which has no local equivalent.
func localHooks(s spec.Spec) error {
	var names []string
	for _, h := range s.Hooks {
		if h.Kind == spec.HookLambda {
			names = append(names, h.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf(
		"the local runner cannot invoke Lambda hooks (%s): the state machine invokes them; start the rollout through Step Functions, or use kind \"http\" or \"job\" hooks for local runs; nothing was changed",
		strings.Join(names, ", "))}
}

// hooks runs the hook loop as the definition does ("Run hooks", "Wait for
// hook") when the last step sent the rollout to hooks, and returns what
// comes next.
func (l *Local) hooks(ctx context.Context, st *State) (string, error) {
	for st.Rollout.Next == statemachine.NextHooks || st.Rollout.Next == statemachine.NextWait {
		if st.Rollout.Next == statemachine.NextWait {
			if err := l.wait(ctx, *st); err != nil {
				return "", err
			}
		}
		if err := l.step(ctx, statemachine.ActionHooks, st); err != nil {
			return "", err
		}
	}
	if st.Rollout.Next == statemachine.NextInvoke {
		return "", localHooks(st.Spec)
	}
	return st.Rollout.Next, nil
}

// notifyHooks runs post_rollout or on_rollback hooks: their failure is
// logged and never changes the outcome.
func (l *Local) notifyHooks(ctx context.Context, st *State) {
	if st.Rollout == nil {
		return
	}
	if _, err := l.hooks(ctx, st); err != nil {
		l.Engine.logger(st).Error("notify-only hooks did not complete; the outcome stands", "error", err)
	}
}
