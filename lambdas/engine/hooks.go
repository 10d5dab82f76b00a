package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/hooks"
	"github.com/eks-canary/platform/lambdas/hooks/job"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/rollout"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
	"github.com/eks-canary/platform/lambdas/template"
)

// jobPoll is how often "Run hooks" looks at a hook's Job.
const jobPoll = int(contract.JobHookPoll / time.Second)

// HookRun is the hook point a rollout is at, carried in $.rollout.hook.
type HookRun struct {
	Point string `json:"point"`
	// Then is $.rollout.next once every hook of the point has passed.
	Then  string `json:"then"`
	Index int    `json:"index"` // the hook of the point being run
	// Step is the plan step a confirm_traffic gate is asked about: a gate
	// that held keeps HoldSince only while it is asked about the same step.
	Step      int       `json:"step"`
	HoldSince time.Time `json:"hold_since"` // a confirm gate's first failed check
	// WaitAfter is wait_seconds as the step before the hooks set it, given
	// back once they passed.
	WaitAfter int       `json:"wait_after"`
	StartedAt time.Time `json:"started_at"` // the current hook's Job was created
	Job       string    `json:"job,omitempty"`
	// A Lambda hook as "Invoke hook function" reads and writes it.
	Function string         `json:"function,omitempty"`
	Payload  *hooks.Payload `json:"payload,omitempty"`
	Result   *lambdaResult  `json:"result,omitempty"`
	Error    *CaughtError   `json:"error,omitempty"`
	Failed   []string       `json:"failed,omitempty"` // notify-only hooks that failed, for the notice
}

// lambdaResult is what "Invoke hook function" keeps of the integration's answer.
type lambdaResult struct {
	Payload json.RawMessage `json:"Payload"`
}

// toHooks sends the rollout to the hooks of point when it has any, and
// then on to next; without hooks it goes on to next at once.
func (e *Engine) toHooks(st *State, point, next string) {
	r := st.Rollout
	if len(st.HooksAt(point)) == 0 {
		r.Next = next
		return
	}
	run := &HookRun{Point: point, Then: next, WaitAfter: r.WaitSeconds, Step: r.NextStep}
	// A confirm gate asked again about the same step keeps holding.
	if prev := r.Hook; prev != nil && prev.Point == point && prev.Step == r.NextStep {
		run.HoldSince = prev.HoldSince
	}
	r.Hook, r.Next = run, statemachine.NextHooks
}

// throughConfirmGates routes an analysis decision to shift or promote
// through the confirm gates of that move.
func (e *Engine) throughConfirmGates(st *State) {
	r := st.Rollout
	switch r.Next {
	case statemachine.NextShift:
		e.toHooks(st, spec.HookConfirmTraffic, statemachine.NextShift)
	case statemachine.NextPromote:
		e.toHooks(st, spec.HookConfirmPromotion, statemachine.NextPromote)
	default:
		r.Hook = nil // a gate that held is asked afresh next time
	}
}

// runHooks is the "Run hooks" Task: it runs or judges the current hook of
// the point and decides what follows.
func (e *Engine) runHooks(ctx context.Context, sess *Session, st *State) error {
	r := st.Rollout
	run := r.Hook
	if run == nil {
		return fmt.Errorf("run hooks of %s: the state names no hook point", st.Microservice)
	}
	list := st.HooksAt(run.Point)
	if gatingHook(st) {
		if _, err := e.ours(ctx, sess, st); err != nil {
			return err
		}
	}
	if run.Index >= len(list) {
		return e.hooksDone(ctx, sess, st)
	}
	h := list[run.Index]
	var res hooks.Result
	switch h.Kind {
	case spec.HookHTTP:
		client := e.HookClient
		if client == nil {
			client = hooks.Client(e.HookAllowedCIDRs, nil)
		}
		res = hooks.Call(ctx, client, hooks.HTTP{URL: h.URL, Timeout: time.Duration(h.Timeout) * time.Second, Retries: *h.Retries}, e.payload(st, h))
	case spec.HookLambda:
		if run.Function == "" || (run.Result == nil && run.Error == nil) {
			p := e.payload(st, h)
			run.Function, run.Payload = h.Function, &p
			r.Next = statemachine.NextInvoke
			return nil
		}
		var errName, cause string
		var answer json.RawMessage
		if run.Error != nil {
			errName, cause = run.Error.Error, run.Error.Cause
		} else {
			answer = run.Result.Payload
		}
		res = hooks.JudgeLambda(answer, errName, cause)
		run.Function, run.Payload, run.Result, run.Error = "", nil, nil, nil
	case spec.HookJob:
		var done bool
		var err error
		if res, done, err = e.jobHook(ctx, sess, st, h); err != nil || !done {
			return err
		}
	default:
		return fmt.Errorf("hook %s: unknown kind %q", h.Name, h.Kind)
	}
	return e.judged(ctx, sess, st, h, res)
}

// judged records one hook's result and moves on: to the next hook of the
// point, or to what the failure means at this point.
func (e *Engine) judged(ctx context.Context, sess *Session, st *State, h spec.Hook, res hooks.Result) error {
	r, run := st.Rollout, st.Rollout.Hook
	now := e.now()
	r.recordHook(status.HookResult{Hook: h.Name, Point: h.Point, Kind: h.Kind, Passed: res.Passed, Output: res.Output, At: e.wallNow()})
	e.logger(st).Info("hook judged", "hook", h.Name, "point", h.Point, "kind", h.Kind, "passed", res.Passed, "output", res.Output)
	failure := fmt.Sprintf("%s hook %s (%s) failed: %s", h.Point, h.Name, h.Kind, res.Output)
	switch {
	case res.Passed:
	case spec.IsNotifyPoint(h.Point):
		run.Failed = append(run.Failed, failure)
	case h.Gate():
		if run.HoldSince.IsZero() {
			run.HoldSince = now
		}
		held := now.Sub(run.HoldSince)
		if held < time.Duration(h.Hold)*time.Second {
			// Held: analysed again after an interval, then asked again.
			run.Index = 0
			r.Next, r.WaitSeconds = statemachine.NextHold, st.Analysis.Interval
			r.scheduleChecks(now, st.Spec) // the pod and alarm checks go on while the gate holds
			r.Reason = fmt.Sprintf("held by %s (holding %s of hold %ds)", failure, held.Round(time.Second), h.Hold)
			return e.writeStatus(ctx, sess, st, statusPhase(st, rollout.NotHeld), "")
		}
		return e.hookFailed(ctx, sess, st, fmt.Sprintf("%s; still failing after hold %ds", failure, h.Hold))
	default:
		return e.hookFailed(ctx, sess, st, failure)
	}
	run.Index++
	if run.Index < len(st.HooksAt(run.Point)) {
		r.Next = statemachine.NextHooks
		return e.saveHooks(ctx, sess, st)
	}
	return e.hooksDone(ctx, sess, st)
}

// hookFailed rolls back. Before the canary exists (pre_rollout) there is
// nothing to roll back: the rollout ends RolledBack without touching the
// cluster beyond its status, and on_rollback hooks do not run.
func (e *Engine) hookFailed(ctx context.Context, sess *Session, st *State, reason string) error {
	r := st.Rollout
	if r.Hook.Point == spec.HookPreRollout {
		r.Hook, r.Reason = nil, reason+"; nothing was deployed"
		r.Next = statemachine.NextRolledBack
		return e.finish(ctx, sess, st.Spec, r, status.PhaseRolledBack, r.Reason, nil)
	}
	r.Next, r.Reason, r.WaitSeconds = statemachine.NextRollBack, reason, 0
	return e.writeStatus(ctx, sess, st, statusPhase(st, rollout.NotHeld), "")
}

// hooksDone ends the point: every gate passed, or every notify-only hook ran.
func (e *Engine) hooksDone(ctx context.Context, sess *Session, st *State) error {
	r, run := st.Rollout, st.Rollout.Hook
	r.Next, r.WaitSeconds = run.Then, run.WaitAfter
	if !spec.IsNotifyPoint(run.Point) {
		r.Hook = nil
		if strings.HasPrefix(r.Reason, "held by ") {
			r.Reason = ""
		}
		return e.writeStatus(ctx, sess, st, statusPhase(st, rollout.NotHeld), "")
	}
	if err := e.saveHooks(ctx, sess, st); err != nil {
		return err
	}
	if len(run.Failed) > 0 && e.Notifier != nil {
		outcome := status.PhaseSucceeded
		if run.Point == spec.HookOnRollback {
			outcome = status.PhaseRolledBack
		}
		n := Notice{Microservice: st.Microservice, Namespace: st.Namespace, Version: r.Version, StableVersion: r.StableVersion,
			Outcome: outcome, Execution: r.Execution, Hooks: r.Hooks, HookFailure: true,
			Reason: strings.Join(run.Failed, "; ") + "; the outcome stands (" + run.Point + " hooks only report)"}
		if err := e.Notifier.Notify(ctx, n); err != nil {
			e.logger(st).Error("notification failed", "error", err)
		}
	}
	r.Hook = &HookRun{Point: run.Point, Then: run.Then} // kept so that an error still ends where the rollout was going
	return nil
}

// saveHooks publishes the results: while the rollout runs, with its status;
// after it ended (notify-only points), into the final status, unless
// another rollout has started since.
func (e *Engine) saveHooks(ctx context.Context, sess *Session, st *State) error {
	if !spec.IsNotifyPoint(st.Rollout.Hook.Point) {
		return e.writeStatus(ctx, sess, st, statusPhase(st, rollout.NotHeld), "")
	}
	snap, found, err := sess.Status.Load(ctx, st.Microservice)
	if err != nil {
		return err
	}
	if !found || snap.Status.Execution != st.Rollout.Execution {
		return nil
	}
	cur := snap.Status
	cur.Hooks = st.Rollout.Hooks
	return sess.Status.Write(ctx, cur)
}

// payload is what a hook is told about the rollout.
func (e *Engine) payload(st *State, h spec.Hook) hooks.Payload {
	r := st.Rollout
	canary := naming.VersionName(st.Microservice, r.Version)
	if st.Strategy == spec.StrategyInPlace {
		canary = st.Microservice
	}
	phase := statusPhase(st, rollout.NotHeld)
	switch h.Point {
	case spec.HookPostRollout:
		phase = status.PhaseSucceeded
	case spec.HookOnRollback:
		phase = status.PhaseRolledBack
	}
	return hooks.Payload{
		Name: st.Microservice, Namespace: st.Namespace, Phase: phase, Checksum: hooks.Checksum(st.ContainerImage, r.Version), Metadata: h.Metadata,
		Microservice: st.Microservice, Hook: h.Name, Point: h.Point, Kind: h.Kind,
		CanaryVersion: r.Version, CanaryImage: st.ContainerImage, CanaryService: canary, StableVersion: r.StableVersion,
		Weight: r.Weight, NextWeight: r.NextWeight, Execution: r.Execution,
	}
}

// jobHook creates the hook's Job on the first call and judges it on the
// next ones, across "Wait for hook": no Lambda waits for a Job. A finished
// Job is removed.
func (e *Engine) jobHook(ctx context.Context, sess *Session, st *State, h spec.Hook) (hooks.Result, bool, error) {
	r, run := st.Rollout, st.Rollout.Hook
	tmpl, err := e.hookJob(st.Spec, r.Version, h.Job)
	if err != nil {
		return hooks.Result{}, false, err
	}
	obj := job.Prepare(tmpl, job.Name(h.Job, r.Version, h.Point), map[string]string{
		naming.LabelManagedBy: naming.ManagedByValue, naming.LabelMicroservice: st.Microservice,
		job.LabelHook: h.Name, job.LabelPoint: strings.ReplaceAll(h.Point, "_", "-"),
	}, h.Timeout)
	if run.Job == "" {
		if refusals, _, err := foreignObjects(ctx, sess, st.Microservice, objects{{obj: obj}}); err != nil {
			return hooks.Result{}, false, fmt.Errorf("hook %s: read Job %s: %w", h.Name, obj.GetName(), err)
		} else if len(refusals) > 0 {
			return hooks.Result{Output: hooks.Excerpt(refusals[0])}, true, nil
		}
		if err := applyErr(sess.Kube.Apply(ctx, obj)); err != nil {
			return hooks.Result{}, false, fmt.Errorf("hook %s: create Job %s: %w", h.Name, obj.GetName(), err)
		}
		run.Job, run.StartedAt = obj.GetName(), e.now()
		r.Next, r.WaitSeconds = statemachine.NextWait, jobPoll
		e.logger(st).Info("hook Job created", "hook", h.Name, "job", obj.GetName())
		return hooks.Result{}, false, e.saveHooks(ctx, sess, st)
	}
	live, err := sess.Kube.Get(ctx, obj)
	var v job.Verdict
	switch {
	case apierrors.IsNotFound(err):
		v = job.Verdict{Done: true, Output: fmt.Sprintf("Job %s was deleted before it finished", obj.GetName())}
	case err != nil:
		return hooks.Result{}, false, fmt.Errorf("hook %s: read Job %s: %w", h.Name, obj.GetName(), err)
	default:
		v = job.Judge(live)
	}
	if !v.Done && e.now().Sub(run.StartedAt) >= time.Duration(h.Timeout)*time.Second {
		v = job.Verdict{Done: true, Output: fmt.Sprintf("%s; it did not succeed within timeout %ds", v.Output, h.Timeout)}
	}
	if !v.Done {
		r.Next, r.WaitSeconds = statemachine.NextWait, jobPoll
		return hooks.Result{}, false, nil
	}
	if err := sess.Kube.Delete(ctx, obj); err != nil {
		return hooks.Result{}, false, fmt.Errorf("hook %s: remove Job %s: %w", h.Name, obj.GetName(), err)
	}
	run.Job, run.StartedAt = "", time.Time{}
	return hooks.Result{Passed: v.Passed, Output: hooks.Excerpt(v.Output)}, true, nil
}

// hookJobs are the template's Job documents of one version, by name.
func (e *Engine) hookJobs(s spec.Spec, version int) (map[string]*unstructured.Unstructured, error) {
	tmpl, err := s.Template()
	if err != nil {
		return nil, &Error{Name: statemachine.ErrValidation, Err: err}
	}
	open, err := e.renders.Open(tmpl, template.Values{Namespace: s.Namespace, Microservice: s.Microservice, Image: s.ContainerImage, Version: version, ServiceDomain: e.ServiceDomain})
	if err != nil {
		return nil, &Error{Name: statemachine.ErrValidation, Err: err}
	}
	out := map[string]*unstructured.Unstructured{}
	for _, o := range open.Objects {
		if job.IsJob(o.Obj) {
			out[o.Obj.GetName()] = o.Obj
		}
	}
	return out, nil
}

func (e *Engine) hookJob(s spec.Spec, version int, name string) (*unstructured.Unstructured, error) {
	jobs, err := e.hookJobs(s, version)
	if err != nil {
		return nil, err
	}
	j, ok := jobs[name]
	if !ok {
		return nil, fmt.Errorf("hook Job %s is not in kubernetes_template.yml", name)
	}
	return j, nil
}

// removeHookJobs deletes every hook Job of the microservice: one rollout
// runs at a time, so any still there belongs to the rollout being ended.
func removeHookJobs(ctx context.Context, sess *Session, s spec.Spec) error {
	if !slices.ContainsFunc(s.Hooks, func(h spec.Hook) bool { return h.Kind == spec.HookJob }) {
		return nil
	}
	selector := fmt.Sprintf("%s=%s,%s=%s,%s", naming.LabelManagedBy, naming.ManagedByValue, naming.LabelMicroservice, s.Microservice, job.LabelHook)
	if _, err := sess.Kube.DeleteByLabels(ctx, s.Namespace, selector, batchv1.SchemeGroupVersion.WithKind("Job")); err != nil {
		return fmt.Errorf("remove hook Jobs: %w", err)
	}
	return nil
}

// checkHooks refuses hooks the environment cannot run: a webhook at a
// private address the stack does not allow, a Lambda function it does not
// allow, a Job the template does not hold, or one that
// hookJobRules refuses.
func (e *Engine) checkHooks(s spec.Spec) error {
	if len(s.Hooks) == 0 {
		return nil
	}
	var problems []spec.FieldError
	jobs, err := e.hookJobs(s, 1)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(jobs))
	for n := range jobs {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, h := range s.Hooks {
		switch h.Kind {
		case spec.HookHTTP:
			if p, refused := spec.WebhookAddressProblem(fmt.Sprintf("hooks[%d].url", i), h.URL, e.HookAllowedCIDRs); refused {
				problems = append(problems, p)
			}
		case spec.HookLambda:
			if hooks.FunctionAllowed(h.Function, e.HookFunctions) {
				continue
			}
			allowed := "this environment allows no Lambda hooks"
			if len(e.HookFunctions) > 0 {
				allowed = "this environment allows " + strings.Join(e.HookFunctions, ", ")
			}
			problems = append(problems, spec.FieldError{Field: fmt.Sprintf("hooks[%d].function", i), Value: spec.QuoteValue(h.Function),
				Problem: "may not be invoked by rollouts: " + allowed,
				Allowed: fmt.Sprintf("add the function's ARN (or a prefix ending in '*') to the stack configuration key %s (`pulumi config set --path '%s[0]' <arn>`), which sets %s and the state machine's permission, then run pulumi up",
					contract.ConfigHookFunctions, contract.ConfigHookFunctions, contract.EnvHookFunctions)})
		case spec.HookJob:
			if _, ok := jobs[h.Job]; ok {
				continue
			}
			found := "it holds no Job"
			if len(names) > 0 {
				found = "its Jobs are " + strings.Join(names, ", ")
			}
			problems = append(problems, spec.FieldError{Field: fmt.Sprintf("hooks[%d].job", i), Value: spec.QuoteValue(h.Job),
				Problem: "is not a Job of kubernetes_template.yml (" + found + ")",
				Allowed: "add a document with apiVersion batch/v1, kind Job and metadata.name " + spec.QuoteValue(h.Job) + " to the template, or name one of its Jobs"})
		}
	}
	jobProblems, err := e.hookJobRules(s)
	if err != nil {
		return err
	}
	problems = append(problems, jobProblems...)
	if len(problems) > 0 {
		return &spec.ValidationError{Problems: problems}
	}
	return nil
}

// keepHookResults bounds the hook results carried in the state and status.
const keepHookResults = status.HookResultLimit

func (r *Rollout) recordHook(h status.HookResult) {
	r.Hooks = append([]status.HookResult{h}, r.Hooks...)
	if len(r.Hooks) > keepHookResults {
		r.Hooks = r.Hooks[:keepHookResults]
	}
}

// worstHooks are the largest hook results and hook run a rollout of s can
// carry, for ProjectedStateBytes.
func worstHooks(s spec.Spec) ([]status.HookResult, *HookRun) {
	results := make([]status.HookResult, keepHookResults)
	for i := range results {
		results[i] = status.HookResult{Hook: strings.Repeat("x", spec.MaxHookNameLength), Point: spec.HookConfirmPromotion, Kind: spec.HookLambda,
			Output: strings.Repeat("x", hooks.OutputLimit), At: time.Now()}
	}
	run := &HookRun{Point: spec.HookConfirmPromotion, Then: statemachine.NextPromote, Function: strings.Repeat("x", 256),
		Job: strings.Repeat("x", 63), HoldSince: time.Now(), StartedAt: time.Now(),
		Result: &lambdaResult{Payload: json.RawMessage(`"` + strings.Repeat("x", 8<<10) + `"`)},
		Failed: []string{strings.Repeat("x", 2*hooks.OutputLimit)}}
	metadata := map[string]string{}
	for _, h := range s.Hooks {
		if len(h.Metadata) > len(metadata) {
			metadata = h.Metadata
		}
	}
	run.Payload = &hooks.Payload{Metadata: metadata, Name: s.Microservice, CanaryImage: s.ContainerImage, Execution: strings.Repeat("x", 256)}
	return results, run
}
