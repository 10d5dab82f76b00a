package spec

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eks-canary/platform/lambdas/analysis/promql"
	"github.com/eks-canary/platform/lambdas/contract"
)

// Defaults and limits. They are exported so that the defaults table in
// README.md, the engine and the tests quote one source.
const (
	DefaultPercentageStep          = 10
	DefaultWaitTime                = 60  // 90 (MinWaitTimeGatewayAPI) for router gatewayapi
	DefaultFailureThresholdValue   = 0   // as the original Lambda
	DefaultFailureThresholdTime    = 600 // as the original Lambda
	DefaultStrategy                = StrategyCanary
	DefaultMaxWeight               = 100
	DefaultInterval                = 60
	DefaultMinRequestCount         = 1
	DefaultNoData                  = NoDataHold // NoDataPass for strategy in-place
	DefaultConsecutiveFailureLimit = 2
	DefaultProgressDeadline        = 600
	DefaultBaselineComparison      = true
	DefaultMaxRestarts             = 0
	DefaultUnreadyGrace            = 30 // seconds; longer than a readiness probe's usual failureThreshold × periodSeconds

	MinWaitTime           = 10
	MinWaitTimeGatewayAPI = int(contract.LatticeSettleTime / time.Second) // VPC Lattice needs about 90 s to apply a weight change
	MaxWaitTime           = 86400
	MinLookBack           = 60 // one CloudWatch period
	MaxLookBack           = 86400
	MinInterval           = 10
	// MaxInterval keeps the gap between two analyses, which renew the
	// rollout's lock, well inside the lock's 30-minute lease with the
	// state machine's retries on top: a longer gap would let another
	// execution take over a rollout that is still running.
	MaxInterval           = 900
	MaxFailureLimit       = 10
	MaxMaxRestarts        = 100
	MaxUnreadyGrace       = 3600
	MaxBakeTime           = 86400
	MinProgressDeadline   = 60
	MaxProgressDeadline   = 86400
	MaxMicroserviceLength = 50 // leaves room for "-<version>" and "-rollout-lock" in 63-character names

	// Step Functions carries at most 256 KiB between states. The state
	// holds deploy.json (with the template in base64), the stable
	// version's template for roll back, and the rollout's progress; these
	// limits keep all of it under the engine's state budget
	// (engine.MaxStateBytes) with room to spare.
	MaxDeployJSONBytes = 64 << 10 // deploy.json as the build writes it
	MaxTemplateBytes   = 32 << 10 // kubernetes_template.yml, decoded from config_file
)

// FieldError is one bad field: which, what value, what is wrong and what to
// write instead.
type FieldError struct {
	Field   string // JSON path, e.g. "analysis.interval" or "steps[2]"
	Value   string // the value as given; empty when the field is missing
	Problem string // e.g. "is not allowed"
	Allowed string // the fix, e.g. "use 1..100"
}

func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Field)
	b.WriteString(": ")
	if e.Value != "" {
		b.WriteString(e.Value)
		b.WriteString(" ")
	}
	b.WriteString(e.Problem)
	if e.Allowed != "" {
		b.WriteString(": ")
		b.WriteString(e.Allowed)
	}
	return b.String()
}

// ValidationError lists every problem found in a deploy.json.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	problems := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		problems[i] = p.Error()
	}
	return ListProblems("invalid deploy.json", problems)
}

// Concerns reports whether any problem is about one of fields, or about
// the document as a whole ("deploy.json").
func (e *ValidationError) Concerns(fields ...string) bool {
	for _, p := range e.Problems {
		if f := rootField(p.Field); f == "deploy.json" || slices.Contains(fields, f) {
			return true
		}
	}
	return false
}

// ListProblems writes every problem under one title, so that all input the
// engine refuses (deploy.json, its template) reads alike: "title: problem",
// or "title: N problems:" and one line each.
func ListProblems(title string, problems []string) string {
	if len(problems) == 1 {
		return title + ": " + problems[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems:", title, len(problems))
	for _, p := range problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// applyDefaults fills every optional field left unset. Zero values mean
// "unset" here; Parse has already refused explicit zeros where they matter.
func (s *Spec) applyDefaults() {
	if s.PercentageStep == 0 {
		s.PercentageStep = DefaultPercentageStep
	}
	if s.Router == "" {
		s.Router = DefaultRouter
	}
	if s.WaitTime == 0 {
		s.WaitTime = DefaultWaitTime
		if s.Router == contract.RouterGatewayAPI {
			s.WaitTime = MinWaitTimeGatewayAPI
		}
	}
	if s.FailureThresholdTime == 0 {
		s.FailureThresholdTime = DefaultFailureThresholdTime
	}
	if s.Strategy == "" {
		s.Strategy = DefaultStrategy
	}
	if s.MaxWeight == 0 {
		s.MaxWeight = DefaultMaxWeight
	}
	if s.ProgressDeadline == 0 {
		s.ProgressDeadline = DefaultProgressDeadline
	}
	s.applyScaleDefaults()
	s.applyBlueGreenDefaults()
	s.applyABDefaults()
	a := &s.Analysis
	if a.Interval == 0 {
		a.Interval = min(DefaultInterval, s.WaitTime)
	}
	if a.MaxErrorCount == nil {
		v := s.FailureThresholdValue
		a.MaxErrorCount = &v
	}
	if a.MinRequestCount == 0 {
		a.MinRequestCount = DefaultMinRequestCount
	}
	if a.Provider == "" {
		a.Provider = contract.Providers()[0]
	}
	if a.NoData == "" {
		a.NoData = DefaultNoData
		if s.Strategy == StrategyInPlace {
			// Stateful services speak TCP: no HTTP metrics will ever come,
			// so readiness is their check.
			a.NoData = NoDataPass
		}
	}
	if a.ConsecutiveFailureLimit == 0 {
		a.ConsecutiveFailureLimit = DefaultConsecutiveFailureLimit
	}
	if a.Baseline == nil {
		v := DefaultBaselineComparison
		a.Baseline = &v
	}
	if a.MaxRestarts == nil {
		v := DefaultMaxRestarts
		a.MaxRestarts = &v
	}
	if a.UnreadyGrace == nil {
		v := DefaultUnreadyGrace
		a.UnreadyGrace = &v
	}
	if a.PodCheckInterval == 0 {
		a.PodCheckInterval = min(DefaultPodCheckInterval, a.Interval)
	}
	s.applyHookDefaults()
}

// WithDefaults returns s with every unset optional field given its default,
// for specs that did not come through Parse (for example rebuilt from state).
func (s Spec) WithDefaults() Spec {
	s.Steps = append([]int(nil), s.Steps...)
	s.Analysis.Alarms = append([]string(nil), s.Analysis.Alarms...)
	s.Hooks = slices.Clone(s.Hooks)
	s.AB.Headers = append([]HeaderMatch(nil), s.AB.Headers...)
	s.applyDefaults()
	return s
}

// Validate checks a spec whose defaults are applied and returns a
// *ValidationError listing every problem, or nil.
func (s Spec) Validate() error {
	if p := s.problems(); len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

// ValidateWithin is Validate, and for a valid spec also refuses a plan
// that cannot finish inside one execution's limits (budget.go).
func (s Spec) ValidateWithin(l Limits) error {
	p := s.problems()
	if len(p) == 0 {
		p = s.limitProblems(l)
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

var (
	dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1035Label = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	clusterName  = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$`)
)

func (s Spec) problems() []FieldError {
	var out []FieldError
	add := func(field, value, problem, allowed string) {
		out = append(out, FieldError{Field: field, Value: value, Problem: problem, Allowed: allowed})
	}
	missing := func(field, allowed string) { add(field, "", "is missing", allowed) }

	// Names become Kubernetes object names and labels.
	switch {
	case s.Microservice == "":
		missing("microservice_name", "give the microservice's name, e.g. \"yelb-appserver\"")
	case len(s.Microservice) > MaxMicroserviceLength || !dns1035Label.MatchString(s.Microservice):
		add("microservice_name", QuoteValue(s.Microservice), "is not allowed",
			fmt.Sprintf("use at most %d lower-case letters, digits and '-', starting with a letter and ending with a letter or digit (it names Services \"<name>-<version>\")", MaxMicroserviceLength))
	}
	switch {
	case s.Namespace == "":
		missing("kubernetes_namespace", "give the application namespace, e.g. \"yelb\"")
	case len(s.Namespace) > 63 || !dns1123Label.MatchString(s.Namespace):
		add("kubernetes_namespace", QuoteValue(s.Namespace), "is not a valid namespace name",
			"use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit")
	default:
		if why := ReservedNamespace(s.Namespace); why != "" {
			add("kubernetes_namespace", strconv.Quote(s.Namespace), "is refused: "+why,
				"use the application namespace the environment created (the stack's namespace, e.g. \"yelb\")")
		}
	}
	switch {
	case s.ClusterName == "":
		missing("cluster_name", "give the EKS cluster name")
	case !clusterName.MatchString(s.ClusterName):
		add("cluster_name", QuoteValue(s.ClusterName), "is not a valid EKS cluster name",
			"use 1..100 letters, digits, '-' and '_', starting with a letter or digit")
	}
	switch {
	case s.ContainerImage == "":
		missing("container_image", "give the image built for this version, e.g. \"123456789012.dkr.ecr.us-west-2.amazonaws.com/yelb-ui:2026-01-01_10.00.00.abcdef12\"")
	default:
		if why := imageProblem(s.ContainerImage); why != "" {
			add("container_image", QuoteValue(s.ContainerImage), "is not a valid image reference", why)
		} else if why := ImagePinProblem(s.ContainerImage); why != "" {
			add("container_image", QuoteValue(s.ContainerImage), why,
				"tag every build with its own version (build.yml tags <commit>-<time>) or use a digest (@sha256:...): a roll back must bring the same image back")
		}
	}
	if s.ConfigFile == "" {
		missing("config_file", "give kubernetes_template.yml encoded as base64 (build.yml does: base64 -w0 specfiles/kubernetes_template.yml)")
	} else if why, fix := configProblem(s.ConfigFile); why != "" {
		add("config_file", "", why, fix)
	}

	switch s.Router {
	case contract.RouterAppMesh, contract.RouterGatewayAPI:
	default:
		add("router", QuoteValue(s.Router), "is not a known router", quoteAll(contract.Routers()))
	}
	switch s.Strategy {
	case StrategyCanary, StrategyBlueGreen, StrategyInPlace:
	default:
		add("strategy", QuoteValue(s.Strategy), "is not a known strategy", `use "canary", "blue-green" or "in-place" (stateful services with one StatefulSet)`)
	}

	if s.PercentageStep < 1 || s.PercentageStep > 100 {
		add("percentage_step", strconv.Itoa(s.PercentageStep), "is not allowed", "use 1..100 (percent of traffic added at each step)")
	}
	for i, w := range s.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		switch {
		case w < 1 || w > 100:
			add(field, strconv.Itoa(w), "is not allowed", "use weights 1..100")
		case i > 0 && w <= s.Steps[i-1]:
			add(field, strconv.Itoa(w), "is not allowed", fmt.Sprintf("weights must increase strictly: it follows %d", s.Steps[i-1]))
		}
	}
	if s.MaxWeight < 1 || s.MaxWeight > 100 {
		add("max_weight", strconv.Itoa(s.MaxWeight), "is not allowed", "use 1..100, or leave it out for no cap")
	}

	minWait := MinWaitTime
	if s.Router == contract.RouterGatewayAPI {
		minWait = MinWaitTimeGatewayAPI
	}
	switch {
	case s.WaitTime < minWait && s.Router == contract.RouterGatewayAPI:
		add("wait_time", strconv.Itoa(s.WaitTime), "is too short for router "+strconv.Quote(contract.RouterGatewayAPI),
			fmt.Sprintf("use %d..%d seconds: VPC Lattice needs about %d s to apply each weight change, so a shorter step judges the previous weight", MinWaitTimeGatewayAPI, MaxWaitTime, MinWaitTimeGatewayAPI))
	case s.WaitTime < minWait || s.WaitTime > MaxWaitTime:
		add("wait_time", strconv.Itoa(s.WaitTime), "is not allowed", fmt.Sprintf("use %d..%d seconds", minWait, MaxWaitTime))
	}
	if s.FailureThresholdValue < 0 {
		add("failure_threshold_value", formatFloat(s.FailureThresholdValue), "is not allowed", "use 0 or more (5xx responses tolerated over failure_threshold_time)")
	}
	if s.FailureThresholdTime < MinLookBack || s.FailureThresholdTime > MaxLookBack {
		add("failure_threshold_time", strconv.Itoa(s.FailureThresholdTime), "is not allowed",
			fmt.Sprintf("use %d..%d seconds of look-back (CloudWatch keeps one-minute periods)", MinLookBack, MaxLookBack))
	}
	if s.BakeTime < 0 || s.BakeTime > MaxBakeTime {
		add("bake_time", strconv.Itoa(s.BakeTime), "is not allowed", fmt.Sprintf("use 0..%d seconds", MaxBakeTime))
	}
	if s.ProgressDeadline < MinProgressDeadline || s.ProgressDeadline > MaxProgressDeadline {
		add("progress_deadline", strconv.Itoa(s.ProgressDeadline), "is not allowed", fmt.Sprintf("use %d..%d seconds", MinProgressDeadline, MaxProgressDeadline))
	}
	if s.ManualPromotion && s.Strategy == StrategyInPlace {
		add("manual_promotion", "true", "is not allowed with strategy \"in-place\"", "in-place rollouts have no canary weight to hold at; remove manual_promotion or use strategy \"canary\"")
	}

	if s.ManualPromotion && s.Strategy == StrategyCanary && !s.holdsBelowFull() {
		add("manual_promotion", "true", "has no canary weight below 100 to hold at",
			"lower percentage_step below 100, list steps below 100, set max_weight below 100, or hold at an A/B stage (ab)")
	}

	out = append(out, s.scaleProblems()...)
	out = append(out, s.blueGreenProblems()...)
	out = append(out, s.abProblems()...)

	a := s.Analysis
	if highest := min(s.WaitTime, MaxInterval); a.Interval < MinInterval || a.Interval > highest {
		add("analysis.interval", strconv.Itoa(a.Interval), "is not allowed",
			fmt.Sprintf("use %d..%d seconds (at most wait_time and at most %d)", MinInterval, max(MinInterval, highest), MaxInterval))
	}
	if a.MinSuccessRate != nil && (*a.MinSuccessRate < 0 || *a.MinSuccessRate > 100) {
		add("analysis.min_success_rate", formatFloat(*a.MinSuccessRate), "is not allowed", "use a percentage 0..100, e.g. 99")
	}
	if a.MaxLatencyP99 != nil && *a.MaxLatencyP99 <= 0 {
		add("analysis.max_latency_p99_ms", formatFloat(*a.MaxLatencyP99), "is not allowed", "use milliseconds above 0, e.g. 500")
	}
	if !slices.Contains(contract.Providers(), a.Provider) {
		add("analysis.provider", QuoteValue(a.Provider), "is not a known metric source",
			fmt.Sprintf("use %q (the default) or %q (the stack's Prometheus or Amazon Managed Service for Prometheus endpoint)", contract.ProviderCloudWatch, contract.ProviderPrometheus))
	}
	if a.MaxLatencyP99 != nil && s.Router != contract.RouterGatewayAPI && a.Provider != contract.ProviderPrometheus {
		add("analysis.max_latency_p99_ms", formatFloat(*a.MaxLatencyP99), "needs router "+strconv.Quote(contract.RouterGatewayAPI)+" or provider "+strconv.Quote(contract.ProviderPrometheus),
			"App Mesh metrics in CloudWatch carry response counts but no latency; remove max_latency_p99_ms, use router "+strconv.Quote(contract.RouterGatewayAPI)+
				", or set analysis.provider to "+strconv.Quote(contract.ProviderPrometheus))
	}
	out = append(out, s.queryProblems()...)
	if a.MaxErrorCount != nil && *a.MaxErrorCount < 0 {
		add("analysis.max_error_count", formatFloat(*a.MaxErrorCount), "is not allowed", "use 0 or more")
	}
	if a.MinRequestCount < 1 {
		add("analysis.min_request_count", strconv.Itoa(a.MinRequestCount), "is not allowed", "use 1 or more")
	}
	switch a.NoData {
	case NoDataFail, NoDataHold, NoDataPass:
	default:
		add("analysis.no_data", QuoteValue(a.NoData), "is not a known policy", `use "hold" (wait for traffic until progress_deadline), "fail" or "pass"`)
	}
	if a.ConsecutiveFailureLimit < 1 || a.ConsecutiveFailureLimit > MaxFailureLimit {
		add("analysis.consecutive_failure_limit", strconv.Itoa(a.ConsecutiveFailureLimit), "is not allowed", fmt.Sprintf("use 1..%d", MaxFailureLimit))
	}
	if a.MaxRestarts != nil && (*a.MaxRestarts < 0 || *a.MaxRestarts > MaxMaxRestarts) {
		add("analysis.max_restarts", strconv.Itoa(*a.MaxRestarts), "is not allowed",
			fmt.Sprintf("use 0..%d (container restarts tolerated after the canary became ready; 0 rolls back on the first)", MaxMaxRestarts))
	}
	if a.UnreadyGrace != nil && (*a.UnreadyGrace < 0 || *a.UnreadyGrace > MaxUnreadyGrace) {
		add("analysis.unready_grace", strconv.Itoa(*a.UnreadyGrace), "is not allowed",
			fmt.Sprintf("use 0..%d seconds a pod may stay unready while the canary carries traffic", MaxUnreadyGrace))
	}
	out = append(out, gateProblems(a)...)
	// The call budget judges an HTTP hook's timeout with its retries and
	// pauses, in place of the rougher product hookProblems checks.
	calls := s.hookCallProblems()
	return append(append(out, withoutFields(s.hookProblems(), calls)...), calls...)
}

// Custom query limits: each query's value is kept in every verdict of the
// status and its timeline, so their number and size are bounded.
const (
	MaxQueries    = 5
	MaxQueryBytes = 1024
)

var queryName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$`)

// queryProblems checks analysis.queries: named, bounded, and PromQL that
// promql.Expand accepts, the same check the provider makes before it sends
// one.
func (s Spec) queryProblems() []FieldError {
	var out []FieldError
	add := func(field, value, problem, allowed string) {
		out = append(out, FieldError{Field: field, Value: value, Problem: problem, Allowed: allowed})
	}
	qs := s.Analysis.Queries
	if len(qs) == 0 {
		return nil
	}
	if s.Analysis.Provider != contract.ProviderPrometheus {
		add("analysis.queries", fmt.Sprintf("%d queries", len(qs)), "need provider "+strconv.Quote(contract.ProviderPrometheus),
			"set analysis.provider to "+strconv.Quote(contract.ProviderPrometheus)+" (the stack's "+contract.ConfigPrometheusWorkspace+" or "+contract.ConfigPrometheusQueryURL+"), or remove analysis.queries")
	}
	if len(qs) > MaxQueries {
		add("analysis.queries", fmt.Sprintf("%d queries", len(qs)), "are too many", fmt.Sprintf("use at most %d", MaxQueries))
		return out
	}
	vars := promql.Vars{Namespace: "namespace", Microservice: s.Microservice, Version: s.Microservice + "-1",
		Interval: time.Duration(max(s.FailureThresholdTime, MinLookBack)) * time.Second}
	seen := map[string]bool{}
	for i, q := range qs {
		field := fmt.Sprintf("analysis.queries[%d]", i)
		switch {
		case !queryName.MatchString(q.Name):
			add(field+".name", QuoteValue(q.Name), "is not a query name", "use 1-32 lower-case letters, digits and '-', starting with a letter, e.g. \"queue-errors\"")
		case seen[q.Name]:
			add(field+".name", QuoteValue(q.Name), "is used by an earlier query", "give each query its own name")
		}
		seen[q.Name] = true
		switch {
		case len(q.Query) > MaxQueryBytes:
			add(field+".query", FormatSize(len(q.Query)), "is too long", fmt.Sprintf("keep it at most %d bytes", MaxQueryBytes))
		case len(s.Microservice) <= MaxMicroserviceLength && dns1035Label.MatchString(s.Microservice):
			if _, err := promql.Expand(q.Query, vars); err != nil {
				add(field+".query", QuoteValue(q.Query), err.Error(), "write PromQL that yields one number, e.g. "+
					`sum(rate(jobs_failed_total{namespace="`+promql.PlaceholderNamespace+`",version="`+promql.PlaceholderVersion+`"}[`+promql.PlaceholderInterval+`]))`)
			}
		}
		if q.Min == nil && q.Max == nil {
			add(field, QuoteValue(q.Name), "has no bounds", "set min, max or both: the value the canary must stay within")
		}
		for _, b := range []struct {
			name string
			v    *float64
		}{{"min", q.Min}, {"max", q.Max}} {
			if b.v != nil && (math.IsNaN(*b.v) || math.IsInf(*b.v, 0)) {
				add(field+"."+b.name, formatFloat(*b.v), "is not a number", "use a finite number")
			}
		}
		if q.Min != nil && q.Max != nil && *q.Min > *q.Max {
			add(field+".min", formatFloat(*q.Min), "is above max "+formatFloat(*q.Max), "use min at most max")
		}
	}
	return out
}

// holdsBelowFull reports whether the plan has a step below 100 where
// manual_promotion waits for the operator: a canary weight, or the A/B
// stage when nothing lies between it and 100.
func (s Spec) holdsBelowFull() bool {
	if s.HasAB() || s.MaxWeight < 100 {
		return true
	}
	if len(s.Steps) > 0 {
		return s.Steps[0] < 100
	}
	return s.PercentageStep < 100
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Image reference grammar of the OCI distribution spec: [domain[:port]/]path[:tag][@digest].
var (
	imageDomain  = `(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?`
	imagePath    = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	imagePattern = regexp.MustCompile(`^(?:` + imageDomain + `/)?` + imagePath + `(?:/` + imagePath + `)*` +
		`(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)
)

func imageProblem(ref string) string {
	switch {
	case len(ref) > 512:
		return "use at most 512 characters"
	case strings.ContainsAny(ref, " \t\r\n\"'$`\\"):
		return "remove spaces, quotes, '$', '`' and '\\'"
	case ref != strings.TrimSpace(ref):
		return "remove surrounding spaces"
	case !imagePattern.MatchString(ref):
		return "use [registry[:port]/]repository[:tag][@sha256:digest] with a lower-case repository"
	}
	return ""
}

// configProblem checks that config_file is base64 of a non-empty text. The
// template is YAML only once its placeholders are filled (a route list reads
// "[${CANARY_ROUTES}]"), so the template package judges its contents.
func configProblem(b64 string) (problem, fix string) {
	const encode = "encode kubernetes_template.yml with base64 -w0"
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	switch {
	case err != nil:
		return "is not base64 (" + err.Error() + ")", encode
	case len(bytes.TrimSpace(data)) == 0:
		return "decodes to an empty template", encode
	case !utf8.Valid(data):
		return "does not decode to UTF-8 text", encode
	case len(data) > MaxTemplateBytes:
		return fmt.Sprintf("decodes to a template of %s, more than the %s allowed (Step Functions carries the template in the rollout's state)",
				FormatSize(len(data)), FormatSize(MaxTemplateBytes)),
			"remove comments, or move large configuration into a ConfigMap created with the environment"
	}
	return "", ""
}

// ImagePinProblem reports why ref does not name one fixed image, or "": an
// image without a tag is "latest", and latest moves, so a roll back to it
// could bring back something else. A digest always pins.
func ImagePinProblem(ref string) string {
	if strings.Contains(ref, "@") {
		return ""
	}
	_, tag, tagged := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	switch {
	case !tagged:
		return "has no tag (it means latest, which moves)"
	case tag == "latest":
		return "uses the moving tag latest"
	}
	return ""
}

// ReservedNamespace reports why a rollout may not write into namespace, or
// "": the cluster's own namespaces (kube-*, default) and those of the
// platform's controllers.
func ReservedNamespace(namespace string) string {
	switch {
	case strings.HasPrefix(namespace, "kube-"):
		return "kube-* namespaces belong to Kubernetes itself"
	case namespace == "default":
		return "the default namespace is not an application namespace: objects there escape the namespace's Pod Security labels and the engine's Role"
	case slices.Contains(contract.PlatformNamespaces(), namespace):
		return "it holds the platform's own controllers"
	}
	return ""
}

// CheckImage reports why ref is not an image reference the engine will
// write into a template, or nil.
func CheckImage(ref string) error {
	if why := imageProblem(ref); why != "" {
		return fmt.Errorf("image %q is not a valid image reference: %s", ref, why)
	}
	return nil
}

// CheckMicroservice reports why name cannot name a microservice's objects, or nil.
func CheckMicroservice(name string) error {
	if name == "" || len(name) > MaxMicroserviceLength || !dns1035Label.MatchString(name) {
		return fmt.Errorf("microservice name %q is not allowed: use at most %d lower-case letters, digits and '-', starting with a letter and ending with a letter or digit", name, MaxMicroserviceLength)
	}
	return nil
}

// CheckNamespace reports why name is not a valid namespace name, or nil.
func CheckNamespace(name string) error {
	if name == "" || len(name) > 63 || !dns1123Label.MatchString(name) {
		return fmt.Errorf("namespace %q is not allowed: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// quoteAll renders names as `use "a" or "b"`.
func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	if len(quoted) == 1 {
		return "use " + quoted[0]
	}
	return "use " + strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}
