package engine

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/rollout"
	"github.com/eks-canary/platform/lambdas/statemachine"
)

// canaryWorkload is the version's own Deployment or StatefulSet in objs,
// the one whose replicas follow the weight under canary_scale
// "proportional"; nil when the template has none named after the version.
func canaryWorkload(objs objects) *unstructured.Unstructured {
	for _, o := range objs {
		if o.workload() && o.perVersion {
			return o.obj
		}
	}
	return nil
}

// templateReplicas is the workload's spec.replicas as the template writes
// it; Kubernetes' default, 1, when it writes none.
func templateReplicas(obj *unstructured.Unstructured) int {
	n, found, err := unstructured.NestedInt64(obj.Object, "spec", "replicas")
	if err != nil || !found {
		return 1
	}
	return int(n)
}

// scaled reports whether the canary's replicas follow its weight in this
// rollout: canary_scale "proportional" with a stable version to share
// traffic with (a first deployment takes all traffic at once).
func scaled(st *State) bool {
	return st.Proportional() && !st.Rollout.firstDeployment()
}

// scaleForWeight sets the canary workload in objs to its replicas at weight
// and records the counts; it leaves objs as rendered when the replicas do
// not follow the weight.
func scaleForWeight(st *State, objs objects, weight int) error {
	if !scaled(st) {
		return nil
	}
	w := canaryWorkload(objs)
	if w == nil {
		return &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf(
			"canary_scale \"proportional\": the template of %s has no Deployment or StatefulSet named after the version to scale", st.Microservice)}
	}
	r := st.Rollout
	r.TemplateReplicas = templateReplicas(w)
	r.CanaryReplicas = rollout.CanaryReplicas(r.TemplateReplicas, weight, st.CanaryMinReplicas)
	return unstructured.SetNestedField(w.Object, int64(r.CanaryReplicas), "spec", "replicas")
}

// scaleCanary writes the canary workload with its replicas at weight and
// reads its readiness, the same judgement "Wait until ready" makes.
func (e *Engine) scaleCanary(ctx context.Context, sess *Session, st *State, weight int) (ready bool, reason string, err error) {
	r := st.Rollout
	objs, err := e.render(st.Spec, r.Version, nil, nil)
	if err != nil {
		return false, "", err
	}
	if err := scaleForWeight(st, objs, weight); err != nil {
		return false, "", err
	}
	w := canaryWorkload(objs)
	if err := applyErr(sess.Kube.Apply(ctx, w)); err != nil {
		return false, "", fmt.Errorf("scale %s %s to %d replicas for %d%%: %w", w.GetKind(), w.GetName(), r.CanaryReplicas, weight, err)
	}
	got, err := sess.Kube.Readiness(ctx, w)
	if err != nil {
		return false, "", fmt.Errorf("readiness of %s %s: %w", w.GetKind(), w.GetName(), err)
	}
	if got.Failed {
		return false, "", &Error{Name: statemachine.ErrNotReady, Err: fmt.Errorf("%s version %d cannot reach %d replicas for %d%%: %s",
			st.Microservice, r.Version, r.CanaryReplicas, weight, got.Reason)}
	}
	return got.Ready, got.Reason, nil
}

// scaleBeforeShift runs after Decide: a shift (or a promotion) that raises
// the canary's share first scales it to its replicas at the new weight,
// and holds at the current weight, analysing as usual, until that many are
// ready. A scale that is not ready within progress_deadline rolls back. An
// operator's promote request stays pending while the scale is waited for.
func (e *Engine) scaleBeforeShift(ctx context.Context, sess *Session, st *State, d *rollout.Decision, now time.Time) error {
	if !scaled(st) {
		return nil
	}
	r := st.Rollout
	if d.Action != rollout.Shift && d.Action != rollout.Promote {
		// Held or failing: the scale-up is waited for again, from the
		// start, when the next shift is decided.
		r.ScalingSince = time.Time{}
		return nil
	}
	ready, why, err := e.scaleCanary(ctx, sess, st, d.NextWeight)
	if err != nil {
		return err
	}
	if ready {
		r.ScalingSince = time.Time{}
		return nil
	}
	if r.ScalingSince.IsZero() {
		r.ScalingSince = now
	}
	deadline := time.Duration(st.ProgressDeadline) * time.Second
	if waited := now.Sub(r.ScalingSince); waited >= deadline {
		return &Error{Name: statemachine.ErrNotReady, Err: fmt.Errorf(
			"%s version %d did not reach %d ready replicas for %d%% within %s (progress_deadline %s): %s",
			st.Microservice, r.Version, r.CanaryReplicas, d.NextWeight, waited.Round(time.Second), deadline, why)}
	}
	d.Reason = fmt.Sprintf("%s, once the canary has %d of %d replicas ready (canary_scale proportional): %s",
		d.Reason, r.CanaryReplicas, r.TemplateReplicas, why)
	d.Action, d.NextWeight, d.NextStep, d.RequestHandled = rollout.Analyse, r.Weight, r.Step, false
	return nil
}

// checkScaled refuses a shift to weight before the canary has its replicas
// for it ready: Analyse only decides a shift once they are, so this holds
// only if they went away in between, and the retry reads them again.
func (e *Engine) checkScaled(ctx context.Context, sess *Session, st *State, weight int) error {
	if !scaled(st) {
		return nil
	}
	ready, why, err := e.scaleCanary(ctx, sess, st, weight)
	if err != nil || ready {
		return err
	}
	return &Error{Name: statemachine.ErrTransient, Err: fmt.Errorf("shift %s to %d%%: the canary has not %d ready replicas yet: %s",
		st.Microservice, weight, st.Rollout.CanaryReplicas, why)}
}
