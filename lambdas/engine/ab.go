package engine

import (
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/rollout"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/status"
)

// abHeaders are the header conditions the route carries at plan step:
// those of deploy.json's ab during the A/B stage, none at any other step.
func abHeaders(st *State, step int) []spec.HeaderMatch {
	if !st.HasAB() || st.Strategy == spec.StrategyInPlace || !rollout.ABStage(st.Rollout.Plan, step) {
		return nil
	}
	return st.AB.Headers
}

// checkAB renders the route with the A/B rule, so a route its router
// cannot add one to (a TCP route, too many header conditions with the
// template's own) is refused at Validate, before anything is written.
func (e *Engine) checkAB(s spec.Spec) error {
	if !s.HasAB() || s.Strategy == spec.StrategyInPlace {
		return nil
	}
	_, err := e.render(s, 1, nil, s.AB.Headers)
	return err
}

// abRoutes are the route objects as the A/B stage will write them, for the
// dry run before anything is written; none without an A/B stage.
func (e *Engine) abRoutes(st *State) (objects, error) {
	headers := abHeaders(st, 0)
	if len(headers) == 0 || st.Rollout.firstDeployment() {
		return nil, nil
	}
	objs, err := e.render(st.Spec, st.Rollout.Version, backendsAt(st, 0), headers)
	if err != nil {
		return nil, err
	}
	return objs.routes(), nil
}

// stage names the A/B stage while the route carries it, for the status:
// "ab: x-canary=always → shop-2".
func stage(st *State, phase string) string {
	r := st.Rollout
	if status.Terminal(phase) || len(abHeaders(st, r.Step)) == 0 {
		return ""
	}
	return st.AB.Describe(naming.VersionName(st.Microservice, r.Version))
}
