package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/lock"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/rollout"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// readyPoll is how often "Wait until ready" looks at the canary's pods.
const readyPoll = int(contract.ReadinessPoll / time.Second)

// validate parses deploy.json strictly and renders its template once, so a
// bad field or template fails before anything is written.
func (e *Engine) validate(ctx context.Context, execution string, raw json.RawMessage) (State, error) {
	// Keys the state machine adds are not part of deploy.json.
	s, err := spec.ParseInput(raw, "rollout", "error")
	if err != nil {
		return State{}, e.withTemplateProblems(s, err)
	}
	if e.PipelineExecutions {
		if err := pipelineExecution(s.Microservice, execution); err != nil {
			return State{}, &Error{Name: statemachine.ErrValidation, Err: err}
		}
	}
	rt, err := e.router(s.Router)
	if err != nil {
		return State{}, err
	}
	limits, err := e.limits(s, rt)
	if err != nil {
		return State{}, err
	}
	if err := s.ValidateWithin(limits); err != nil {
		return State{}, err
	}
	if err := e.admit(s); err != nil {
		return State{}, err
	}
	if err := e.checkHooks(s); err != nil {
		return State{}, err
	}
	// Version 1 with a placeholder route proves the template renders; the
	// real values come after the lock.
	objs, err := e.render(s, 1, nil, nil)
	if err != nil {
		return State{}, err
	}
	if err := checkShape(s, objs); err != nil {
		return State{}, &Error{Name: statemachine.ErrValidation, Err: err}
	}
	if err := e.checkPreview(s, objs); err != nil {
		return State{}, err
	}
	if err := e.checkAB(s); err != nil {
		return State{}, err
	}
	if err := e.metricsReady(ctx, s); err != nil {
		return State{}, err
	}
	if err := e.alarmsExist(ctx, s); err != nil {
		return State{}, err
	}
	if execution == "" {
		return State{}, &Error{Name: statemachine.ErrValidation, Err: errors.New("the execution id is empty: the state machine passes $$.Execution.Id")}
	}
	st := State{Spec: s, Rollout: &Rollout{Versions: Versions{Execution: execution, StartedAt: e.wallNow()}, Progress: Progress{Step: -1}}}
	e.logger(&st).Info("deploy.json is valid", "image", s.ContainerImage, "router", s.Router, "strategy", s.Strategy)
	return st, nil
}

// lock takes the microservice's lock and picks the canary's version number.
func (e *Engine) lock(ctx context.Context, sess *Session, st *State) error {
	r := st.Rollout
	if err := sess.Locks.Acquire(ctx, st.Microservice, r.Execution); err != nil {
		var held *lock.HeldError
		if errors.As(err, &held) && held.Recovery != "" {
			return &Error{Name: statemachine.ErrRefused, Err: fmt.Errorf("lock %s: %w", st.Microservice, err)}
		}
		return fmt.Errorf("lock %s: %w", st.Microservice, err)
	}
	snap, found, err := sess.Status.Load(ctx, st.Microservice)
	var untrusted *status.UntrustedError
	if errors.As(err, &untrusted) {
		if rel := sess.Locks.Release(ctx, st.Microservice, r.Execution); rel != nil {
			return errors.Join(err, rel)
		}
		return &Error{Name: statemachine.ErrRefused, Err: fmt.Errorf("%s: no rollout starts: %w", st.Microservice, err)}
	}
	if err != nil {
		return err
	}
	if prev := snap.Status; found && prev.Execution != r.Execution {
		switch {
		case prev.Phase == status.PhaseFailed:
			// The lease was deleted by hand; the status still says the
			// last roll back did not complete.
			if err := sess.Locks.Release(ctx, st.Microservice, r.Execution); err != nil {
				return err
			}
			return &Error{Name: statemachine.ErrRefused, Err: fmt.Errorf(
				"%s: the roll back of version %d (execution %s) failed and was never recovered (%s): no rollout starts on top of it: fix the cause, then run `canaryctl -n %s recover %s`",
				st.Microservice, prev.CanaryVersion, prev.Execution, prev.Reason, st.Namespace, st.Microservice)}
		case !status.Terminal(prev.Phase):
			if err := e.rollBackAbandoned(ctx, sess, st, prev); err != nil {
				return err
			}
			if snap, found, err = sess.Status.Load(ctx, st.Microservice); err != nil {
				return err
			}
		}
	}
	prev := snap.Status
	switch {
	case found && prev.Execution == r.Execution:
		// A retry of this step: keep the numbers already chosen.
		r.Version, r.StableVersion, r.StableImage = prev.CanaryVersion, prev.StableVersion, prev.StableImage
		r.StableTemplate = prev.StableTemplate
	case found:
		r.StableVersion, r.StableImage, r.StableTemplate = prev.StableVersion, prev.StableImage, prev.StableTemplate
		r.Version = max(prev.LastVersion, prev.StableVersion, prev.CanaryVersion) + 1
	default:
		// No status: a first deployment, unless a route already carries
		// traffic because the status ConfigMap was deleted. Starting over
		// at version 1 would send the new image all traffic unanalysed.
		rt, err := e.router(st.Router)
		if err != nil {
			return err
		}
		live, err := rt.Weights(ctx, sess.Kube.Dynamic, st.Namespace, st.Microservice)
		if err != nil {
			return fmt.Errorf("lock %s: read the live route: %w", st.Microservice, err)
		}
		if len(live) > 0 {
			if err := sess.Locks.Release(ctx, st.Microservice, r.Execution); err != nil {
				return err
			}
			return &Error{Name: statemachine.ErrRefused, Err: fmt.Errorf(
				"%s has no rollout status (ConfigMap %s) but its route sends traffic to %s: restore the ConfigMap from a backup, or delete the route and the old versions to start over from version 1",
				st.Microservice, naming.StatusConfigMap(st.Microservice), router.FormatBackends(live))}
		}
		r.Version = 1
	}
	r.Plan = rollout.Plan(st.Spec, !r.firstDeployment())
	e.probeQueries(ctx, st)
	e.toHooks(st, spec.HookPreRollout, statemachine.NextDeploy)
	if err := e.writeStatus(ctx, sess, st, status.PhaseWaitingPods, ""); err != nil {
		return err
	}
	e.logger(st).Info("lock taken", "plan", r.Plan)
	return nil
}

// deploy creates the canary's objects with no traffic: the route keeps every
// request on the stable version until the canary is ready.
func (e *Engine) deploy(ctx context.Context, sess *Session, st *State) error {
	if _, err := e.ours(ctx, sess, st); err != nil {
		return err
	}
	r := st.Rollout
	// In place, the template's objects are named after the microservice and
	// replaced as they are; a canary's route keeps all traffic on stable.
	var backends []router.Backend
	switch {
	case st.Strategy == spec.StrategyInPlace:
		backends = []router.Backend{{Name: st.Microservice, Weight: 100}}
	case !r.firstDeployment():
		backends = backendsAt(st, 0)
	}
	objs, err := e.render(st.Spec, r.Version, backends, nil)
	if err != nil {
		return e.endIfInvalid(ctx, sess, st, err)
	}
	if err := scaleForWeight(st, objs, r.Plan[0]); err != nil {
		return e.endIfInvalid(ctx, sess, st, err)
	}
	var write objects
	for _, o := range objs.workloadsFirst() {
		if o.route && backends == nil {
			continue // a first deployment gets its route when traffic moves
		}
		write = append(write, o)
	}
	if write, err = e.withPreview(st, write); err != nil {
		return e.endIfInvalid(ctx, sess, st, err)
	}
	check := write
	if backends == nil {
		// The route a first deployment gets at its first shift is checked now.
		first, err := e.render(st.Spec, r.Version, backendsAt(st, 100), nil)
		if err != nil {
			return e.endIfInvalid(ctx, sess, st, err)
		}
		for _, o := range first {
			if o.route {
				check = append(check, o)
			}
		}
	}
	ab, err := e.abRoutes(st)
	if err != nil {
		return e.endIfInvalid(ctx, sess, st, err)
	}
	if err := e.dryRun(ctx, sess, st, append(check, ab...)); err != nil {
		return err
	}
	for _, o := range write {
		live, err := sess.Kube.Apply(ctx, o.obj)
		if err != nil {
			return fmt.Errorf("deploy %s version %d: apply %s %s: %w", st.Microservice, r.Version, o.obj.GetKind(), o.obj.GetName(), err)
		}
		if o.route {
			routeWrite{versions: r.routeVersions()}.wrote(o.obj, live)
		}
	}
	if r.DeployedAt.IsZero() { // a retry keeps the progress deadline where it was
		r.DeployedAt = e.now()
	}
	r.WaitSeconds = readyPoll
	e.logger(st).Info("canary deployed at 0%", "objects", len(objs))
	return e.writeStatus(ctx, sess, st, status.PhaseWaitingPods, "")
}

// dryRun sends every object with dryRun=All before anything is written, so
// a schema violation, an unknown field, a quota or an admission policy
// refuses the version while the cluster is untouched; so does an object that
// already exists and belongs to another microservice or to the platform. A
// refusal ends the rollout as invalid input: the status and history record
// it and the lock is released. Transient errors are returned for the state
// machine to retry.
func (e *Engine) dryRun(ctx context.Context, sess *Session, st *State, objs objects) error {
	refusals, live, err := foreignObjects(ctx, sess, st.Microservice, objs)
	if err != nil {
		return fmt.Errorf("deploy %s version %d: %w", st.Microservice, st.Rollout.Version, err)
	}
	if len(refusals) > 0 {
		return e.invalid(ctx, sess, st, fmt.Sprintf("version %d would change objects that are not its microservice's; nothing was written:\n  - %s",
			st.Rollout.Version, strings.Join(refusals, "\n  - ")))
	}
	for i, o := range objs {
		if o.route && live[i] != nil {
			refusal, err := e.routeUpdateRefusal(st, live[i], o)
			if err != nil {
				return fmt.Errorf("deploy %s version %d: %w", st.Microservice, st.Rollout.Version, err)
			}
			if refusal != "" {
				refusals = append(refusals, refusal)
				continue
			}
		}
		_, err := sess.Kube.DryRunApply(ctx, o.obj)
		if err == nil {
			continue
		}
		if kube.IsTransient(err) {
			return fmt.Errorf("deploy %s version %d: %w", st.Microservice, st.Rollout.Version, err)
		}
		refusals = append(refusals, err.Error())
	}
	if len(refusals) == 0 {
		return nil
	}
	return e.invalid(ctx, sess, st, fmt.Sprintf("the API server refused version %d in a dry run; nothing was written:\n  - %s",
		st.Rollout.Version, strings.Join(refusals, "\n  - ")))
}

// routeUpdateRefusal asks the router whether the live route may become o
// (VPC Lattice cannot rename a service's custom domain).
func (e *Engine) routeUpdateRefusal(st *State, live *unstructured.Unstructured, o object) (string, error) {
	rt, err := e.router(st.Router)
	if err != nil {
		return "", err
	}
	checker, ok := rt.(router.RouteChecker)
	if !ok {
		return "", nil
	}
	if err := checker.CheckRouteUpdate(live, o.obj); err != nil {
		return err.Error(), nil
	}
	return "", nil
}

// endIfInvalid ends the rollout as invalid input when the version cannot be
// rendered, before anything is written; other errors are returned as they are.
func (e *Engine) endIfInvalid(ctx context.Context, sess *Session, st *State, err error) error {
	if ErrorName(err) != statemachine.ErrValidation {
		return err
	}
	return e.invalid(ctx, sess, st, fmt.Sprintf("version %d cannot be rendered; nothing was written: %v", st.Rollout.Version, err))
}

// invalid records the refusal in the status and history, releases the lock
// and fails the step with ErrValidation, which the definition sends to
// "Invalid deploy.json" without a roll back.
func (e *Engine) invalid(ctx context.Context, sess *Session, st *State, reason string) error {
	if err := e.finish(ctx, sess, st.Spec, st.Rollout, status.PhaseInvalid, reason, nil); err != nil {
		return fmt.Errorf("%s: %s; recording the refusal failed: %w", st.Microservice, reason, err)
	}
	return &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("%s: %s", st.Microservice, reason)}
}

// rollBackAbandoned rolls back a rollout whose execution stopped renewing
// its lock (its lock was just taken over) before the new one starts, so the
// new canary is never deployed next to an abandoned one with traffic on it.
// A roll back that cannot complete refuses the new rollout and frees the
// lock again; the next attempt tries once more.
func (e *Engine) rollBackAbandoned(ctx context.Context, sess *Session, st *State, prev status.Status) error {
	abandoned := st.Spec
	if prev.Router != "" {
		abandoned.Router = prev.Router
	}
	if prev.Strategy != "" {
		abandoned.Strategy = prev.Strategy
	}
	if prev.CanaryImage != "" {
		abandoned.ContainerImage = prev.CanaryImage
	}
	r := st.Rollout
	reason := fmt.Sprintf("abandoned at %d%% (phase %s, last update %s): its lock was not renewed and execution %s took it over",
		prev.Weight, prev.Phase, prev.UpdatedAt.UTC().Format(time.RFC3339), r.Execution)
	e.logger(st).Warn("rolling back an abandoned rollout before starting", "abandoned_execution", prev.Execution, "abandoned_version", prev.CanaryVersion)
	if err := e.RollBack(ctx, abandoned, prev.Execution, reason); err != nil {
		if kube.IsTransient(err) {
			return fmt.Errorf("roll back the abandoned rollout of %s version %d: %w", st.Microservice, prev.CanaryVersion, err)
		}
		if rel := sess.Locks.Release(ctx, st.Microservice, r.Execution); rel != nil {
			return errors.Join(err, rel)
		}
		return &Error{Name: statemachine.ErrRefused, Err: fmt.Errorf(
			"%s: version %d of execution %s was abandoned with a stale lock and could not be rolled back (%w); nothing of this rollout was written: fix the cause and start the rollout again",
			st.Microservice, prev.CanaryVersion, prev.Execution, err)}
	}
	r.TookOver = &status.TakeOver{Execution: prev.Execution, Version: prev.CanaryVersion, At: e.wallNow()}
	return nil
}

// ready reports whether the canary's workload is ready; a canary that fails
// or outlives progress_deadline is an error, which rolls back.
func (e *Engine) ready(ctx context.Context, sess *Session, st *State) error {
	r := st.Rollout
	objs, err := e.render(st.Spec, r.Version, nil, nil)
	if err != nil {
		return err
	}
	pods, health, err := e.podHealth(ctx, sess, st, objs, rollout.PodsStarting)
	if err != nil {
		return err
	}
	if !health.Healthy {
		return &Error{Name: statemachine.ErrNotReady, Err: fmt.Errorf("%s version %d will not become ready: %s", st.Microservice, r.Version, health.Reason)}
	}
	r.Ready = true
	for _, o := range objs {
		if !o.workload() {
			continue
		}
		got, err := sess.Kube.Readiness(ctx, o.obj)
		if err != nil {
			return fmt.Errorf("readiness of %s %s: %w", o.obj.GetKind(), o.obj.GetName(), err)
		}
		if got.Failed {
			return &Error{Name: statemachine.ErrNotReady, Err: fmt.Errorf("%s version %d will not become ready: %s", st.Microservice, r.Version, got.Reason)}
		}
		if !got.Ready {
			r.Ready = false
			r.Reason = got.Reason
		}
	}
	deadline := time.Duration(st.ProgressDeadline) * time.Second
	if waited := e.now().Sub(r.DeployedAt); !r.Ready && waited >= deadline {
		return &Error{Name: statemachine.ErrNotReady, Err: fmt.Errorf("%s version %d is not ready after %s (progress_deadline %s): %s",
			st.Microservice, r.Version, waited.Round(time.Second), deadline, r.Reason)}
	}
	r.WaitSeconds = readyPoll
	if r.Ready {
		rt, err := e.router(st.Router)
		if err != nil {
			return err
		}
		first := rollout.Decision{Action: rollout.Shift, NextStep: 0, NextWeight: r.Plan[0]}
		in := rollout.Input{Policy: rollout.PolicyFromSpec(st.Spec), Plan: r.Plan, Step: -1}
		r.Reason = ""
		r.PodRestarts = rollout.Baseline(pods)
		r.NextStep, r.NextWeight = first.NextStep, first.NextWeight
		r.WaitSeconds = rollout.WaitSeconds(in, first, rt.SettleTime())
		e.toHooks(st, spec.HookPreTraffic, statemachine.NextShift)
	}
	return nil
}

// shift moves traffic to the weight the last decision chose.
func (e *Engine) shift(ctx context.Context, sess *Session, st *State) error {
	snap, health, err := e.ownedHealth(ctx, sess, st, e.oursCached)
	if err != nil {
		return err
	}
	r := st.Rollout
	if r.NextStep < 0 || r.NextStep >= len(r.Plan) {
		return fmt.Errorf("shift %s: step %d is outside the plan %v", st.Microservice, r.NextStep, r.Plan)
	}
	weight := r.Plan[r.NextStep]
	if !health.Healthy {
		return &Error{Name: statemachine.ErrNotReady, Err: fmt.Errorf("%s version %d failed at %d%%, before the shift to %d%%: %s",
			st.Microservice, r.Version, r.Weight, weight, health.Reason)}
	}
	if alarms, err := e.alarmVerdict(ctx, st); err != nil {
		return err
	} else if alarms.Result == analysis.ResultFail {
		return &Error{Name: statemachine.ErrNotReady, Err: fmt.Errorf("%s version %d failed at %d%%, before the shift to %d%%: %s",
			st.Microservice, r.Version, r.Weight, weight, alarms.Reason)}
	}
	if err := e.checkScaled(ctx, sess, st, weight); err != nil {
		return err
	}
	fenced, created := false, false
	switch {
	case st.BlueGreen():
		if err := e.applyPreviewedRoute(ctx, sess, st, backendsAt(st, weight)); err != nil {
			return fmt.Errorf("shift %s to %d%%: %w", st.Microservice, weight, err)
		}
	case st.Strategy == spec.StrategyCanary:
		w := routeWrite{execution: r.Execution, headers: abHeaders(st, r.NextStep), versions: r.routeVersions(), created: &created}
		if err := e.applyRoute(ctx, sess, st.Spec, r.Version, backendsAt(st, weight), w); err != nil {
			return fmt.Errorf("shift %s to %d%%: %w", st.Microservice, weight, err)
		}
		fenced = !created
	}
	now := e.now()
	r.Step, r.Weight, r.StepStartedAt = r.NextStep, weight, now
	if weight >= 100 && r.BakeStartedAt.IsZero() {
		r.BakeStartedAt = now
	}
	r.scheduleChecks(now, st.Spec)
	e.logger(st).Info("traffic shifted", "weight", weight, "wait_seconds", r.WaitSeconds)
	e.emitMetrics(st, nil)
	if fenced {
		// Every route object was written at a resourceVersion this
		// execution had seen unmarked, so a roll back that began meanwhile
		// refused the write: the route write is the step's commit, and the
		// status follows at the next check.
		r.StatusBehind = true
		return nil
	}
	return e.commit(ctx, sess, st, snap, statusPhase(st, rollout.NotHeld))
}

// analyse judges the canary, reads the operator's requests and decides what
// comes next.
func (e *Engine) analyse(ctx context.Context, sess *Session, st *State) error {
	r := st.Rollout
	snap, health, err := e.ownedHealth(ctx, sess, st, e.ours)
	if err != nil {
		return err
	}
	now := e.now()
	alarms, stopped, err := e.quickGates(ctx, sess, st, health)
	if stopped || err != nil {
		return err
	}
	cfg := analysis.ConfigFromSpec(st.Spec)
	q := analysis.Query{
		Router: st.Router, ClusterName: st.ClusterName, Namespace: st.Namespace, Microservice: st.Microservice,
		Canary: naming.VersionName(st.Microservice, r.Version), Start: e.shown(cfg.Window(now)), End: e.shown(now),
		Queries: st.Analysis.Queries,
	}
	if deployed := e.shown(r.DeployedAt); q.Start.Before(deployed) {
		q.Start = deployed // the canary had no traffic before it existed
	}
	if !r.firstDeployment() && st.Strategy == spec.StrategyCanary {
		q.Baseline = naming.VersionName(st.Microservice, r.StableVersion)
	}
	source, err := e.metricsFor(st.Spec)
	if err != nil {
		return err
	}
	m, err := source.Fetch(ctx, q)
	if err != nil {
		return fmt.Errorf("analyse %s version %d at %d%%: %w", st.Microservice, r.Version, r.Weight, err)
	}
	rt, err := e.router(st.Router)
	if err != nil {
		return err
	}
	verdict := analysis.Evaluate(cfg, m)
	in := rollout.Input{
		Policy:              rollout.PolicyFromSpec(st.Spec),
		Plan:                r.Plan,
		Step:                r.Step,
		Verdict:             verdict,
		ConsecutiveFailures: r.ConsecutiveFailures,
		StepElapsed:         now.Sub(r.StepStartedAt),
		BakeElapsed:         bakeElapsed(r, now),
		Control: rollout.Control{
			Paused:  snap.Control.Paused,
			Promote: snap.Control.Request == status.RequestPromote,
			Abort:   snap.Control.Request == status.RequestAbort,
		},
		NoDataSince:     r.NoDataSince,
		Now:             now,
		FirstDeployment: r.firstDeployment(),
	}
	d := rollout.Decide(in)
	if err := e.scaleBeforeShift(ctx, sess, st, &d, now); err != nil {
		return err
	}
	judged := verdictStatus(verdict, e.shown(now), r.Weight)
	judged.Pods = health.Reason
	if len(st.Analysis.Alarms) > 0 {
		judged.Alarms = alarms.Reason
	}
	r.record(judged)
	r.ConsecutiveFailures, r.NoDataSince = d.ConsecutiveFailures, d.NoDataSince
	r.NextWeight, r.NextStep, r.Reason = d.NextWeight, d.NextStep, d.Reason
	r.Next = nextState(d.Action)
	r.WaitSeconds = rollout.WaitSeconds(in, d, rt.SettleTime())
	if !r.ScalingSince.IsZero() {
		r.WaitSeconds = readyPoll // the weight has not changed: poll as "Wait until ready" does
	}
	r.scheduleChecks(now, st.Spec)
	e.throughConfirmGates(st)
	e.logger(st).Info("analysed", "verdict", verdict.Result, "requests", verdict.Requests, "errors", verdict.Errors,
		"next", r.Next, "reason", d.Reason)
	e.emitMetrics(st, &verdict)
	if err := e.writeStatus(ctx, sess, st, statusPhase(st, d.Held), ""); err != nil {
		return err
	}
	r.StatusBehind = false
	if d.RequestHandled {
		// Last, so a failed status write retries with the request still
		// pending; only the request acted on is removed, one that replaced
		// it in the meantime stays for the next step.
		if _, err := sess.Status.Acknowledge(ctx, st.Microservice, snap.Control.Request); err != nil {
			return err
		}
	}
	return nil
}

// canaryPodHealth judges the canary's pods once it is ready.
func (e *Engine) canaryPodHealth(ctx context.Context, sess *Session, st *State) ([]rollout.PodObservation, rollout.PodResult, error) {
	objs, err := e.render(st.Spec, st.Rollout.Version, nil, nil)
	if err != nil {
		return nil, rollout.PodResult{}, err
	}
	stage := rollout.PodsServing
	if !st.Rollout.ScalingSince.IsZero() {
		stage = rollout.PodsStarting // the pods a scale-up adds are still starting
	}
	return e.podHealth(ctx, sess, st, objs, stage)
}

// podHealth reads the pods of the canary's workloads and judges them.
func (e *Engine) podHealth(ctx context.Context, sess *Session, st *State, objs objects, stage rollout.PodStage) ([]rollout.PodObservation, rollout.PodResult, error) {
	var pods []rollout.PodObservation
	for _, o := range objs {
		if !o.workload() {
			continue
		}
		got, err := sess.Kube.PodsOf(ctx, o.obj)
		if err != nil {
			return nil, rollout.PodResult{}, fmt.Errorf("pod health of %s version %d: %w", st.Microservice, st.Rollout.Version, err)
		}
		pods = append(pods, got...)
	}
	r := st.Rollout
	return pods, rollout.PodVerdict(rollout.PodInput{
		Policy: rollout.PodPolicyFromSpec(st.Spec), Stage: stage, Pods: e.onSchedule(pods),
		Baseline: r.PodRestarts, Traffic: r.Weight, Now: e.now(),
	}), nil
}

// onSchedule puts the times the cluster reports on the decisions' clock.
func (e *Engine) onSchedule(pods []rollout.PodObservation) []rollout.PodObservation {
	if e.Speedup == nil {
		return pods
	}
	out := slices.Clone(pods)
	for i := range out {
		out[i].ReadyChanged = e.Speedup.scheduled(out[i].ReadyChanged)
	}
	return out
}

func bakeElapsed(r *Rollout, now time.Time) time.Duration {
	if r.BakeStartedAt.IsZero() {
		return 0
	}
	return now.Sub(r.BakeStartedAt)
}

func nextState(a rollout.Action) string {
	switch a {
	case rollout.Shift:
		return statemachine.NextShift
	case rollout.Bake:
		return statemachine.NextBake
	case rollout.Promote:
		return statemachine.NextPromote
	case rollout.RollBack:
		return statemachine.NextRollBack
	case rollout.Hold:
		return statemachine.NextHold
	case rollout.KeepOld:
		return statemachine.NextBake
	default:
		return statemachine.NextAnalyse
	}
}

// open connects for a step and, if it asks, renews the rollout's lock.
func (e *Engine) open(ctx context.Context, st *State, renew bool) (*Session, error) {
	sess, err := e.Connector.Connect(ctx, st.ClusterName, st.Namespace)
	if err != nil || !renew {
		return sess, err
	}
	if err := sess.Locks.Renew(ctx, st.Microservice, st.Rollout.Execution); err != nil {
		var held HeldError
		if errors.As(err, &held) {
			return nil, &Error{Name: statemachine.ErrEnded, Err: fmt.Errorf("%s: this rollout lost its lock: %w", st.Microservice, err)}
		}
		return nil, fmt.Errorf("renew lock of %s: %w", st.Microservice, err)
	}
	return sess, nil
}

// ours reads the status and refuses to go on with a rollout that has been
// rolled back from outside (an aborted execution whose last step was still
// running when the rollback entry point ran).
func (e *Engine) ours(ctx context.Context, sess *Session, st *State) (status.Snapshot, error) {
	snap, found, err := sess.Status.Load(ctx, st.Microservice)
	return ownedSnapshot(snap, found, err, st)
}

// oursCached is ours read from the API server's watch cache, for a shift:
// what it writes is fenced by the route's resourceVersion, not by the
// status, so a status a few milliseconds old moves no traffic a fresh one
// would not. The operator's requests are read fresh, by the analysis.
func (e *Engine) oursCached(ctx context.Context, sess *Session, st *State) (status.Snapshot, error) {
	snap, found, err := sess.Status.LoadNotOlderThan(ctx, st.Microservice, st.Rollout.StatusVersion)
	return ownedSnapshot(snap, found, err, st)
}

func ownedSnapshot(snap status.Snapshot, found bool, err error, st *State) (status.Snapshot, error) {
	if err != nil {
		return status.Snapshot{}, err
	}
	if found && st.Rollout != nil {
		st.Rollout.StatusVersion = snap.ResourceVersion
	}
	return snap, owned(snap, found, st)
}

func owned(snap status.Snapshot, found bool, st *State) error {
	if !found || snap.Status.Execution != st.Rollout.Execution || status.Terminal(snap.Status.Phase) {
		return &Error{Name: statemachine.ErrEnded, Err: fmt.Errorf("%s: the rollout of execution %s has ended (%s); not touching traffic",
			st.Microservice, st.Rollout.Execution, snap.Status.Phase)}
	}
	return nil
}

// commit writes the status after traffic moved, guarded by the status read
// before moving it. If a roll back from outside finished in between, the
// route just written is put back the way the roll back left it.
func (e *Engine) commit(ctx context.Context, sess *Session, st *State, snap status.Snapshot, phase string) error {
	ok, err := sess.Status.WriteIfUnchanged(ctx, snap, e.statusOf(st, phase, ""))
	if err != nil || ok {
		return err
	}
	// Something wrote in between: usually an operator request.
	current, err := e.ours(ctx, sess, st)
	if err == nil {
		return e.writeStatus(ctx, sess, st, phase, "")
	}
	if current.Status.Phase == status.PhaseRolledBack {
		if undo := e.restoreAfterRollBack(ctx, sess, st.Spec, current.Status); undo != nil {
			return fmt.Errorf("%w; restoring the route failed: %w", err, undo)
		}
	}
	return err
}

// restoreAfterRollBack re-applies what a roll back leaves: the stable
// version alone in the route, or no route on a first deployment.
func (e *Engine) restoreAfterRollBack(ctx context.Context, sess *Session, s spec.Spec, rolledBack status.Status) error {
	if !s.Versioned() {
		return nil
	}
	if rolledBack.StableVersion == 0 {
		objs, err := e.render(s, rolledBack.CanaryVersion, nil, nil)
		if err != nil {
			return err
		}
		return deleteObjects(ctx, sess, s.Microservice, objs.routes())
	}
	if err := e.endPreview(ctx, sess, s); err != nil {
		return err
	}
	if rolledBack.StableTemplate != "" {
		s.ConfigFile = rolledBack.StableTemplate
		readBack := s
		readBack.ContainerImage = rolledBack.StableImage
		if err := e.checkReadBack(readBack, fmt.Sprintf("the template of stable version %d", rolledBack.StableVersion)); err != nil {
			return err
		}
	}
	stable := naming.VersionName(s.Microservice, rolledBack.StableVersion)
	return e.applyRoute(ctx, sess, s, rolledBack.StableVersion, []router.Backend{{Name: stable, Weight: 100}}, routeWrite{execution: rolledBack.Execution, rollingBack: true})
}

// checkShape refuses templates the strategy cannot roll out safely: a canary
// whose workload is not named after its version would replace the stable
// one at 0%, and one without a shared route could never move traffic; an
// in-place template with versioned objects would leave old ones behind.
func checkShape(s spec.Spec, objs objects) error {
	var problems []string
	routes, workloads, versioned := 0, 0, 0
	for _, o := range objs {
		ref := o.obj.GetKind() + "/" + o.obj.GetName()
		switch {
		case o.route:
			routes++
			if o.perVersion {
				problems = append(problems, ref+": the route must be shared by all versions: do not use ${CANARY_VERSION} in its name")
			}
		case o.workload():
			workloads++
			if s.Versioned() && !o.perVersion {
				problems = append(problems, ref+": a canary's workload must be named after its version, e.g. ${MICROSERVICE_NAME}-${CANARY_VERSION}")
			}
		}
		if o.perVersion {
			versioned++
		}
	}
	if workloads == 0 {
		problems = append(problems, "no Deployment or StatefulSet: the template must hold the microservice's workload")
	}
	switch s.Strategy {
	case spec.StrategyCanary, spec.StrategyBlueGreen:
		if routes == 0 {
			problems = append(problems, fmt.Sprintf("no %s route object with [${CANARY_ROUTES}]: a canary needs one to carry the weights", s.Router))
		}
	case spec.StrategyInPlace:
		if versioned > 0 {
			problems = append(problems, "strategy in-place: objects are replaced in place, so no name may contain ${CANARY_VERSION}")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("kubernetes_template.yml cannot be rolled out with strategy %s:\n  - %s", s.Strategy, strings.Join(problems, "\n  - "))
	}
	return nil
}
