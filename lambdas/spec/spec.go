// Package spec is the deploy.json contract: what a microservice's build hands
// to the canary engine. The original blog fields keep their names and meaning;
// everything added is optional and has a documented default.
package spec

// Spec is one rollout request, exactly as deploy.json carries it.
type Spec struct {
	// Fields of the original pipeline, unchanged.
	ClusterName           string  `json:"cluster_name"`
	Namespace             string  `json:"kubernetes_namespace"`
	Microservice          string  `json:"microservice_name"`
	PercentageStep        int     `json:"percentage_step"`
	WaitTime              int     `json:"wait_time"`               // seconds spent at each traffic step
	FailureThresholdValue float64 `json:"failure_threshold_value"` // 5xx count over FailureThresholdTime that fails the canary
	FailureThresholdTime  int     `json:"failure_threshold_time"`  // look-back window in seconds
	ContainerImage        string  `json:"container_image"`
	ConfigFile            string  `json:"config_file"` // base64 of kubernetes_template.yml

	// Additions.
	Router           string   `json:"router,omitempty"`   // one of contract.Routers()
	Strategy         string   `json:"strategy,omitempty"` // "canary", "blue-green" or "in-place" (stateful services)
	Steps            []int    `json:"steps,omitempty"`    // explicit canary weights; overrides percentage_step
	MaxWeight        int      `json:"max_weight,omitempty"`
	Analysis         Analysis `json:"analysis"`
	BakeTime         int      `json:"bake_time,omitempty"`         // seconds analysed at 100% before the old version goes
	ProgressDeadline int      `json:"progress_deadline,omitempty"` // seconds the canary may take to become ready
	ManualPromotion  bool     `json:"manual_promotion,omitempty"`  // hold at max_weight until promoted by an operator
	// CanaryScale is "full" (the template's replicas from the first step)
	// or "proportional" (replicas follow the weight, see scale.go).
	CanaryScale       string `json:"canary_scale,omitempty"`
	CanaryMinReplicas int    `json:"canary_min_replicas,omitempty"` // floor of a proportional canary's replicas
	Hooks             []Hook `json:"hooks,omitempty"`               // rollout hooks (hooks.go)
	// ScaleDownDelay is how long, in seconds, a blue-green rollout keeps
	// the old version running after the bake, so that a roll back is one
	// route write (see bluegreen.go).
	ScaleDownDelay *int `json:"scale_down_delay,omitempty"`
	// AB is the A/B stage ahead of the weighted steps (see ab.go).
	AB AB `json:"ab"`
}

// Analysis says how a canary is judged at every interval.
type Analysis struct {
	Interval                int      `json:"interval,omitempty"`                  // seconds between analyses
	MinSuccessRate          *float64 `json:"min_success_rate,omitempty"`          // percent of non-5xx canary responses
	MaxLatencyP99           *float64 `json:"max_latency_p99_ms,omitempty"`        // milliseconds
	MaxErrorCount           *float64 `json:"max_error_count,omitempty"`           // 5xx over the look-back window; defaults to failure_threshold_value
	MinRequestCount         int      `json:"min_request_count,omitempty"`         // below this the interval counts as no data
	NoData                  string   `json:"no_data,omitempty"`                   // "fail", "hold" or "pass"
	ConsecutiveFailureLimit int      `json:"consecutive_failure_limit,omitempty"` // failed analyses in a row that roll back
	Baseline                *bool    `json:"baseline_comparison,omitempty"`       // Mann-Whitney canary vs stable when both carry traffic
	MaxRestarts             *int     `json:"max_restarts,omitempty"`              // container restarts since the canary became ready
	UnreadyGrace            *int     `json:"unready_grace,omitempty"`             // seconds a pod may be unready while the canary carries traffic
	Alarms                  []string `json:"alarms,omitempty"`                    // CloudWatch alarms whose ALARM state rolls back
	PodCheckInterval        int      `json:"pod_check_interval,omitempty"`        // seconds between pod and alarm checks while waiting for an analysis
	// Provider is where the figures come from: contract.ProviderCloudWatch
	// (the default) or contract.ProviderPrometheus, the stack's endpoint.
	Provider string `json:"provider,omitempty"`
	// Queries are the team's own PromQL gates, judged beside the built-in
	// figures; they need provider prometheus.
	Queries []Query `json:"queries,omitempty"`
}

// Query is a named PromQL expression whose value must stay within Min and
// Max, as Flagger's MetricTemplate with a threshold range. The query may use
// the placeholders of lambdas/analysis/promql, which take the canary's own
// names; it must yield one number (a scalar or a single series).
type Query struct {
	Name  string   `json:"name"`
	Query string   `json:"query"`
	Min   *float64 `json:"min,omitempty"`
	Max   *float64 `json:"max,omitempty"`
}

// Strategy and no-data policy names.
const (
	StrategyCanary    = "canary"
	StrategyBlueGreen = "blue-green"
	StrategyInPlace   = "in-place"

	NoDataFail = "fail"
	NoDataHold = "hold"
	NoDataPass = "pass"
)
