// Package engine runs a canary rollout one step at a time. Each state of the
// Step Functions definition (lambdas/statemachine) calls one handler here
// with the execution's state and gets the new state back; the local runner
// calls the same handlers in a loop. Handlers only carry out decisions taken
// by plain functions (lambdas/rollout, lambdas/analysis) and are idempotent,
// so any of them can be repeated after a crash or a retry.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/rollout"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
	"github.com/eks-canary/platform/lambdas/template"
)

// Locker allows one rollout per microservice at a time.
type Locker interface {
	// Acquire takes the lock for holder; taking it again as the same holder
	// succeeds. A lock held by another holder returns an error that
	// errors.As finds as HeldError.
	Acquire(ctx context.Context, microservice, holder string) error
	Renew(ctx context.Context, microservice, holder string) error
	// Release frees the lock if holder has it; otherwise it does nothing.
	Release(ctx context.Context, microservice, holder string) error
	// Hold keeps the lock for holder until released, however long: its
	// roll back failed. Others' Acquire then fails naming the recovery.
	Hold(ctx context.Context, microservice, holder, reason string) error
}

// HeldError is implemented by the lock's error when another rollout holds it.
type HeldError interface {
	error
	Holder() string
}

// Session is everything the engine touches in one cluster namespace.
type Session struct {
	Kube   *kube.Client
	Locks  Locker
	Status *status.Engine
}

// Connector opens a session for a deploy.json's cluster and namespace.
type Connector interface {
	Connect(ctx context.Context, clusterName, namespace string) (*Session, error)
}

// Notice is sent when a rollout ends.
type Notice struct {
	Microservice, Namespace string
	Version, StableVersion  int
	Outcome                 string // status.PhaseSucceeded, PhaseRolledBack, PhaseFailed or PhaseInvalid
	Reason                  string
	Execution               string
	Hooks                   []status.HookResult // the latest hook results, newest first
	// HookFailure: a notify-only hook failed after the rollout ended;
	// Outcome is unchanged.
	HookFailure bool
}

// Notifier tells people that a rollout ended.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Engine holds the edges the handlers use.
type Engine struct {
	Connector Connector
	Routers   map[string]router.Router
	Metrics   analysis.Provider
	// Prometheus answers deploy.json's analysis.provider "prometheus": the
	// stack's query endpoint (contract.EnvPrometheusURL in the Lambda); nil
	// refuses such a deploy.json at Validate.
	Prometheus analysis.Provider
	// Alarms reads the CloudWatch alarms deploy.json names in
	// analysis.alarms; nil refuses such a deploy.json at Validate.
	Alarms   analysis.Alarms
	Notifier Notifier
	Log      *slog.Logger
	// Now is the wall clock; tests replace it.
	Now func() time.Time
	// Speedup, when set, runs the schedule faster than Now (demos).
	Speedup *Speedup
	// ServiceDomain fills templates' ${SERVICE_DOMAIN}: the stack's private
	// DNS domain (contract.EnvServiceDomain in the Lambda).
	ServiceDomain string
	// Policy is what templates may use beyond the engine's defaults
	// (contract.EnvAllowedServiceAccounts, contract.EnvAllowedServiceTypes);
	// the zero value is the strictest.
	Policy template.Policy
	// Sleep waits between the rollback entry point's attempts; nil sleeps
	// for real.
	Sleep func(ctx context.Context, d time.Duration) error
	// HookFunctions are the Lambda functions hooks may invoke
	// (contract.EnvHookFunctions): ARNs, or prefixes ending in '*'.
	HookFunctions []string
	// HookAllowedCIDRs are the private networks HTTP hooks may reach
	// (contract.EnvHookAllowedCIDRs): Validate refuses a literal address
	// outside them, and the default client refuses to connect there.
	HookAllowedCIDRs []netip.Prefix
	// HookClient calls HTTP hooks; nil uses hooks.Client with
	// HookAllowedCIDRs.
	HookClient *http.Client
	// PipelineExecutions refuses an execution that the microservice's own
	// pipeline did not start (its name is "<microservice>-<action execution
	// id>"). The Lambda sets it; the local runner, run with an operator's
	// own credentials, has no pipeline to check against.
	PipelineExecutions bool
	// RolloutTimeout is the state machine's TimeoutSeconds, the stack's
	// rolloutTimeoutSeconds (contract.EnvRolloutTimeout in the Lambda):
	// Validate refuses a plan that cannot finish within it. Zero means
	// contract.DefaultRolloutTimeout.
	RolloutTimeout time.Duration

	renders template.Cache
}

// Handle runs one Task: it decodes the state, calls the action's handler and
// encodes the new state.
func (e *Engine) Handle(ctx context.Context, ev Event) (json.RawMessage, error) {
	if ev.Action == statemachine.ActionValidate {
		st, err := e.validate(ctx, ev.Execution, ev.State)
		if err != nil {
			return nil, err
		}
		return json.Marshal(st)
	}
	var st State
	if err := json.Unmarshal(ev.State, &st); err != nil {
		return nil, &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("decode execution state: %w", err)}
	}
	st.Spec = st.Spec.WithDefaults()
	if st.Rollout == nil && ev.Action != statemachine.ActionRollBack && ev.Action != statemachine.ActionRollBackFailed {
		return nil, fmt.Errorf("%s: the execution state has no rollout; Validate must run first", ev.Action)
	}
	var err error
	// The roll back Tasks connect themselves: they run for executions that
	// may hold no rollout, and must not take or renew its lock.
	switch ev.Action {
	case statemachine.ActionRollBack:
		if err = e.rollBackState(ctx, ev.Execution, &st); err == nil && st.Rollout != nil {
			st.Rollout.Weight = 0
			e.toHooks(&st, spec.HookOnRollback, statemachine.NextRolledBack)
		}
	case statemachine.ActionRollBackFailed:
		err = e.rollBackFailedState(ctx, ev.Execution, &st)
	default:
		s, ok := steps[ev.Action]
		if !ok {
			return nil, fmt.Errorf("unknown action %q: want one of validate, lock, deploy, ready, shift, check, analyse, promote, rollback, rollbackfailed, hooks", ev.Action)
		}
		var sess *Session
		if sess, err = e.open(ctx, &st, s.renew != nil && s.renew(&st)); err == nil {
			err = s.run(e, ctx, sess, &st)
		}
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

// step is one Task of a rollout's definition. Handle connects for it and
// renews the lock if it asks, so the handler holds only its decision and
// its writes.
type step struct {
	// renew: the looping steps (readiness, analysis, a hook that gates the
	// rollout) renew the lock before they run, so a long wait or pause never
	// lets the lease lapse and a rollout whose lock was taken over stops
	// there. The steps that follow them at once rely on the status guard
	// (ours), which a new holder's first write would fail.
	renew func(*State) bool
	run   func(e *Engine, ctx context.Context, sess *Session, st *State) error
}

var steps = map[string]step{
	statemachine.ActionLock:    {run: (*Engine).lock},
	statemachine.ActionDeploy:  {run: (*Engine).deploy},
	statemachine.ActionReady:   {renew: always, run: (*Engine).ready},
	statemachine.ActionShift:   {run: (*Engine).shift},
	statemachine.ActionAnalyse: {renew: always, run: (*Engine).analyse},
	statemachine.ActionCheck:   {run: (*Engine).check},
	statemachine.ActionPromote: {run: func(e *Engine, ctx context.Context, sess *Session, st *State) error {
		if err := e.promote(ctx, sess, st); err != nil {
			return err
		}
		e.toHooks(st, spec.HookPostRollout, statemachine.NextSucceeded)
		return nil
	}},
	// Hooks that only notify run after the rollout ended and its lock is gone.
	statemachine.ActionHooks: {renew: gatingHook, run: (*Engine).runHooks},
}

func always(*State) bool { return true }

func gatingHook(st *State) bool {
	return st.Rollout.Hook != nil && !spec.IsNotifyPoint(st.Rollout.Hook.Point)
}

// limits are what one execution allows the plan of s, routed by rt.
func (e *Engine) limits(s spec.Spec, rt router.Router) (spec.Limits, error) {
	costs, err := statemachine.Costs()
	if err != nil {
		return spec.Limits{}, err
	}
	timeout := e.RolloutTimeout
	if timeout <= 0 {
		timeout = contract.DefaultRolloutTimeout
	}
	return spec.Limits{Timeout: timeout, Settle: rt.SettleTime(), Costs: costs, Plan: rollout.Plan(s, true)}, nil
}

func (e *Engine) log() *slog.Logger {
	if e.Log == nil {
		return slog.Default()
	}
	return e.Log
}

func (e *Engine) logger(st *State) *slog.Logger {
	l := e.log().With("microservice", st.Microservice, "namespace", st.Namespace)
	if r := st.Rollout; r != nil {
		l = l.With("version", r.Version, "stable_version", r.StableVersion, "step", r.Step, "weight", r.Weight, "execution", r.Execution)
	}
	return l
}

func (e *Engine) router(name string) (router.Router, error) {
	r, ok := e.Routers[name]
	if !ok {
		return nil, &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("router %q is not configured in this engine", name)}
	}
	return r, nil
}

// Error carries the error name Step Functions matches in Retry and Catch.
type Error struct {
	Name string
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ErrorName gives the error type Step Functions sees for err.
func ErrorName(err error) string {
	var named *Error
	if errors.As(err, &named) {
		return named.Name
	}
	var invalid *spec.ValidationError
	if errors.As(err, &invalid) {
		return statemachine.ErrValidation
	}
	var held HeldError
	if errors.As(err, &held) {
		return statemachine.ErrInProgress
	}
	if kube.IsTransient(err) {
		return statemachine.ErrTransient
	}
	return "EngineError"
}
