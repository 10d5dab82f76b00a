// Package status is a microservice's rollout status as it lives in the
// cluster: a ConfigMap named <microservice>-rollout, readable with kubectl.
// The engine writes the status at every step; operators write requests
// (pause, resume, promote, abort) that the engine honours at its next step.
package status

import (
	"time"

	"github.com/eks-canary/platform/lambdas/spec"
)

// Phases of a rollout.
const (
	PhaseProgressing = "Progressing" // shifting traffic and analysing
	PhaseWaitingPods = "WaitingForReady"
	PhasePaused      = "Paused"           // held by an operator
	PhaseWaiting     = "WaitingPromotion" // at max weight, waiting for a manual promote
	PhaseBaking      = "Baking"           // at 100%, still analysing
	PhaseSucceeded   = "Succeeded"
	PhaseRolledBack  = "RolledBack"
	PhaseFailed      = "Failed" // roll back itself failed; needs an operator (canaryctl recover)
	// PhaseInvalid: the API server refused the new version's objects in a
	// dry run; nothing was written and traffic never moved.
	PhaseInvalid = "Invalid"
)

// Terminal reports whether a phase ends a rollout.
func Terminal(phase string) bool {
	return phase == PhaseSucceeded || phase == PhaseRolledBack || phase == PhaseFailed || phase == PhaseInvalid
}

// Operator requests.
const (
	RequestPromote = "promote"
	RequestAbort   = "abort"
)

// Verdict is one analysis result with the figures it was based on.
type Verdict struct {
	At          time.Time `json:"at"`
	Weight      int       `json:"weight"`
	Result      string    `json:"result"` // "pass", "fail", "nodata"
	Requests    float64   `json:"requests"`
	Errors      float64   `json:"errors"`
	SuccessRate *float64  `json:"successRate,omitempty"`
	LatencyP99  *float64  `json:"latencyP99Ms,omitempty"`
	PValue      *float64  `json:"pValue,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	// Pods is the pod-health verdict, judged before the metrics.
	Pods string `json:"pods,omitempty"`
	// Alarms is the verdict of the CloudWatch alarm gates, judged before
	// the metrics; empty when deploy.json names no alarms.
	Alarms string `json:"alarms,omitempty"`
	// Queries are the answers of deploy.json's custom queries
	// (analysis.queries), whose text the status's Analysis shows.
	Queries []QueryResult `json:"queries,omitempty"`
}

// QueryResult is one custom query's answer for the canary; Value is nil
// when the query returned no series.
type QueryResult struct {
	Name    string   `json:"name"`
	Value   *float64 `json:"value,omitempty"`
	Problem string   `json:"problem,omitempty"`
}

// Status is what the engine reports about the current (or last) rollout.
type Status struct {
	Microservice  string `json:"microservice"`
	Namespace     string `json:"namespace"`
	Execution     string `json:"execution"`
	Router        string `json:"router"`
	Strategy      string `json:"strategy"`
	StableVersion int    `json:"stableVersion"`
	StableImage   string `json:"stableImage"`
	// StableTemplate is the stable version's config_file (base64), so a
	// roll back restores its objects as they were, not as the canary's
	// template would render them.
	StableTemplate string    `json:"stableTemplate,omitempty"`
	CanaryVersion  int       `json:"canaryVersion"`
	CanaryImage    string    `json:"canaryImage"`
	Weight         int       `json:"weight"`
	NextWeight     int       `json:"nextWeight"`
	Step           int       `json:"step"`
	Steps          int       `json:"steps"`
	Phase          string    `json:"phase"`
	Verdicts       []Verdict `json:"verdicts,omitempty"` // the most recent first, a few at most
	Reason         string    `json:"reason,omitempty"`   // why the rollout rolled back or failed
	StartedAt      time.Time `json:"startedAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	// LastVersion is the highest version ever deployed, so a rolled-back
	// version number is never reused.
	LastVersion int `json:"lastVersion"`
	// CanaryTemplate is the canary's config_file, kept only once its roll
	// back failed, so that a recovery can finish it from the status alone.
	CanaryTemplate string `json:"canaryTemplate,omitempty"`
	// TookOver is set when this rollout started by rolling back a rollout
	// abandoned with a stale lock.
	TookOver *TakeOver `json:"tookOver,omitempty"`
	// Warnings are what the rollout found doubtful as it started and did
	// not refuse: a custom query that found no series for the stable
	// version.
	Warnings []string `json:"warnings,omitempty"`
	// Replicas is set when the canary's replicas follow its weight.
	Replicas *Replicas `json:"replicas,omitempty"`
	// BlueGreen is set while a blue-green rollout with a stable version runs.
	BlueGreen *BlueGreen `json:"blueGreen,omitempty"`
	// Stage names the A/B stage while the route carries it:
	// "ab: x-canary=always → shop-2"; empty at the weighted steps.
	Stage string `json:"stage,omitempty"`
	// Timeline is this execution's weight, phase and analysis figures over
	// time, oldest first, at most TimelineLimit points. The store carries it
	// from write to write; a written Status's own Timeline is ignored.
	Timeline []Point `json:"timeline,omitempty"`
	// Analysis is the rollout's analysis settings with their defaults
	// applied: the gates its verdicts are judged by, shown beside them.
	Analysis *spec.Analysis `json:"analysis,omitempty"`
	// Hooks are the latest hook results, newest first (HookResultLimit).
	Hooks []HookResult `json:"hooks,omitempty"`
}

// TakeOver records the abandoned rollout a new one rolled back before it started.
type TakeOver struct {
	Execution string    `json:"execution"` // the abandoned rollout's
	Version   int       `json:"version"`   // its canary, removed
	At        time.Time `json:"at"`
}

// Control is what operators ask of the engine. Paused holds the weight until
// resumed; Request is one-shot and consumed by the engine when honoured.
type Control struct {
	Paused  bool   `json:"paused"`
	Request string `json:"request,omitempty"` // "promote" or "abort"
}

// Record is one finished rollout, kept in the history.
type Record struct {
	// Microservice names the ConfigMap the record goes to.
	Microservice  string    `json:"microservice"`
	CanaryVersion int       `json:"canaryVersion"`
	CanaryImage   string    `json:"canaryImage"`
	StableVersion int       `json:"stableVersion"`
	Phase         string    `json:"phase"`
	Reason        string    `json:"reason,omitempty"`
	Execution     string    `json:"execution"`
	StartedAt     time.Time `json:"startedAt"`
	FinishedAt    time.Time `json:"finishedAt"`
}

// ConfigMap data keys. Status, control and history are separate keys so
// that the engine and canaryctl each own theirs under server-side apply.
const (
	KeyStatus  = "status"  // JSON Status, written by the engine
	KeyHistory = "history" // JSON []Record, newest first, written by the engine
	KeyPaused  = "paused"  // "true"/"false", written by canaryctl
	KeyRequest = "request" // "promote"/"abort"/"", written by canaryctl, cleared by the engine
	// KeySummary keys are plain strings so that `kubectl get cm -o yaml` reads well.
	KeyPhase         = "phase"
	KeyWeight        = "weight"
	KeyCanaryVersion = "canaryVersion"
	KeyStableVersion = "stableVersion"
	KeyReason        = "reason"
)

// HistoryLimit is how many finished rollouts the history keeps.
const HistoryLimit = 20

// VerdictLimit is how many verdicts a written status keeps, newest first.
const VerdictLimit = 5
