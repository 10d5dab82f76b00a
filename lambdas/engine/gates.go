package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/hooks"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/rollout"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// verdictStatus is an analysis verdict as the rollout status keeps it.
func verdictStatus(v analysis.Verdict, at time.Time, weight int) status.Verdict {
	return status.Verdict{
		At:          at,
		Weight:      weight,
		Result:      v.Result,
		Requests:    v.Requests,
		Errors:      v.Errors,
		SuccessRate: v.SuccessRate,
		LatencyP99:  v.LatencyP99,
		PValue:      v.PValue,
		Reason:      v.Reason,
		Queries:     queryResults(v.Queries),
	}
}

// queryResults are the custom queries' answers as the status shows them;
// a query without an answer shows no value.
func queryResults(answers []analysis.QueryValue) []status.QueryResult {
	var out []status.QueryResult
	for _, a := range answers {
		r := status.QueryResult{Name: a.Name, Problem: a.Problem}
		if a.Found {
			value := a.Value
			r.Value = &value
		}
		out = append(out, r)
	}
	return out
}

// metricsFor is the metric source s.Analysis.Provider names. Validate
// refuses a source this engine lacks; an analysis asks again, as the state
// it runs from is input like deploy.json.
func (e *Engine) metricsFor(s spec.Spec) (analysis.Provider, error) {
	switch provider := s.WithDefaults().Analysis.Provider; provider {
	case contract.ProviderCloudWatch:
		return e.Metrics, nil
	case contract.ProviderPrometheus:
		if e.Prometheus != nil {
			return e.Prometheus, nil
		}
		return nil, &spec.ValidationError{Problems: []spec.FieldError{{Field: "analysis.provider", Value: spec.QuoteValue(provider),
			Problem: "cannot be used: this environment has no Prometheus query endpoint",
			Allowed: fmt.Sprintf("remove analysis.provider to read CloudWatch, or set the stack's %s true (a new Amazon Managed Service for Prometheus workspace) or its %s (an existing Prometheus server or workspace); canary-run: --prometheus URL",
				contract.ConfigPrometheusWorkspace, contract.ConfigPrometheusQueryURL)}}}
	default:
		return nil, &spec.ValidationError{Problems: []spec.FieldError{{Field: "analysis.provider", Value: spec.QuoteValue(provider),
			Problem: "is not a known metric source", Allowed: fmt.Sprintf("use %q or %q", contract.ProviderCloudWatch, contract.ProviderPrometheus)}}}
	}
}

// queryProber is a metric source that can ask deploy.json's queries of a
// version outside an analysis (Prometheus).
type queryProber interface {
	Probe(ctx context.Context, q analysis.Query) ([]analysis.QueryValue, error)
}

// probeQueries asks analysis.queries of the stable version once, as the
// rollout starts. The canary has no series yet; a query that finds none
// for a version serving traffic names a metric or label that is not
// there and would leave every analysis without data, which no_data then
// decides. Its answers are warnings in the status, neither a pass nor a
// refusal: a first deployment has nothing to ask.
func (e *Engine) probeQueries(ctx context.Context, st *State) {
	r := st.Rollout
	r.Warnings = nil
	if len(st.Analysis.Queries) == 0 || r.firstDeployment() {
		return
	}
	source, err := e.metricsFor(st.Spec)
	if err != nil {
		return // Validate has refused this deploy.json already
	}
	prober, ok := source.(queryProber)
	if !ok {
		return
	}
	now := e.now()
	stable := naming.VersionName(st.Microservice, r.StableVersion)
	// A slow endpoint delays the lock by this much at most: the answer
	// only warns.
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	values, err := prober.Probe(ctx, analysis.Query{
		Router: st.Router, ClusterName: st.ClusterName, Namespace: st.Namespace, Microservice: st.Microservice,
		Canary: stable, Start: e.shown(analysis.ConfigFromSpec(st.Spec).Window(now)), End: e.shown(now), Queries: st.Analysis.Queries,
	})
	r.Warnings = queryWarnings(stable, st.Analysis.Queries, values, err)
	for _, w := range r.Warnings {
		e.logger(st).Warn("analysis query", "warning", w)
	}
}

const probeTimeout = 10 * time.Second

// maxWarningBytes bounds one warning, which rides in the state: an
// endpoint's error may quote the whole query back. Warnings are cut as a
// hook's output is (hooks.Excerpt).
const maxWarningBytes = hooks.OutputLimit

// queryWarnings words what probing the queries of the stable version found,
// one warning of at most maxWarningBytes per query at the most.
func queryWarnings(stable string, queries []spec.Query, values []analysis.QueryValue, err error) []string {
	if err != nil {
		w := fmt.Sprintf("analysis.queries could not be checked against the stable version %s: %v", stable, err)
		return []string{hooks.Excerpt(w)}
	}
	var out []string
	for i, v := range values {
		if i >= len(queries) {
			break
		}
		var w string
		switch {
		case v.Problem != "":
			w = fmt.Sprintf("analysis.queries[%d] (%s), asked of the stable version %s: %s", i, queries[i].Name, stable, v.Problem)
		case !v.Found:
			w = fmt.Sprintf("analysis.queries[%d] (%s) found no series for the stable version %s: check its metric and label names; "+
				"an analysis without an answer counts as no data (analysis.no_data)", i, queries[i].Name, stable)
		default:
			continue
		}
		out = append(out, hooks.Excerpt(w))
	}
	return out
}

// metricsReady refuses, at Validate, a metric source that cannot be used
// or, for a source that can tell (Prometheus), does not answer: otherwise
// the first analysis would roll back a rollout that had already moved
// traffic.
func (e *Engine) metricsReady(ctx context.Context, s spec.Spec) error {
	source, err := e.metricsFor(s)
	if err != nil {
		return err
	}
	ready, ok := source.(interface{ Ready(context.Context) error })
	if !ok {
		return nil
	}
	if err := ready.Ready(ctx); err != nil {
		return &Error{Name: statemachine.ErrTransient, Err: fmt.Errorf("check analysis.provider %q of %s: %w; check the stack's %s or %s",
			s.WithDefaults().Analysis.Provider, s.Microservice, err, contract.ConfigPrometheusQueryURL, contract.ConfigPrometheusWorkspace)}
	}
	return nil
}

// alarmsExist refuses, at Validate, alarm names CloudWatch does not know:
// a mistyped name would otherwise leave the rollout ungated until its
// first check rolled it back.
func (e *Engine) alarmsExist(ctx context.Context, s spec.Spec) error {
	names := s.Analysis.Alarms
	if len(names) == 0 {
		return nil
	}
	if e.Alarms == nil {
		return &spec.ValidationError{Problems: []spec.FieldError{{Field: "analysis.alarms", Value: fmt.Sprintf("%d names", len(names)),
			Problem: "cannot be checked: this engine has no CloudWatch alarm source", Allowed: "remove analysis.alarms, or give the engine CloudWatch access (canary-run: -metrics cloudwatch)"}}}
	}
	states, err := e.Alarms.AlarmStates(ctx, names)
	if err != nil {
		return &Error{Name: statemachine.ErrTransient, Err: fmt.Errorf("check analysis.alarms of %s: %w", s.Microservice, err)}
	}
	v := analysis.JudgeAlarms(names, states)
	if len(v.Missing) == 0 {
		return nil
	}
	var problems []spec.FieldError
	for i, name := range names {
		for _, m := range v.Missing {
			if m == name {
				problems = append(problems, spec.FieldError{Field: fmt.Sprintf("analysis.alarms[%d]", i), Value: spec.QuoteValue(name),
					Problem: "is not a CloudWatch alarm in the cluster's account and region",
					Allowed: "create the alarm first, or correct the name (alarm names are case-sensitive)"})
			}
		}
	}
	return &spec.ValidationError{Problems: problems}
}

// alarmVerdict judges the named alarms; with none named it passes without
// a call.
func (e *Engine) alarmVerdict(ctx context.Context, st *State) (analysis.AlarmVerdict, error) {
	names := st.Analysis.Alarms
	if len(names) == 0 {
		return analysis.AlarmVerdict{Result: analysis.ResultPass}, nil
	}
	if e.Alarms == nil {
		return analysis.AlarmVerdict{}, fmt.Errorf("%s names analysis.alarms but this engine has no CloudWatch alarm source", st.Microservice)
	}
	states, err := e.Alarms.AlarmStates(ctx, names)
	if err != nil {
		return analysis.AlarmVerdict{}, fmt.Errorf("alarms of %s version %d at %d%%: %w", st.Microservice, st.Rollout.Version, st.Rollout.Weight, err)
	}
	return analysis.JudgeAlarms(names, states), nil
}

// gateFailed rolls back at once on a gate that needs no metrics (the
// canary's pods, its alarms), before metrics are read: verdict names what
// failed, cause is the reason the rollout ends with, and logArgs the
// details for the log.
func (e *Engine) gateFailed(ctx context.Context, sess *Session, st *State, cause string, verdict status.Verdict, logArgs ...any) error {
	r := st.Rollout
	verdict.At, verdict.Weight, verdict.Result = e.wallNow(), r.Weight, analysis.ResultFail
	r.record(verdict)
	r.Next, r.Reason, r.WaitSeconds = statemachine.NextRollBack, fmt.Sprintf("%s version %d failed at %d%%: %s", st.Microservice, r.Version, r.Weight, cause), 0
	e.logger(st).Warn(verdict.Reason+" failed", append(logArgs, "reason", cause)...)
	return e.writeStatus(ctx, sess, st, statusPhase(st, rollout.NotHeld), "")
}

// statusPhase is the phase the status shows for st's rollout in progress
// (rollout.Phase); held is what the analysis just taken holds for, and
// rollout.NotHeld in every other step.
func statusPhase(st *State, held rollout.Held) string {
	r := st.Rollout
	return rollout.Phase(rollout.PhaseInput{
		Weight:        r.Weight,
		BeforeTraffic: r.Hook != nil && (r.Hook.Point == spec.HookPreRollout || r.Hook.Point == spec.HookPreTraffic),
		Held:          held,
	})
}

// check is the light Task between analyses: it reads only the canary's
// pods and its alarms, rolls back at once on a failure, and otherwise
// waits again or hands over to the analysis once it is due. It writes
// nothing when all is well, except the status the shift before it left
// behind.
func (e *Engine) check(ctx context.Context, sess *Session, st *State) error {
	snap, health, err := e.ownedHealth(ctx, sess, st, e.ours)
	if err != nil {
		return err
	}
	r := st.Rollout
	r.Checks++
	if _, stopped, err := e.quickGates(ctx, sess, st, health); stopped || err != nil {
		return err
	}
	if err := e.catchUpStatus(ctx, sess, st, snap); err != nil {
		return err
	}
	d := rollout.NextCheck(rollout.CheckInput{
		Now: e.now(), AnalyseAt: r.AnalyseAt, Every: podCheckInterval(st.Spec), Checks: r.Checks,
		Abort: snap.Control.Request == status.RequestAbort,
	})
	r.Next, r.CheckSeconds = statemachine.NextCheck, d.WaitSeconds
	if d.Analyse {
		r.Next, r.CheckSeconds = statemachine.NextAnalyse, 0
	}
	return nil
}

// catchUpStatus writes the status a fenced shift left behind (shift), as
// of the shift, guarded by the status check read: a status that changed
// since (an operator request, a roll back) is left for the next check or
// the analysis to write.
func (e *Engine) catchUpStatus(ctx context.Context, sess *Session, st *State, snap status.Snapshot) error {
	r := st.Rollout
	if !r.StatusBehind {
		return nil
	}
	out := e.statusOf(st, statusPhase(st, rollout.NotHeld), "")
	out.UpdatedAt = e.shown(r.StepStartedAt)
	written, err := sess.Status.WriteIfUnchanged(ctx, snap, out)
	if err != nil {
		return fmt.Errorf("check %s: %w", st.Microservice, err)
	}
	r.StatusBehind = !written
	return nil
}

// scheduleChecks sets when the next analysis is due, WaitSeconds from
// now, and the wait before the first check on the way there.
func (r *Rollout) scheduleChecks(now time.Time, s spec.Spec) {
	wait := time.Duration(r.WaitSeconds) * time.Second
	r.AnalyseAt = now.Add(wait)
	r.CheckSeconds = rollout.CheckWait(wait, podCheckInterval(s), r.Checks)
}

func podCheckInterval(s spec.Spec) time.Duration {
	return time.Duration(s.WithDefaults().Analysis.PodCheckInterval) * time.Second
}

// quickGates judges what needs no metrics, the canary's own pods (health,
// from ownedHealth) and its named alarms. stopped reports that one failed
// and the roll back has been recorded (err is then that step's result, nil
// included).
func (e *Engine) quickGates(ctx context.Context, sess *Session, st *State, health rollout.PodResult) (alarms analysis.AlarmVerdict, stopped bool, err error) {
	if !health.Healthy {
		return alarms, true, e.gateFailed(ctx, sess, st, health.Reason, status.Verdict{Pods: health.Reason, Reason: "pod health"},
			"pod", health.Pod, "container", health.Container, "cause", health.Cause)
	}
	if alarms, err = e.alarmVerdict(ctx, st); err != nil {
		return alarms, false, err
	}
	if alarms.Result == analysis.ResultFail {
		return alarms, true, e.gateFailed(ctx, sess, st, alarms.Reason, status.Verdict{Pods: health.Reason, Alarms: alarms.Reason, Reason: "alarm gate"},
			"alarms", alarms.Alarms, "missing", alarms.Missing)
	}
	return alarms, false, nil
}

// ownedHealth is read (ours or oursCached) and canaryPodHealth at once:
// neither read depends on the other, so a step waits for the slower only.
// The status decides first: an ended rollout is refused whatever its pods
// say.
func (e *Engine) ownedHealth(ctx context.Context, sess *Session, st *State, read func(context.Context, *Session, *State) (status.Snapshot, error)) (status.Snapshot, rollout.PodResult, error) {
	type judged struct {
		health rollout.PodResult
		err    error
	}
	pods := make(chan judged, 1)
	go func() {
		_, health, err := e.canaryPodHealth(ctx, sess, st)
		pods <- judged{health, err}
	}()
	snap, err := read(ctx, sess, st)
	got := <-pods
	if err != nil {
		return snap, got.health, err
	}
	return snap, got.health, got.err
}
