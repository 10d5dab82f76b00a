package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func TestDeploymentReadiness(t *testing.T) {
	dep := func(gen, observed int64, replicas int32, st appsv1.DeploymentStatus, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
		st.ObservedGeneration = observed
		st.Conditions = conds
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "yelb-ui-3", Namespace: "yelb", Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr(replicas)},
			Status:     st,
		}
	}
	deadline := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
		Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "yelb-ui-3-abc" has timed out progressing.`}
	quota := appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue,
		Reason: "FailedCreate", Message: "exceeded quota: pods"}
	tests := []struct {
		name         string
		d            *appsv1.Deployment
		ready, fail  bool
		reasonSubstr string
	}{
		{"spec not observed yet", dep(2, 1, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}), false, false, "observe generation 2"},
		{"progress deadline exceeded", dep(1, 1, 2, appsv1.DeploymentStatus{Replicas: 2}, deadline), false, true, "timed out progressing"},
		{"deadline wins over counts", dep(1, 1, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1}, deadline), false, true, "progress deadline"},
		{"updating", dep(1, 1, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 1}), false, false, "1 of 2 replicas updated"},
		{"pods refused by quota", dep(1, 1, 2, appsv1.DeploymentStatus{}, quota), false, false, "exceeded quota"},
		{"old pods terminating", dep(1, 1, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 2}), false, false, "1 old replicas"},
		{"not yet available", dep(1, 1, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1}), false, false, "1 of 2 updated replicas available"},
		{"ready", dep(3, 3, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, ReadyReplicas: 2}), true, false, "2 of 2"},
		{"scaled to zero", dep(1, 1, 0, appsv1.DeploymentStatus{}), true, false, "0 of 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DeploymentReadiness(tt.d)
			if got.Ready != tt.ready || got.Failed != tt.fail {
				t.Errorf("ready=%v failed=%v (%s), want ready=%v failed=%v", got.Ready, got.Failed, got.Reason, tt.ready, tt.fail)
			}
			if !strings.Contains(got.Reason, tt.reasonSubstr) || !strings.Contains(got.Reason, "yelb/yelb-ui-3") {
				t.Errorf("reason %q: want the deployment and %q", got.Reason, tt.reasonSubstr)
			}
		})
	}

	paused := dep(1, 1, 1, appsv1.DeploymentStatus{})
	paused.Spec.Paused = true
	if got := DeploymentReadiness(paused); got.Ready || got.Failed || !strings.Contains(got.Reason, "paused") {
		t.Errorf("paused deployment: %+v", got)
	}
	noReplicas := dep(1, 1, 0, appsv1.DeploymentStatus{})
	noReplicas.Spec.Replicas = nil // defaults to 1
	if got := DeploymentReadiness(noReplicas); got.Ready {
		t.Errorf("deployment with default 1 replica and none updated reported ready: %+v", got)
	}
}

func TestStatefulSetReadiness(t *testing.T) {
	sts := func(gen, observed int64, replicas int32, partition *int32, st appsv1.StatefulSetStatus) *appsv1.StatefulSet {
		st.ObservedGeneration = observed
		s := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "yelb-db", Namespace: "yelb", Generation: gen},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr(replicas), UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type: appsv1.RollingUpdateStatefulSetStrategyType}},
			Status: st,
		}
		if partition != nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition}
		}
		return s
	}
	done := appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1, CurrentRevision: "r2", UpdateRevision: "r2"}
	tests := []struct {
		name         string
		s            *appsv1.StatefulSet
		ready, fail  bool
		reasonSubstr string
	}{
		{"spec not observed", sts(2, 1, 1, nil, done), false, false, "observe generation 2"},
		{"pod not ready", sts(1, 1, 1, nil, appsv1.StatefulSetStatus{Replicas: 1, CurrentRevision: "r1", UpdateRevision: "r2"}), false, false, "0 of 1 replicas ready"},
		{"old revision still serving", sts(2, 2, 1, nil, appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, CurrentRevision: "r1", UpdateRevision: "r2"}), false, false, "updated to revision r2"},
		{"ready but not available yet", sts(1, 1, 1, nil, appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1, CurrentRevision: "r2", UpdateRevision: "r2"}), false, false, "0 of 1 replicas available"},
		{"partition: pods above it updated", sts(2, 2, 3, ptr(int32(2)), appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, UpdatedReplicas: 1, CurrentRevision: "r1", UpdateRevision: "r2"}), true, false, "3 of 3"},
		{"partition: not yet updated", sts(2, 2, 3, ptr(int32(2)), appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentRevision: "r1", UpdateRevision: "r2"}), false, false, "above partition 2"},
		{"rolled out", sts(2, 2, 1, nil, done), true, false, "revision r2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StatefulSetReadiness(tt.s)
			if got.Ready != tt.ready || got.Failed != tt.fail {
				t.Errorf("ready=%v failed=%v (%s), want ready=%v failed=%v", got.Ready, got.Failed, got.Reason, tt.ready, tt.fail)
			}
			if !strings.Contains(got.Reason, tt.reasonSubstr) || !strings.Contains(got.Reason, "yelb/yelb-db") {
				t.Errorf("reason %q: want the statefulset and %q", got.Reason, tt.reasonSubstr)
			}
		})
	}

	onDelete := sts(1, 1, 1, nil, done)
	onDelete.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
	if got := StatefulSetReadiness(onDelete); !got.Failed || !strings.Contains(got.Reason, "RollingUpdate") {
		t.Errorf("OnDelete statefulset: %+v, want failed with the fix", got)
	}
}
