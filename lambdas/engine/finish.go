package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/rollout"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
	"github.com/eks-canary/platform/lambdas/template"
)

// promote makes the canary the stable version. The old versions' objects go
// only after the live route no longer references them (App Mesh refuses to
// delete a referenced VirtualNode, and a Gateway backend would 5xx), and
// after the status says the canary is stable, so a failed clean-up can never
// send the execution to "Roll back" with traffic on deleted objects.
func (e *Engine) promote(ctx context.Context, sess *Session, st *State) error {
	r := st.Rollout
	snap, found, err := sess.Status.Load(ctx, st.Microservice)
	if err != nil {
		return err
	}
	if snap.Status.Execution == r.Execution && snap.Status.Phase == status.PhaseSucceeded {
		return nil // a retry after the promotion completed
	}
	if err := owned(snap, found, st); err != nil {
		return err
	}
	canary := naming.VersionName(st.Microservice, r.Version)
	if st.Versioned() {
		if err := e.applyRoute(ctx, sess, st.Spec, r.Version, []router.Backend{{Name: canary, Weight: 100}}, routeWrite{execution: r.Execution}); err != nil {
			return fmt.Errorf("promote %s version %d: %w", st.Microservice, r.Version, err)
		}
		if err := e.endPreview(ctx, sess, st.Spec); err != nil {
			return fmt.Errorf("promote %s version %d: %w", st.Microservice, r.Version, err)
		}
		if err := e.routeOnly(ctx, sess, st.Spec, canary); err != nil {
			return err
		}
	}
	r.Weight, r.Next = 100, ""
	reason := r.Reason
	if reason == "" {
		reason = fmt.Sprintf("version %d promoted", r.Version)
	}
	return e.finish(ctx, sess, st.Spec, r, status.PhaseSucceeded, reason, func() {
		if !st.Versioned() {
			return
		}
		// Every other version, including leftovers of interrupted rollouts.
		selector := fmt.Sprintf("%s=%s,%s,%s!=%d", naming.LabelMicroservice, st.Microservice, naming.LabelVersion, naming.LabelVersion, r.Version)
		if err := deleteByLabels(ctx, sess, st.Namespace, selector); err != nil {
			e.logger(st).Error("old versions were not removed; delete them by hand", "selector", selector, "error", err)
		}
	})
}

// deleteByLabels removes objects of every kind a template may hold.
func deleteByLabels(ctx context.Context, sess *Session, namespace, selector string) error {
	var kinds []schema.GroupVersionKind
	for _, k := range template.AllowedKinds() {
		kinds = append(kinds, k.GroupVersionKind())
	}
	_, err := sess.Kube.DeleteByLabels(ctx, namespace, selector, kinds...)
	return err
}

// rollBackState is the "Roll back" Task: the reason is the decision's, or
// the error a Catch recorded.
func (e *Engine) rollBackState(ctx context.Context, execution string, st *State) error {
	reason := "rolled back"
	if st.Rollout != nil && st.Rollout.Next == statemachine.NextRollBack && st.Rollout.Reason != "" {
		reason = st.Rollout.Reason
	}
	if st.Error != nil {
		reason = fmt.Sprintf("%s: %s", st.Error.Error, st.Error.Cause)
	}
	if st.Rollout != nil && st.Rollout.Execution != "" {
		execution = st.Rollout.Execution
	}
	return e.RollBack(ctx, st.Spec, execution, reason)
}

// RollBack returns all traffic of the rollout started by execution to the
// stable version and removes the canary. It works from the status in the
// cluster alone, so it also serves executions that were aborted or timed out
// and can be repeated safely: a rollout already finished is left alone.
func (e *Engine) RollBack(ctx context.Context, s spec.Spec, execution, reason string) error {
	s = s.WithDefaults()
	log := e.log().With("microservice", s.Microservice, "namespace", s.Namespace, "execution", execution)
	sess, err := e.Connector.Connect(ctx, s.ClusterName, s.Namespace)
	if err != nil {
		return err
	}
	snap, found, err := sess.Status.Load(ctx, s.Microservice)
	if err != nil {
		return err
	}
	cur := snap.Status
	// A Failed roll back of this execution is unfinished: try it again.
	if !found || cur.Execution != execution || (status.Terminal(cur.Phase) && cur.Phase != status.PhaseFailed) {
		log.Info("nothing to roll back: this execution has no rollout in progress", "phase", cur.Phase, "owner", cur.Execution)
		return sess.Locks.Release(ctx, s.Microservice, execution)
	}
	r := rolloutFromStatus(s, execution, cur)
	to := rollBackTarget{spec: s, version: r.StableVersion}
	if cur.StableTemplate != "" {
		to.spec.ConfigFile = cur.StableTemplate
	}
	to.release = to.spec
	to.release.ContainerImage = r.StableImage
	log = log.With("version", r.Version, "stable_version", r.StableVersion)
	// The stable template and image are read back from the status: they are
	// applied only if they pass every rule Validate applies today.
	if !r.firstDeployment() && cur.StableTemplate != "" {
		if err := e.checkReadBack(to.release, fmt.Sprintf("the template of stable version %d", r.StableVersion)); err != nil {
			return err
		}
	}
	canary, err := e.render(s, r.Version, nil, nil)
	if err != nil {
		return err
	}
	// A hook Job of an interrupted execution would go on testing a canary
	// that is about to go.
	if err := removeHookJobs(ctx, sess, s); err != nil {
		return fmt.Errorf("roll back %s: %w", s.Microservice, err)
	}
	switch {
	case r.firstDeployment():
		err = removeFirstDeployment(ctx, sess, s, canary)
	case s.Strategy == spec.StrategyInPlace:
		err = e.restoreInPlace(ctx, sess, s, to)
	default:
		err = e.restoreStable(ctx, sess, s, to, r.Version, execution)
	}
	if err != nil {
		return err
	}
	r.Weight = 0
	log.Warn("rolled back", "reason", reason)
	return e.finish(ctx, sess, s, r, status.PhaseRolledBack, reason, nil)
}

// rolloutFromStatus is the rollout a roll back finishes: the status keeps
// what it showed so far, its plan, step and the verdicts behind the roll
// back.
func rolloutFromStatus(s spec.Spec, execution string, cur status.Status) *Rollout {
	r := &Rollout{
		Versions: Versions{Execution: execution, Version: cur.CanaryVersion, StableVersion: cur.StableVersion, StableImage: cur.StableImage,
			StableTemplate: cur.StableTemplate, StartedAt: cur.StartedAt, Warnings: cur.Warnings},
		Progress:     Progress{Step: cur.Step - 1, Weight: cur.Weight},
		Judgement:    Judgement{Verdicts: cur.Verdicts},
		HookProgress: HookProgress{Hooks: cur.Hooks},
	}
	r.Plan = rollout.Plan(s, !r.firstDeployment())
	return r
}

// rollBackTarget is what a roll back puts back: the stable version as its
// own template rendered it.
type rollBackTarget struct {
	spec    spec.Spec // deploy.json with the stable version's template
	release spec.Spec // the same with the stable version's image
	version int
}

// removeFirstDeployment leaves no half-deployed microservice behind: there
// is nothing to go back to.
func removeFirstDeployment(ctx context.Context, sess *Session, s spec.Spec, canary objects) error {
	if err := deleteObjects(ctx, sess, s.Microservice, canary); err != nil {
		return fmt.Errorf("roll back %s: %w", s.Microservice, err)
	}
	// Read once more: a first shift in flight may have written the route
	// after it was deleted.
	if err := deleteObjects(ctx, sess, s.Microservice, canary.routes()); err != nil {
		return fmt.Errorf("roll back %s: %w", s.Microservice, err)
	}
	return nil
}

// restoreInPlace applies the stable release over the one workload, the
// workloads first.
func (e *Engine) restoreInPlace(ctx context.Context, sess *Session, s spec.Spec, to rollBackTarget) error {
	stable, err := e.render(to.release, to.version, []router.Backend{{Name: s.Microservice, Weight: 100}}, nil)
	if err != nil {
		return err
	}
	if err := ownedOrNew(ctx, sess, s.Microservice, stable); err != nil {
		return err
	}
	for _, o := range stable.workloadsFirst() {
		if err := e.restore(ctx, sess, o); err != nil {
			return fmt.Errorf("roll back %s to version %d: apply %s %s: %w", s.Microservice, to.version, o.obj.GetKind(), o.obj.GetName(), err)
		}
		if o.obj.GetKind() == "StatefulSet" {
			if err := replaceStuckPods(ctx, sess, s.Namespace, o.obj.GetName()); err != nil {
				return fmt.Errorf("roll back %s to version %d: %w", s.Microservice, to.version, err)
			}
		}
	}
	return nil
}

// restoreStable sends all traffic back to the stable version's own
// objects, restores the shared ones and removes the canary's.
func (e *Engine) restoreStable(ctx context.Context, sess *Session, s spec.Spec, to rollBackTarget, canaryVersion int, execution string) error {
	stable := naming.VersionName(s.Microservice, to.version)
	backends := []router.Backend{{Name: stable, Weight: 100}}
	objs, err := e.render(to.release, to.version, backends, nil)
	if err != nil {
		return err
	}
	var shared objects
	for _, o := range objs {
		if !o.perVersion {
			shared = append(shared, o)
		}
	}
	if err := ownedOrNew(ctx, sess, s.Microservice, shared); err != nil {
		return err
	}
	// The route first: its write marks it, so a shift of this execution
	// still in flight stops instead of undoing it.
	if err := e.applyRoute(ctx, sess, to.spec, to.version, backends, routeWrite{execution: execution, rollingBack: true}); err != nil {
		return fmt.Errorf("roll back %s to version %d: %w", s.Microservice, to.version, err)
	}
	// Shared objects the canary's template changed go back next.
	for _, o := range shared {
		if o.route {
			continue
		}
		if err := e.restore(ctx, sess, o); err != nil {
			return fmt.Errorf("roll back %s: restore %s %s: %w", s.Microservice, o.obj.GetKind(), o.obj.GetName(), err)
		}
	}
	if err := e.routeOnly(ctx, sess, to.spec, stable); err != nil {
		return err
	}
	if err := e.endPreview(ctx, sess, s); err != nil {
		return fmt.Errorf("roll back %s: %w", s.Microservice, err)
	}
	// By label: the canary's objects as deployed, whatever the template says now.
	if err := deleteByLabels(ctx, sess, s.Namespace, kube.VersionSelector(s.Microservice, canaryVersion)); err != nil {
		return fmt.Errorf("roll back %s: remove version %d: %w", s.Microservice, canaryVersion, err)
	}
	// Read once more after the deletes: the route must reach only versions
	// that still exist.
	return e.routeOnly(ctx, sess, to.spec, stable)
}

// restore applies one object of the stable version during a roll back. A
// field the API server drops does not stop the roll back: the stable
// version was accepted that way before.
func (e *Engine) restore(ctx context.Context, sess *Session, o object) error {
	err := applyErr(sess.Kube.Apply(ctx, o.obj))
	var dropped *kube.DroppedFieldsError
	if errors.As(err, &dropped) {
		e.log().Warn("the stable version's template has fields the API server drops", "error", err)
		return nil
	}
	return err
}

// rollBackFailedState is the "Record roll back failure" Task: the error a
// Catch recorded is why "Roll back" gave up.
func (e *Engine) rollBackFailedState(ctx context.Context, execution string, st *State) error {
	cause := "the roll back gave up"
	if st.Error != nil {
		cause = fmt.Sprintf("%s: %s", st.Error.Error, st.Error.Cause)
	}
	if st.Rollout != nil && st.Rollout.Execution != "" {
		execution = st.Rollout.Execution
	}
	return e.RecordRollBackFailure(ctx, st.Spec, execution, cause)
}

// RecordRollBackFailure marks the rollout of execution as Failed after its
// roll back gave up: the status says why and how to recover, the lock is
// held so that no rollout starts on top of a half-rolled-back microservice,
// and people are told once. A rollout that finished or was replaced in the
// meantime is left alone.
func (e *Engine) RecordRollBackFailure(ctx context.Context, s spec.Spec, execution, cause string) error {
	s = s.WithDefaults()
	log := e.log().With("microservice", s.Microservice, "namespace", s.Namespace, "execution", execution)
	sess, err := e.Connector.Connect(ctx, s.ClusterName, s.Namespace)
	if err != nil {
		return err
	}
	snap, found, err := sess.Status.Load(ctx, s.Microservice)
	if err != nil {
		return err
	}
	cur := snap.Status
	if !found || cur.Execution != execution || (status.Terminal(cur.Phase) && cur.Phase != status.PhaseFailed) {
		log.Info("no failed roll back to record: this execution has no rollout in progress", "phase", cur.Phase, "owner", cur.Execution)
		return nil
	}
	if err := sess.Locks.Hold(ctx, s.Microservice, execution, cause); err != nil {
		var held HeldError
		if !errors.As(err, &held) {
			return fmt.Errorf("hold the lock of %s for recovery: %w", s.Microservice, err)
		}
		log.Error("the lock is held by another execution; the Failed status still refuses new rollouts", "holder", held.Holder())
	}
	already := cur.Phase == status.PhaseFailed
	cur.Phase = status.PhaseFailed
	cur.Reason = fmt.Sprintf("roll back failed: %s; version %d may still have traffic and the lock stays held: fix the cause, then run `%s`",
		cause, cur.CanaryVersion, RecoverCommand(s.Namespace, s.Microservice))
	cur.UpdatedAt = e.wallNow()
	cur.CanaryTemplate = s.ConfigFile
	if err := sess.Status.Write(ctx, cur); err != nil {
		return fmt.Errorf("record the failed roll back of %s: %w", s.Microservice, err)
	}
	log.Error("roll back failed; the microservice needs an operator", "reason", cur.Reason)
	if e.Notifier != nil && !already {
		n := Notice{Microservice: s.Microservice, Namespace: s.Namespace, Version: cur.CanaryVersion, StableVersion: cur.StableVersion,
			Outcome: status.PhaseFailed, Reason: cur.Reason, Execution: execution}
		if err := e.Notifier.Notify(ctx, n); err != nil {
			log.Error("notification failed", "error", err)
		}
	}
	return nil
}

// RecoverCommand is what an operator runs once the cause of a failed roll
// back is fixed.
func RecoverCommand(namespace, microservice string) string {
	return fmt.Sprintf("canaryctl -n %s recover %s", namespace, microservice)
}

// RecoverRefusedError says why there is nothing to recover. Nothing was changed.
type RecoverRefusedError struct{ Reason string }

func (e *RecoverRefusedError) Error() string { return e.Reason }

// Recover finishes the failed roll back of a microservice from its status
// alone, after an operator fixed the cause: the stable version's route and
// shared objects are applied again, the live route is checked to send
// traffic to the stable version only, the canary is removed, and the lock is
// released. It is the same roll back the engine runs, so it can be repeated.
func (e *Engine) Recover(ctx context.Context, clusterName, namespace, microservice string) (status.Status, error) {
	sess, err := e.Connector.Connect(ctx, clusterName, namespace)
	if err != nil {
		return status.Status{}, err
	}
	snap, found, err := sess.Status.Load(ctx, microservice)
	if err != nil {
		return status.Status{}, err
	}
	cur := snap.Status
	if !found {
		return status.Status{}, &status.NotFoundError{Namespace: namespace, Microservice: microservice}
	}
	if cur.Phase != status.PhaseFailed {
		return cur, &RecoverRefusedError{Reason: fmt.Sprintf("%s has no failed roll back to recover (phase %s)", microservice, cur.Phase)}
	}
	s := spec.Spec{
		ClusterName: clusterName, Namespace: namespace, Microservice: microservice,
		Router: cur.Router, Strategy: cur.Strategy, ContainerImage: cur.CanaryImage, ConfigFile: cur.CanaryTemplate,
	}
	if s.ConfigFile == "" {
		if cur.StableVersion == 0 {
			return cur, &RecoverRefusedError{Reason: fmt.Sprintf(
				"the status of %s does not keep the template of version %d, a first deployment: delete its objects (kubectl delete all -n %s -l %s=%s) and the Lease %s by hand",
				microservice, cur.CanaryVersion, namespace, naming.LabelMicroservice, microservice, naming.LockLease(microservice))}
		}
		s.ConfigFile = cur.StableTemplate
	}
	if err := e.RollBack(ctx, s, cur.Execution, "recovered by an operator after the roll back had failed"); err != nil {
		return cur, fmt.Errorf("recover %s: %w; the status stays Failed and the lock held: fix the cause and run `%s` again",
			microservice, err, RecoverCommand(namespace, microservice))
	}
	snap, _, err = sess.Status.Load(ctx, microservice)
	return snap.Status, err
}

// finish records the outcome, runs cleanUp while the lock still keeps other
// rollouts out, then frees the lock and tells people.
func (e *Engine) finish(ctx context.Context, sess *Session, s spec.Spec, r *Rollout, phase, reason string, cleanUp func()) error {
	st := &State{Spec: s, Rollout: r}
	if err := e.writeStatus(ctx, sess, st, phase, reason); err != nil {
		return err
	}
	if cleanUp != nil {
		cleanUp()
	}
	err := sess.Status.Finish(ctx, status.Record{
		Microservice: s.Microservice, CanaryVersion: r.Version, CanaryImage: s.ContainerImage, StableVersion: r.StableVersion,
		Phase: phase, Reason: reason, Execution: r.Execution, StartedAt: r.StartedAt, FinishedAt: e.wallNow(),
	})
	if err != nil {
		return err
	}
	if err := sess.Locks.Release(ctx, s.Microservice, r.Execution); err != nil {
		return fmt.Errorf("release lock of %s: %w", s.Microservice, err)
	}
	if e.Notifier != nil {
		n := Notice{Microservice: s.Microservice, Namespace: s.Namespace, Version: r.Version, StableVersion: r.StableVersion,
			Outcome: phase, Reason: reason, Execution: r.Execution, Hooks: r.Hooks}
		// A lost notification must not undo a finished rollout.
		if err := e.Notifier.Notify(ctx, n); err != nil {
			e.logger(st).Error("notification failed", "error", err)
		}
	}
	e.logger(st).Info("rollout finished", "phase", phase, "reason", reason)
	return nil
}

// writeStatus publishes the rollout's progress in the cluster.
func (e *Engine) writeStatus(ctx context.Context, sess *Session, st *State, phase, reason string) error {
	out := e.statusOf(st, phase, reason)
	if err := sess.Status.Write(ctx, out); err != nil {
		return fmt.Errorf("write status of %s: %w", st.Microservice, err)
	}
	return nil
}

// statusOf is the rollout as the status ConfigMap shows it. A promoted canary
// becomes the stable version.
func (e *Engine) statusOf(st *State, phase, reason string) status.Status {
	r := st.Rollout
	next := r.NextWeight
	if r.Next != statemachine.NextShift {
		next = r.Weight
	}
	out := status.Status{
		Microservice: st.Microservice, Namespace: st.Namespace, Execution: r.Execution,
		Router: st.Router, Strategy: st.Strategy,
		StableVersion: r.StableVersion, StableImage: r.StableImage, StableTemplate: r.StableTemplate,
		CanaryVersion: r.Version, CanaryImage: st.ContainerImage,
		Weight: r.Weight, NextWeight: next, Step: r.Step + 1, Steps: len(r.Plan),
		Phase: phase, Verdicts: r.Verdicts, Reason: reason,
		StartedAt: r.StartedAt, UpdatedAt: e.wallNow(), LastVersion: r.Version, TookOver: r.TookOver, Hooks: r.Hooks,
		Warnings: r.Warnings,
	}
	gates := st.Analysis
	out.Analysis = &gates
	out.Stage = stage(st, phase)
	if reason == "" && phase != status.PhaseProgressing {
		out.Reason = r.Reason
	}
	if phase == status.PhaseSucceeded {
		out.StableVersion, out.StableImage, out.StableTemplate = r.Version, st.ContainerImage, st.ConfigFile
	}
	out.BlueGreen = e.blueGreenStatus(st, phase)
	if r.CanaryReplicas > 0 {
		out.Replicas = &status.Replicas{Scale: st.CanaryScale, Canary: r.CanaryReplicas, Template: r.TemplateReplicas, Scaling: !r.ScalingSince.IsZero()}
	}
	return out
}

// emitMetrics writes the step's figures in CloudWatch embedded metric
// format: the Lambda's log line becomes the dashboard's data points.
func (e *Engine) emitMetrics(st *State, v *analysis.Verdict) {
	metrics := []map[string]string{{"Name": contract.MetricCanaryWeight, "Unit": "Percent"}}
	attrs := []any{
		"Namespace", st.Namespace, "Microservice", st.Microservice, contract.MetricCanaryWeight, st.Rollout.Weight,
	}
	if v != nil && v.Requests > 0 {
		metrics = append(metrics, map[string]string{"Name": contract.MetricCanaryRequests, "Unit": "Count"},
			map[string]string{"Name": contract.MetricCanaryErrorRate, "Unit": "Percent"})
		attrs = append(attrs, contract.MetricCanaryRequests, v.Requests, contract.MetricCanaryErrorRate, 100*v.Errors/v.Requests)
	}
	emf := map[string]any{
		"Timestamp": e.wallNow().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  contract.MetricsNamespaceEngine,
			"Dimensions": [][]string{{"Namespace", "Microservice"}},
			"Metrics":    metrics,
		}},
	}
	e.logger(st).Info("metrics", append(attrs, "_aws", emf)...)
}

// replaceStuckPods deletes the StatefulSet's pods that run another revision
// than its spec and are not ready. With the default OrderedReady policy the
// controller never replaces such a pod by itself after the spec is reverted
// (the "forced rollback" of the StatefulSet documentation), so the datastore
// would stay down on the broken version.
func replaceStuckPods(ctx context.Context, sess *Session, namespace, name string) error {
	// The revision to keep is known once the controller has seen the
	// reverted spec.
	var sts *appsv1.StatefulSet
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		sts, err = sess.Kube.Clientset.AppsV1().StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{})
		return err == nil && sts.Status.ObservedGeneration >= sts.Generation, err
	})
	if err != nil {
		return fmt.Errorf("read StatefulSet %s: %w", name, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil {
		return fmt.Errorf("selector of StatefulSet %s: %w", name, err)
	}
	pods, err := sess.Kube.Clientset.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return fmt.Errorf("list pods of StatefulSet %s: %w", name, err)
	}
	for _, p := range pods.Items {
		if p.Labels[appsv1.StatefulSetRevisionLabel] == sts.Status.UpdateRevision || podReady(p) {
			continue
		}
		if err := sess.Kube.Clientset.CoreV1().Pods(namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("replace pod %s stuck on a bad revision: %w", p.Name, err)
		}
	}
	return nil
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
