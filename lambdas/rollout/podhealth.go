package rollout

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/eks-canary/platform/lambdas/spec"
)

// Pod health judges the canary from its own pods, which show a crash or an
// OOM kill seconds after it happens, long before a metric does.
//
// While the canary waits to become ready (Stage PodsStarting), only states
// from which the kubelet is already backing off fail it: CrashLoopBackOff,
// ImagePullBackOff, InvalidImageName, CreateContainerConfigError and a last
// termination by OOMKilled. A first ErrImagePull or a slow start is left to
// progress_deadline.
//
// Once ready (Stage PodsServing, every step and every analysis) the canary
// fails on any of those, on ErrImagePull, on more than max_restarts restarts
// of one container since it became ready, and, while it carries traffic, on
// a pod that has not been ready for unready_grace seconds.

// PodStage is the point of the rollout at which pods are judged.
type PodStage int

const (
	PodsStarting PodStage = iota // waiting for the canary to become ready
	PodsServing                  // ready: at a step or an analysis
)

// ContainerObservation is one container's status, as the kubelet reports it.
type ContainerObservation struct {
	Name     string
	Restarts int32
	// Waiting is the reason the container is not running ("CrashLoopBackOff").
	Waiting        string
	WaitingMessage string
	// The last termination, when the container has restarted.
	LastReason   string
	LastMessage  string
	LastExitCode int32
}

// PodObservation is one pod of the canary version.
type PodObservation struct {
	Name  string
	Ready bool
	// ReadyChanged is when the pod's Ready condition last changed.
	ReadyChanged time.Time
	Containers   []ContainerObservation
}

// PodPolicy is the analysis thresholds for pod health.
type PodPolicy struct {
	MaxRestarts  int
	UnreadyGrace time.Duration
}

// PodPolicyFromSpec reads the thresholds, applying the spec defaults first.
func PodPolicyFromSpec(s spec.Spec) PodPolicy {
	a := s.WithDefaults().Analysis
	return PodPolicy{MaxRestarts: *a.MaxRestarts, UnreadyGrace: time.Duration(*a.UnreadyGrace) * time.Second}
}

// PodInput is what PodVerdict judges.
type PodInput struct {
	Policy PodPolicy
	Stage  PodStage
	Pods   []PodObservation
	// Baseline is each container's restart count when the canary became
	// ready, keyed by RestartKey; a container missing from it had none.
	Baseline map[string]int32
	// Traffic is the canary's current weight.
	Traffic int
	Now     time.Time
}

// PodResult is the pod-health verdict.
type PodResult struct {
	Healthy   bool
	Pod       string
	Container string
	Cause     string // "CrashLoopBackOff", "OOMKilled", "restarted", "unready"
	Reason    string // the verdict in words, naming the pod, container and cause
}

// Failing causes that the kubelet reports only after retrying.
var backOffReasons = map[string]bool{
	"CrashLoopBackOff":           true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
}

// RestartKey names a container in Baseline.
func RestartKey(pod, container string) string { return pod + "/" + container }

// Baseline keeps the containers that have restarted already, so the state
// carried between steps stays small when the canary is healthy.
func Baseline(pods []PodObservation) map[string]int32 {
	var out map[string]int32
	for _, p := range pods {
		for _, c := range p.Containers {
			if c.Restarts > 0 {
				if out == nil {
					out = map[string]int32{}
				}
				out[RestartKey(p.Name, c.Name)] = c.Restarts
			}
		}
	}
	return out
}

// PodVerdict judges the canary's pods; the first failing pod, in name
// order, gives the reason.
func PodVerdict(in PodInput) PodResult {
	pods := append([]PodObservation(nil), in.Pods...)
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for _, p := range pods {
		for _, c := range p.Containers {
			if r, bad := containerVerdict(in, p, c); bad {
				return r
			}
		}
		if in.Stage == PodsServing && in.Traffic > 0 && !p.Ready && !p.ReadyChanged.IsZero() {
			if unready := in.Now.Sub(p.ReadyChanged); unready >= in.Policy.UnreadyGrace {
				return PodResult{Pod: p.Name, Cause: "unready", Reason: fmt.Sprintf(
					"pod %s is not ready for %s while the canary carries %d%% of traffic (unready_grace %s)",
					p.Name, unready.Round(time.Second), in.Traffic, in.Policy.UnreadyGrace)}
			}
		}
	}
	return PodResult{Healthy: true, Reason: fmt.Sprintf("%d pods healthy", len(pods))}
}

func containerVerdict(in PodInput, p PodObservation, c ContainerObservation) (PodResult, bool) {
	fail := func(cause, what string) (PodResult, bool) {
		return PodResult{Pod: p.Name, Container: c.Name, Cause: cause,
			Reason: fmt.Sprintf("pod %s container %s %s%s", p.Name, c.Name, what, lastTermination(c))}, true
	}
	since := c.Restarts - in.Baseline[RestartKey(p.Name, c.Name)]
	switch {
	case backOffReasons[c.Waiting]:
		return fail(c.Waiting, "is in "+c.Waiting+withMessage(c.WaitingMessage))
	case in.Stage == PodsServing && c.Waiting == "ErrImagePull":
		return fail(c.Waiting, "cannot pull its image (ErrImagePull"+withMessage(c.WaitingMessage)+")")
	// Once ready, only a kill after the baseline counts: one before it was
	// judged while the canary started.
	case c.LastReason == "OOMKilled" && (in.Stage == PodsStarting || since > 0):
		return fail("OOMKilled", "was OOMKilled")
	}
	if in.Stage == PodsServing && since > int32(in.Policy.MaxRestarts) {
		return fail("restarted", fmt.Sprintf("restarted %d times since the canary became ready (max_restarts %d)", since, in.Policy.MaxRestarts))
	}
	return PodResult{}, false
}

func withMessage(m string) string {
	if m = strings.TrimSpace(m); m == "" {
		return ""
	}
	return ": " + m
}

// lastTermination is the container's last exit in words: reason, exit code
// and the message it left.
func lastTermination(c ContainerObservation) string {
	if c.LastReason == "" && c.LastExitCode == 0 {
		return ""
	}
	s := fmt.Sprintf("; last terminated: %s, exit code %d", orUnknown(c.LastReason), c.LastExitCode)
	if m := strings.TrimSpace(c.LastMessage); m != "" {
		const limit = 200
		if r := []rune(m); len(r) > limit {
			m = string(r[:limit]) + "..."
		}
		s += ", message " + fmt.Sprintf("%q", m)
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown reason"
	}
	return s
}
