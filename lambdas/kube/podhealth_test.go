package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodObservation(t *testing.T) {
	changed := metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-2-abc"},
		Status: corev1.PodStatus{
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: changed}},
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "migrate", RestartCount: 4,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 3, Message: "no schema"}}}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 2,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 20s"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}},
		},
	}
	got := PodObservation(p)
	if got.Name != "shop-2-abc" || got.Ready || !got.ReadyChanged.Equal(changed.Time) || len(got.Containers) != 2 {
		t.Fatalf("observation %+v", got)
	}
	if c := got.Containers[0]; c.Name != "migrate" || c.Restarts != 4 || c.LastReason != "Error" || c.LastExitCode != 3 || c.LastMessage != "no schema" {
		t.Errorf("a terminated init container is its last termination: %+v", c)
	}
	if c := got.Containers[1]; c.Waiting != "CrashLoopBackOff" || c.WaitingMessage != "back-off 20s" || c.LastReason != "OOMKilled" || c.LastExitCode != 137 {
		t.Errorf("app container %+v", c)
	}
}
