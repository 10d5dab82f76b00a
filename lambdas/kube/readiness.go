package kube

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/kube/typed"
)

// Readiness of a version's workload.
type Readiness struct {
	Ready bool
	// Failed means it will not become ready on its own (its progress
	// deadline passed, or nothing would ever replace its pods).
	Failed bool
	Reason string // the state in words, for the rollout status and logs
}

// Readiness reports whether the workload obj names (a Deployment
// "<svc>-<N>" or the in-place StatefulSet) has rolled out its current spec.
// A workload not created yet is not ready and not failed.
func (c *Client) Readiness(ctx context.Context, obj *unstructured.Unstructured) (Readiness, error) {
	return WorkloadReadiness(ctx, c.Clientset, obj.GetNamespace(), obj.GetKind(), obj.GetName())
}

// WorkloadReadiness reads a Deployment or StatefulSet and judges it.
func WorkloadReadiness(ctx context.Context, cs typed.Interface, namespace, kind, name string) (Readiness, error) {
	switch kind {
	case "Deployment":
		d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return Readiness{Reason: fmt.Sprintf("deployment %s/%s does not exist yet", namespace, name)}, nil
		}
		if err != nil {
			return Readiness{}, fmt.Errorf("read deployment %s/%s: %w", namespace, name, err)
		}
		return DeploymentReadiness(d), nil
	case "StatefulSet":
		s, err := cs.AppsV1().StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return Readiness{Reason: fmt.Sprintf("statefulset %s/%s does not exist yet", namespace, name)}, nil
		}
		if err != nil {
			return Readiness{}, fmt.Errorf("read statefulset %s/%s: %w", namespace, name, err)
		}
		return StatefulSetReadiness(s), nil
	default:
		return Readiness{}, fmt.Errorf("readiness of %s %s/%s: kind %q has no rollout to wait for: want Deployment or StatefulSet", kind, namespace, name, kind)
	}
}

// DeploymentReadiness follows `kubectl rollout status`: the controller has
// seen the current spec, every replica runs it, and all of them are available.
func DeploymentReadiness(d *appsv1.Deployment) Readiness {
	name := "deployment " + d.Namespace + "/" + d.Name
	if d.Generation > d.Status.ObservedGeneration {
		return Readiness{Reason: fmt.Sprintf("%s: waiting for the controller to observe generation %d (seen %d)", name, d.Generation, d.Status.ObservedGeneration)}
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return Readiness{Failed: true, Reason: fmt.Sprintf("%s exceeded its progress deadline: %s", name, c.Message)}
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	switch {
	case d.Spec.Paused:
		return Readiness{Reason: fmt.Sprintf("%s is paused", name)}
	case st.UpdatedReplicas < want:
		return Readiness{Reason: fmt.Sprintf("%s: %d of %d replicas updated%s", name, st.UpdatedReplicas, want, replicaFailure(d))}
	case st.Replicas > st.UpdatedReplicas:
		return Readiness{Reason: fmt.Sprintf("%s: %d old replicas pending termination", name, st.Replicas-st.UpdatedReplicas)}
	case st.AvailableReplicas < st.UpdatedReplicas:
		return Readiness{Reason: fmt.Sprintf("%s: %d of %d updated replicas available%s", name, st.AvailableReplicas, st.UpdatedReplicas, replicaFailure(d))}
	}
	return Readiness{Ready: true, Reason: fmt.Sprintf("%s: %d of %d replicas updated and available", name, st.AvailableReplicas, want)}
}

// replicaFailure explains why pods are missing (quota, admission) when the
// controller says so.
func replicaFailure(d *appsv1.Deployment) string {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
		}
	}
	return ""
}

// StatefulSetReadiness follows `kubectl rollout status` for a RollingUpdate
// StatefulSet: current spec observed, the pods above the partition updated,
// and every replica ready and available.
func StatefulSetReadiness(s *appsv1.StatefulSet) Readiness {
	name := "statefulset " + s.Namespace + "/" + s.Name
	if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return Readiness{Failed: true, Reason: fmt.Sprintf("%s uses updateStrategy OnDelete, so its pods are never replaced: use RollingUpdate", name)}
	}
	if s.Generation > s.Status.ObservedGeneration {
		return Readiness{Reason: fmt.Sprintf("%s: waiting for the controller to observe generation %d (seen %d)", name, s.Generation, s.Status.ObservedGeneration)}
	}
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	partition := int32(0)
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = *ru.Partition
	}
	st := s.Status
	switch {
	case st.ReadyReplicas < want:
		return Readiness{Reason: fmt.Sprintf("%s: %d of %d replicas ready", name, st.ReadyReplicas, want)}
	case partition > 0 && st.UpdatedReplicas < want-partition:
		return Readiness{Reason: fmt.Sprintf("%s: %d of %d replicas above partition %d updated", name, st.UpdatedReplicas, want-partition, partition)}
	case partition == 0 && st.UpdateRevision != st.CurrentRevision:
		return Readiness{Reason: fmt.Sprintf("%s: %d of %d replicas updated to revision %s", name, st.UpdatedReplicas, want, st.UpdateRevision)}
	case st.AvailableReplicas < want:
		return Readiness{Reason: fmt.Sprintf("%s: %d of %d replicas available", name, st.AvailableReplicas, want)}
	}
	return Readiness{Ready: true, Reason: fmt.Sprintf("%s: %d of %d replicas ready at revision %s", name, st.ReadyReplicas, want, st.UpdateRevision)}
}
