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

// Rollout is the progress of one rollout, carried from Task to Task in the
// execution's state. Its parts are embedded so that the state's JSON stays
// flat: the definition reads $.rollout.wait_seconds and the like.
type Rollout struct {
	Versions
	Progress
	Judgement
	Scaling
	HookProgress
	Decision
}

// Versions is what the execution rolls out and what it replaces: fixed
// once Lock and Deploy have run.
type Versions struct {
	Execution     string `json:"execution"`
	Version       int    `json:"version"`        // the canary
	StableVersion int    `json:"stable_version"` // 0 on a first deployment
	StableImage   string `json:"stable_image,omitempty"`
	// StableTemplate is the stable version's config_file, for roll back.
	StableTemplate string `json:"stable_template,omitempty"`
	// Plan is the weights of the steps, the last one 100.
	Plan      []int     `json:"plan,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// TookOver is the abandoned rollout this one rolled back at Lock.
	TookOver *status.TakeOver `json:"took_over,omitempty"`
	// Warnings are probeQueries' findings, shown in the status.
	Warnings []string `json:"warnings,omitempty"`
}

// Progress is where traffic stands and what the last writes left.
type Progress struct {
	// Step indexes Plan; -1 until traffic first moves to the canary.
	Step          int       `json:"step"`
	Weight        int       `json:"weight"`
	DeployedAt    time.Time `json:"deployed_at"`
	StepStartedAt time.Time `json:"step_started_at"`
	BakeStartedAt time.Time `json:"bake_started_at"`
	// RouteVersions is the resourceVersion each route object (routeKey)
	// was left at by this execution's last write of it, so the next shift
	// writes without reading the route first (writeRoute).
	RouteVersions map[string]string `json:"route_versions,omitempty"`
	// StatusVersion is the resourceVersion of the status this execution
	// last read, so that a shift reads it from the API server's watch
	// cache, no older than that (oursCached).
	StatusVersion string `json:"status_version,omitempty"`
	// StatusBehind says a shift moved traffic without writing the status;
	// the next check writes it (check).
	StatusBehind bool `json:"status_behind,omitempty"`
	// Preview says how to reach a blue-green rollout's new version through
	// its preview route; empty without one.
	Preview string `json:"preview,omitempty"`
}

// Judgement is what the analyses and the checks between them found.
type Judgement struct {
	ConsecutiveFailures int              `json:"consecutive_failures"`
	NoDataSince         time.Time        `json:"no_data_since"`
	Verdicts            []status.Verdict `json:"verdicts,omitempty"`
	// PodRestarts is the canary's container restart counts when it became
	// ready, only of containers that had restarted (rollout.Baseline), so
	// a healthy canary adds nothing to the state.
	PodRestarts map[string]int32 `json:"pod_restarts,omitempty"`
	// AnalyseAt is when the next analysis is due; the checks between
	// analyses (Checks so far in this execution) hand over to it then.
	AnalyseAt time.Time `json:"analyse_at"`
	Checks    int       `json:"checks,omitempty"`
}

// Scaling is the canary's size under canary_scale "proportional": the
// replicas the canary workload was last set to, the template's count, and
// since when a scale-up before a shift has been waited for (zero when none
// is).
type Scaling struct {
	CanaryReplicas   int       `json:"canary_replicas,omitempty"`
	TemplateReplicas int       `json:"template_replicas,omitempty"`
	ScalingSince     time.Time `json:"scaling_since"`
}

// HookProgress is the hook point being run (hooks.go) and the latest
// results, newest first.
type HookProgress struct {
	Hook  *HookRun            `json:"hook,omitempty"`
	Hooks []status.HookResult `json:"hooks,omitempty"`
}

// Decision is what one step decided, read by the state machine's Choice
// and Wait states and replaced by the next step.
type Decision struct {
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
