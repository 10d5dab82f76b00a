package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eks-canary/platform/lambdas/spec"
)

// Results of an analysis.
const (
	ResultPass   = "pass"
	ResultFail   = "fail"
	ResultNoData = "nodata"
)

// Rules a verdict can name.
const (
	RuleErrorCount  = "error-count"  // the original rule: 5xx over the look-back window
	RuleMinRequests = "min-requests" // too little traffic to judge
	RuleSuccessRate = "success-rate"
	RuleLatencyP99  = "latency-p99"
	RuleBaseline    = "baseline" // Mann-Whitney U, canary vs stable
	RuleQuery       = "query"    // a custom query of analysis.queries out of its bounds
)

// Statistical comparison settings. The effect floor keeps a significant but
// negligible difference (0.01% vs 0.02% on millions of requests) from
// failing a canary; the period floor keeps the test from running on
// samples too small to reach significance honestly.
const (
	DefaultAlpha           = 0.05
	DefaultMinEffectPoints = 1.0 // percentage points of error rate
	DefaultMinPeriods      = 5   // one-minute periods with traffic, per version
)

// Config is how a canary is judged, derived from the spec.
type Config struct {
	LookBack        time.Duration // window the figures cover (failure_threshold_time)
	MaxErrorCount   float64       // more 5xx than this over LookBack fails (original rule)
	MinSuccessRate  *float64      // percent; nil: not checked
	MaxLatencyP99   *float64      // milliseconds; nil: not checked
	MinRequestCount float64       // fewer canary requests: no data
	Baseline        bool          // compare with the stable version when it carries traffic
	Alpha           float64       // significance level of the comparison
	MinEffect       float64       // error-rate difference (percentage points) below which a significant result still passes
	MinPeriods      int           // periods with traffic each version needs for the comparison
	Queries         []spec.Query  // custom queries and their bounds
}

// ConfigFromSpec derives the analysis settings from a spec, applying the
// spec defaults first so that a spec rebuilt from state judges the same.
func ConfigFromSpec(s spec.Spec) Config {
	s = s.WithDefaults()
	a := s.Analysis
	return Config{
		LookBack:        time.Duration(s.FailureThresholdTime) * time.Second,
		MaxErrorCount:   *a.MaxErrorCount,
		MinSuccessRate:  a.MinSuccessRate,
		MaxLatencyP99:   a.MaxLatencyP99,
		MinRequestCount: float64(a.MinRequestCount),
		Baseline:        *a.Baseline,
		Alpha:           DefaultAlpha,
		MinEffect:       DefaultMinEffectPoints,
		MinPeriods:      DefaultMinPeriods,
		Queries:         a.Queries,
	}
}

// Window is the start of the look-back window ending at end, as a provider
// query should cover it.
func (c Config) Window(end time.Time) time.Time { return end.Add(-c.LookBack) }

// Verdict is the judgement of one analysis and the figures behind it. All
// figures are the canary's own: the stable version's traffic is only ever
// used for the comparison, never summed in.
type Verdict struct {
	Result      string       // ResultPass, ResultFail or ResultNoData
	Rule        string       // the rule that decided a fail or no data; empty on a pass
	Requests    float64      // canary requests over the window
	Errors      float64      // canary 5xx over the window
	SuccessRate *float64     // percent; nil without requests
	LatencyP99  *float64     // milliseconds; nil without latency data
	PValue      *float64     // of the baseline comparison; nil when it did not run
	Queries     []QueryValue // the custom queries' answers, as fetched
	Reason      string       // one sentence naming the rule and the numbers
}

// Evaluate judges the canary. Rules, in order:
//
//  1. error-count (the original rule): canary 5xx over the look-back window
//     above MaxErrorCount fails, however little traffic there was, because
//     errors are evidence on their own.
//  2. min-requests: fewer canary requests than MinRequestCount is no data;
//     what no data means (fail, hold, pass) is the rollout's policy.
//  3. success-rate: the canary's non-5xx share below MinSuccessRate fails.
//  4. latency-p99: the canary's p99 above MaxLatencyP99 fails; no latency
//     series (App Mesh) is no data.
//  5. query: each custom query of analysis.queries must answer with a
//     value within its min and max; a query without an answer is no data.
//  6. baseline: when both versions carried traffic in at least MinPeriods
//     periods, a one-sided Mann-Whitney U test on the per-period error rates
//     (as Kayenta) fails the canary if its rates are higher with p < Alpha
//     and its error rate exceeds the stable one by at least MinEffect points.
func Evaluate(cfg Config, m Metrics) Verdict {
	window := formatDuration(cfg.LookBack)
	reqs, errs := sum(m.Canary.Requests), sum(m.Canary.Errors)
	v := Verdict{Requests: reqs, Errors: errs, Queries: m.Queries}
	if reqs > 0 {
		rate := 100 * (reqs - math.Min(errs, reqs)) / reqs
		v.SuccessRate = &rate
	}
	if p99, ok := weightedP99(m.Canary); ok {
		v.LatencyP99 = &p99
	}

	if errs > cfg.MaxErrorCount {
		v.Result, v.Rule = ResultFail, RuleErrorCount
		v.Reason = fmt.Sprintf("error-count: the canary answered %s 5xx in the last %s, more than the %s allowed (failure_threshold_value / max_error_count)",
			num(errs), window, num(cfg.MaxErrorCount))
		return v
	}
	// Without a single request there is nothing to judge, whatever the
	// configured minimum: the success rate below would have no value.
	if needed := math.Max(cfg.MinRequestCount, 1); reqs < needed {
		v.Result, v.Rule = ResultNoData, RuleMinRequests
		v.Reason = fmt.Sprintf("min-requests: the canary served %s requests in the last %s, fewer than the %s needed to judge it (min_request_count)",
			num(reqs), window, num(needed))
		return v
	}
	if cfg.MinSuccessRate != nil && *v.SuccessRate < *cfg.MinSuccessRate {
		v.Result, v.Rule = ResultFail, RuleSuccessRate
		v.Reason = fmt.Sprintf("success-rate: %s%% of %s canary requests succeeded in the last %s, below the %s%% required (min_success_rate)",
			pct(*v.SuccessRate), num(reqs), window, pct(*cfg.MinSuccessRate))
		return v
	}
	if cfg.MaxLatencyP99 != nil {
		if v.LatencyP99 == nil {
			v.Result, v.Rule = ResultNoData, RuleLatencyP99
			v.Reason = fmt.Sprintf("latency-p99: no latency figures for the canary in the last %s, so max_latency_p99_ms (%s ms) cannot be checked",
				window, num(*cfg.MaxLatencyP99))
			return v
		}
		if *v.LatencyP99 > *cfg.MaxLatencyP99 {
			v.Result, v.Rule = ResultFail, RuleLatencyP99
			v.Reason = fmt.Sprintf("latency-p99: the canary's p99 latency was %s ms in the last %s, above the %s ms allowed (max_latency_p99_ms)",
				num(*v.LatencyP99), window, num(*cfg.MaxLatencyP99))
			return v
		}
	}

	if result, reason := judgeQueries(cfg.Queries, m.Queries, window); result != "" {
		v.Result, v.Rule, v.Reason = result, RuleQuery, reason
		return v
	}

	var compared string
	if cfg.Baseline {
		canaryRates, canaryRate := errorRates(m.Canary)
		baseRates, baseRate := errorRates(m.Baseline)
		if len(canaryRates) >= cfg.MinPeriods && len(baseRates) >= cfg.MinPeriods {
			_, p := MannWhitneyGreater(canaryRates, baseRates)
			v.PValue = &p
			diff := canaryRate - baseRate
			if p < cfg.Alpha && diff >= cfg.MinEffect {
				v.Result, v.Rule = ResultFail, RuleBaseline
				v.Reason = fmt.Sprintf("baseline: the canary's error rate %s%% is above the stable version's %s%% over %d and %d one-minute periods (Mann-Whitney U one-sided p=%.4f < %.2f, difference %s points >= %s)",
					pct(canaryRate), pct(baseRate), len(canaryRates), len(baseRates), p, cfg.Alpha, pct(diff), pct(cfg.MinEffect))
				return v
			}
			compared = fmt.Sprintf("; error rate %s%% vs stable %s%% (p=%.4f)", pct(canaryRate), pct(baseRate), p)
		}
	}

	v.Result = ResultPass
	var figures []string
	figures = append(figures, fmt.Sprintf("%s requests, %s 5xx (at most %s allowed)", num(reqs), num(errs), num(cfg.MaxErrorCount)))
	figures = append(figures, fmt.Sprintf("success rate %s%%", pct(*v.SuccessRate)))
	if v.LatencyP99 != nil {
		figures = append(figures, fmt.Sprintf("p99 %s ms", num(*v.LatencyP99)))
	}
	for _, q := range m.Queries {
		figures = append(figures, fmt.Sprintf("%s %s", q.Name, num(q.Value)))
	}
	v.Reason = fmt.Sprintf("pass: the canary served %s in the last %s%s", strings.Join(figures, ", "), window, compared)
	return v
}

// judgeQueries finds the first custom query the canary's answers break:
// out of bounds or unusable fails, no answer is no data. An empty result
// means every query is within its bounds.
func judgeQueries(queries []spec.Query, answers []QueryValue, window string) (result, reason string) {
	for _, q := range queries {
		i := slices.IndexFunc(answers, func(a QueryValue) bool { return a.Name == q.Name })
		switch {
		case i < 0 || (!answers[i].Found && answers[i].Problem == ""):
			return ResultNoData, fmt.Sprintf("query %s: no series for the canary in the last %s, so its bounds cannot be checked (analysis.queries)", q.Name, window)
		case answers[i].Problem != "":
			return ResultFail, fmt.Sprintf("query %s: %s (analysis.queries)", q.Name, answers[i].Problem)
		case q.Min != nil && answers[i].Value < *q.Min:
			return ResultFail, fmt.Sprintf("query %s: the canary's value %s is below the min %s (analysis.queries)", q.Name, num(answers[i].Value), num(*q.Min))
		case q.Max != nil && answers[i].Value > *q.Max:
			return ResultFail, fmt.Sprintf("query %s: the canary's value %s is above the max %s (analysis.queries)", q.Name, num(answers[i].Value), num(*q.Max))
		}
	}
	return "", ""
}

// sum adds a series, skipping NaN and negative values that a broken metric
// could carry.
func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		if x > 0 {
			s += x
		}
	}
	return s
}

// errorRates returns the per-period error rate (percent) of the periods that
// carried traffic, and the pooled rate over them.
func errorRates(s Series) (rates []float64, pooled float64) {
	var reqs, errs float64
	for i, r := range s.Requests {
		if !(r > 0) {
			continue
		}
		var e float64
		if i < len(s.Errors) && s.Errors[i] > 0 {
			e = math.Min(s.Errors[i], r)
		}
		rates = append(rates, 100*e/r)
		reqs += r
		errs += e
	}
	if reqs > 0 {
		pooled = 100 * errs / reqs
	}
	return rates, pooled
}

// weightedP99 approximates the window's p99 by the request-weighted mean of
// the per-period p99s: one slow minute with little traffic does not decide
// alone, a slow minute carrying most requests does. Periods without a
// request count weigh one.
func weightedP99(s Series) (float64, bool) {
	var total, weights float64
	for i, l := range s.LatencyP99 {
		if math.IsNaN(l) || l < 0 {
			continue
		}
		w := 1.0
		if i < len(s.Requests) && s.Requests[i] > 0 {
			w = s.Requests[i]
		}
		total += l * w
		weights += w
	}
	if weights == 0 {
		return 0, false
	}
	return total / weights, true
}

// num renders a count or a figure with at most one decimal.
func num(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) }

// pct renders a percentage with at most two decimals and no trailing zeros.
func pct(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }

func formatDuration(d time.Duration) string {
	if d%time.Minute == 0 && d >= time.Minute {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return fmt.Sprintf("%d s", int(d/time.Second))
}
