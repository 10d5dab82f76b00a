package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/eks-canary/platform/lambdas/statemachine"
)

// breakPod rewrites the status of one pod of deployment (through the pods'
// status subresource, as the kubelet reports it) and returns its name, or
// "" when the Deployment has no pods yet.
func (h *harness) breakPod(deployment string, change func(*corev1.ContainerStatus, *corev1.PodStatus)) string {
	h.t.Helper()
	ctx := context.Background()
	d, err := h.plane.Clientset.AppsV1().Deployments(h.ns).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	pods, err := h.plane.Clientset.CoreV1().Pods(h.ns).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(d.Spec.Selector)})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(pods.Items) == 0 {
		return ""
	}
	name := pods.Items[0].Name
	var updated *corev1.Pod
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := h.plane.Clientset.CoreV1().Pods(h.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(p.Status.ContainerStatuses) == 0 {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app"}}
		}
		change(&p.Status.ContainerStatuses[0], &p.Status)
		updated, err = h.plane.Clientset.CoreV1().Pods(h.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		h.t.Fatalf("update the status of pod %s: %v", name, err)
	}
	// The engine reads pods from the API server's watch cache. Real time
	// between a pod's change and the engine's next look is far longer than
	// the cache lags; the harness's clock takes none, so let it catch up.
	_, err = h.plane.Clientset.CoreV1().Pods(h.ns).List(ctx, metav1.ListOptions{
		ResourceVersion: updated.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	if err != nil {
		h.t.Fatalf("wait for the watch cache to see pod %s: %v", name, err)
	}
	return name
}

// breakAt changes one canary pod's status before the first Task named state,
// once, and reports the pod's name.
func (h *harness) breakAt(state, deployment string, change func(*corev1.ContainerStatus, *corev1.PodStatus)) func() string {
	var mu sync.Mutex
	broken := ""
	h.hook = func(s string, _ json.RawMessage) {
		mu.Lock()
		defer mu.Unlock()
		if s == state && broken == "" {
			broken = h.breakPod(deployment, change)
		}
	}
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return broken
	}
}

func restarted(reason string, exitCode int32, message string) func(*corev1.ContainerStatus, *corev1.PodStatus) {
	return func(c *corev1.ContainerStatus, _ *corev1.PodStatus) {
		c.RestartCount++
		c.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Reason: reason, ExitCode: exitCode, Message: message, FinishedAt: metav1.Now()}}
	}
}

func canaryPodHealth(t *testing.T) {
	tests := []struct {
		name   string
		state  string // the Task before which the pod breaks
		change func(*corev1.ContainerStatus, *corev1.PodStatus)
		deploy func(map[string]any)
		// reason holds what the roll back must name, besides the pod.
		reason []string
		shifts int // at most
	}{
		{
			name: "restart after traffic", state: statemachine.StateAnalyse,
			change: restarted("Error", 2, "panic: nil map"),
			reason: []string{"container app restarted 1 times since the canary became ready", "max_restarts 0", "exit code 2", `"panic: nil map"`},
			shifts: 1,
		},
		{
			name: "OOMKilled after traffic", state: statemachine.StateAnalyse,
			change: restarted("OOMKilled", 137, ""),
			deploy: func(d map[string]any) { d["analysis"].(map[string]any)["max_restarts"] = 3 },
			reason: []string{"container app was OOMKilled", "exit code 137"},
			shifts: 1,
		},
		{
			name: "crash loop while starting", state: statemachine.StateReady,
			change: func(c *corev1.ContainerStatus, p *corev1.PodStatus) {
				restarted("Error", 1, "cannot read /etc/app.yml")(c, p)
				c.Ready = false
				c.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s restarting failed container"}}
			},
			reason: []string{"will not become ready", "container app is in CrashLoopBackOff", "exit code 1", `"cannot read /etc/app.yml"`},
			shifts: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.bystander("appmesh")
			h.stable("appmesh", "shop")
			h.metrics.set("shop-2", "healthy") // only the pods can tell
			pod := h.breakAt(tt.state, "shop-2", tt.change)
			res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", tt.deploy))
			requireStatus(t, res, "FAILED", "RolledBack")
			if pod() == "" {
				t.Fatalf("no pod of shop-2 was broken before %s", tt.state)
			}
			if n := count(res.Entered(), statemachine.StateShift); n > tt.shifts {
				t.Errorf("%d shifts, want at most %d", n, tt.shifts)
			}
			if n := count(res.Entered(), statemachine.StateAnalyse); n > 1 {
				t.Errorf("%d analyses before rolling back, want the first to roll back", n)
			}
			h.assertRolledBack("appmesh", "shop", "pod "+pod())
			st := h.status("shop").Status
			for _, want := range tt.reason {
				if !strings.Contains(st.Reason, want) {
					t.Errorf("reason %q lacks %q", st.Reason, want)
				}
			}
			if tt.state == statemachine.StateAnalyse && (len(st.Verdicts) == 0 || st.Verdicts[0].Result != "fail" || !strings.Contains(st.Verdicts[0].Pods, pod())) {
				t.Errorf("the pod-health verdict is not in the status: %+v", st.Verdicts)
			}
			if n := len(h.notices.got); n == 0 || !strings.Contains(h.notices.got[n-1].Reason, pod()) {
				t.Errorf("the notice does not name the pod: %+v", h.notices.got)
			}
		})
	}
}

// A healthy canary's pods, including one that restarted before it became
// ready, never stop a promotion, and every verdict shows their health.
func healthyCanaryPodsPromote(t *testing.T) {
	h := newHarness(t)
	h.stable("appmesh", "shop")
	h.metrics.set("shop-2", "healthy")
	// Restarted once while starting: counted in the baseline, not against it.
	pod := h.breakAt(statemachine.StateReady, "shop-2", restarted("Error", 1, "dependency not up yet"))
	res := h.run(h.deployJSON("appmesh", "shop", "registry.local/shop:2", nil))
	requireStatus(t, res, "SUCCEEDED", "")
	if pod() == "" {
		t.Fatal("no pod of shop-2 restarted while starting")
	}
	st := h.status("shop").Status
	if st.StableVersion != 2 {
		t.Errorf("stable version %d, want 2", st.StableVersion)
	}
	if len(st.Verdicts) == 0 {
		t.Fatal("no verdicts")
	}
	for _, v := range st.Verdicts {
		if v.Result != "pass" || !strings.HasSuffix(v.Pods, "pods healthy") {
			t.Errorf("verdict %+v, want a pass with healthy pods", v)
		}
	}
}
