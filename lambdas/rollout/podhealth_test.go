package rollout

import (
	"strings"
	"testing"
	"time"
)

func TestPodVerdict(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	policy := PodPolicy{MaxRestarts: 0, UnreadyGrace: 30 * time.Second}
	healthy := func(name string) PodObservation {
		return PodObservation{Name: name, Ready: true, ReadyChanged: now.Add(-time.Minute),
			Containers: []ContainerObservation{{Name: "app"}}}
	}
	with := func(p PodObservation, f func(*PodObservation)) PodObservation { f(&p); return p }
	crashLoop := with(healthy("svc-2-a"), func(p *PodObservation) {
		p.Ready = false
		p.Containers[0] = ContainerObservation{Name: "app", Restarts: 3, Waiting: "CrashLoopBackOff",
			WaitingMessage: "back-off 40s restarting failed container", LastReason: "Error", LastExitCode: 1, LastMessage: "panic: no config"}
	})
	oom := with(healthy("svc-2-b"), func(p *PodObservation) {
		p.Containers[0] = ContainerObservation{Name: "app", Restarts: 1, LastReason: "OOMKilled", LastExitCode: 137}
	})
	restarted := with(healthy("svc-2-c"), func(p *PodObservation) {
		p.Containers[0] = ContainerObservation{Name: "app", Restarts: 2, LastReason: "Error", LastExitCode: 2}
	})
	unready := func(for_ time.Duration) PodObservation {
		return with(healthy("svc-2-d"), func(p *PodObservation) { p.Ready, p.ReadyChanged = false, now.Add(-for_) })
	}
	tests := []struct {
		name      string
		in        PodInput
		healthy   bool
		cause     string
		container string
		contains  []string
	}{
		{name: "healthy pods pass", in: PodInput{Stage: PodsServing, Traffic: 10, Pods: []PodObservation{healthy("a"), healthy("b")}}, healthy: true},
		{name: "no pods is no evidence", in: PodInput{Stage: PodsServing, Traffic: 10}, healthy: true},
		{name: "crash loop while starting", in: PodInput{Stage: PodsStarting, Pods: []PodObservation{crashLoop}},
			cause: "CrashLoopBackOff", container: "app", contains: []string{"svc-2-a", "CrashLoopBackOff", "exit code 1", `"panic: no config"`}},
		{name: "image pull back-off while starting", in: PodInput{Stage: PodsStarting, Pods: []PodObservation{with(healthy("p"), func(p *PodObservation) {
			p.Containers[0].Waiting, p.Containers[0].WaitingMessage = "ImagePullBackOff", `Back-off pulling image "x:1"`
		})}}, cause: "ImagePullBackOff", contains: []string{`Back-off pulling image "x:1"`}},
		{name: "first ErrImagePull while starting waits", in: PodInput{Stage: PodsStarting, Pods: []PodObservation{with(healthy("p"), func(p *PodObservation) {
			p.Containers[0].Waiting = "ErrImagePull"
		})}}, healthy: true},
		{name: "ErrImagePull once serving fails", in: PodInput{Stage: PodsServing, Pods: []PodObservation{with(healthy("p"), func(p *PodObservation) {
			p.Containers[0].Waiting = "ErrImagePull"
		})}}, cause: "ErrImagePull"},
		{name: "config error", in: PodInput{Stage: PodsStarting, Pods: []PodObservation{with(healthy("p"), func(p *PodObservation) {
			p.Containers[0].Waiting, p.Containers[0].WaitingMessage = "CreateContainerConfigError", `secret "db" not found`
		})}}, cause: "CreateContainerConfigError", contains: []string{`secret "db" not found`}},
		{name: "restarts while starting are left to progress_deadline", in: PodInput{Stage: PodsStarting, Pods: []PodObservation{restarted}}, healthy: true},
		{name: "OOMKilled while starting", in: PodInput{Stage: PodsStarting, Pods: []PodObservation{oom}}, cause: "OOMKilled", contains: []string{"OOMKilled", "exit code 137"}},
		{name: "OOMKilled before ready is not judged again", in: PodInput{Stage: PodsServing, Policy: PodPolicy{MaxRestarts: 1}, Pods: []PodObservation{oom},
			Baseline: map[string]int32{"svc-2-b/app": 1}}, healthy: true},
		{name: "OOMKilled after ready", in: PodInput{Stage: PodsServing, Policy: PodPolicy{MaxRestarts: 5}, Pods: []PodObservation{oom}}, cause: "OOMKilled"},
		{name: "restart since ready over max_restarts", in: PodInput{Stage: PodsServing, Policy: policy, Pods: []PodObservation{restarted},
			Baseline: map[string]int32{"svc-2-c/app": 1}}, cause: "restarted", container: "app",
			contains: []string{"svc-2-c", "restarted 1 times", "max_restarts 0", "last terminated: Error, exit code 2"}},
		{name: "restarts before ready do not count", in: PodInput{Stage: PodsServing, Policy: policy, Pods: []PodObservation{restarted},
			Baseline: map[string]int32{"svc-2-c/app": 2}}, healthy: true},
		{name: "restarts within max_restarts", in: PodInput{Stage: PodsServing, Policy: PodPolicy{MaxRestarts: 2}, Pods: []PodObservation{restarted}}, healthy: true},
		{name: "unready past the grace with traffic", in: PodInput{Stage: PodsServing, Policy: policy, Traffic: 25, Now: now, Pods: []PodObservation{unready(31 * time.Second)}},
			cause: "unready", contains: []string{"svc-2-d", "25%", "unready_grace 30s"}},
		{name: "unready within the grace", in: PodInput{Stage: PodsServing, Policy: policy, Traffic: 25, Now: now, Pods: []PodObservation{unready(29 * time.Second)}}, healthy: true},
		{name: "unready without traffic", in: PodInput{Stage: PodsServing, Policy: policy, Traffic: 0, Now: now, Pods: []PodObservation{unready(time.Hour)}}, healthy: true},
		{name: "first failing pod in name order", in: PodInput{Stage: PodsStarting, Pods: []PodObservation{oom, crashLoop}}, cause: "CrashLoopBackOff", contains: []string{"svc-2-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodVerdict(tt.in)
			if got.Healthy != tt.healthy {
				t.Fatalf("healthy = %v, want %v: %+v", got.Healthy, tt.healthy, got)
			}
			if got.Cause != tt.cause {
				t.Errorf("cause = %q, want %q (%s)", got.Cause, tt.cause, got.Reason)
			}
			if tt.container != "" && got.Container != tt.container {
				t.Errorf("container = %q, want %q", got.Container, tt.container)
			}
			for _, s := range tt.contains {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("reason %q lacks %q", got.Reason, s)
				}
			}
		})
	}
}

func TestBaselineKeepsOnlyRestartedContainers(t *testing.T) {
	got := Baseline([]PodObservation{
		{Name: "a", Containers: []ContainerObservation{{Name: "app"}, {Name: "proxy", Restarts: 2}}},
		{Name: "b", Containers: []ContainerObservation{{Name: "app"}}},
	})
	if len(got) != 1 || got["a/proxy"] != 2 {
		t.Fatalf("Baseline = %v, want only a/proxy: 2", got)
	}
	if Baseline([]PodObservation{{Name: "a", Containers: []ContainerObservation{{Name: "app"}}}}) != nil {
		t.Fatal("a healthy canary's baseline is not empty")
	}
}
