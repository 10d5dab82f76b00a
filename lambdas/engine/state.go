package engine

import (
	"encoding/json"
	"time"

	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/status"
)

// Event is the Lambda payload the state machine sends to every Task.
type Event struct {
	Action    string          `json:"action"`
	Execution string          `json:"execution"`
	State     json.RawMessage `json:"state"`
}

// State is the execution's data: deploy.json as the pipeline wrote it, the
// rollout's progress, and the error a Catch recorded on the way to Roll back.
type State struct {
	spec.Spec
	Rollout *Rollout     `json:"rollout,omitempty"`
	Error   *CaughtError `json:"error,omitempty"`
}

// CaughtError is what Step Functions stores at ResultPath $.error.
type CaughtError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Rollout is the progress of one rollout, carried from Task to Task.
type Rollout struct {
	Execution     string `json:"execution"`
	Version       int    `json:"version"`        // the canary
	StableVersion int    `json:"stable_version"` // 0 on a first deployment
	StableImage   string `json:"stable_image,omitempty"`
	// StableTemplate is the stable version's config_file, for roll back.
	StableTemplate string `json:"stable_template,omitempty"`
	Plan           []int  `json:"plan,omitempty"`
	// Step indexes Plan; -1 until traffic first moves to the canary.
	Step   int `json:"step"`
	Weight int `json:"weight"`

	StartedAt     time.Time `json:"started_at"`
	DeployedAt    time.Time `json:"deployed_at"`
	StepStartedAt time.Time `json:"step_started_at"`
	BakeStartedAt time.Time `json:"bake_started_at"`

	ConsecutiveFailures int              `json:"consecutive_failures"`
	NoDataSince         time.Time        `json:"no_data_since"`
	Verdicts            []status.Verdict `json:"verdicts,omitempty"`
	// PodRestarts is the canary's container restart counts when it became
	// ready, only of containers that had restarted (rollout.Baseline), so
	// a healthy canary adds nothing to the state.
	PodRestarts map[string]int32 `json:"pod_restarts,omitempty"`
	// TookOver is the abandoned rollout this one rolled back at Lock.
	TookOver *status.TakeOver `json:"took_over,omitempty"`
	// Under canary_scale "proportional": the replicas the canary workload
	// was last set to, the template's count, and since when a scale-up
	// before a shift has been waited for (zero when none is).
	CanaryReplicas   int       `json:"canary_replicas,omitempty"`
	TemplateReplicas int       `json:"template_replicas,omitempty"`
	ScalingSince     time.Time `json:"scaling_since"`

	// RouteVersions is the resourceVersion each route object (routeKey)
	// was left at by this execution's last write of it, so the next shift
	// writes without reading the route first (writeRoute).
	RouteVersions map[string]string `json:"route_versions,omitempty"`
	// StatusBehind says a shift moved traffic without writing the status;
	// the next check writes it (check).
	StatusBehind bool `json:"status_behind,omitempty"`

	// Preview says how to reach a blue-green rollout's new version through
	// its preview route; empty without one.
	Preview string `json:"preview,omitempty"`

	// AnalyseAt is when the next analysis is due; the checks between
	// analyses (Checks so far in this execution) hand over to it then.
	AnalyseAt time.Time `json:"analyse_at"`
	Checks    int       `json:"checks,omitempty"`
	// Hook is the hook point being run (hooks.go); Hooks the latest
	// results, newest first.
	Hook  *HookRun            `json:"hook,omitempty"`
	Hooks []status.HookResult `json:"hooks,omitempty"`

	// Read by the state machine.
	Ready       bool `json:"ready"`
	WaitSeconds int  `json:"wait_seconds"`
	// CheckSeconds is the wait before the next check of pods and alarms.
	CheckSeconds int    `json:"check_seconds"`
	Next         string `json:"next,omitempty"`
	NextWeight   int    `json:"next_weight"`
	NextStep     int    `json:"next_step"`
	Reason       string `json:"reason,omitempty"`
}

// firstDeployment reports whether no version serves traffic yet.
func (r *Rollout) firstDeployment() bool { return r.StableVersion == 0 }

// routeVersions is r.RouteVersions, made on first use.
func (r *Rollout) routeVersions() map[string]string {
	if r.RouteVersions == nil {
		r.RouteVersions = map[string]string{}
	}
	return r.RouteVersions
}

// keepVerdicts bounds the verdicts carried in the execution state and status.
const keepVerdicts = 5

func (r *Rollout) record(v status.Verdict) {
	r.Verdicts = append([]status.Verdict{v}, r.Verdicts...)
	if len(r.Verdicts) > keepVerdicts {
		r.Verdicts = r.Verdicts[:keepVerdicts]
	}
}
