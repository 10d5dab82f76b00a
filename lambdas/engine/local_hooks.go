package engine

import (
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
