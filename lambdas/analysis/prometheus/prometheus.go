// Package prometheus fetches canary metrics from a Prometheus query API: a
// self-run Prometheus, or an Amazon Managed Service for Prometheus
// workspace, whose queries are signed with SigV4 (sigv4.go).
//
// The built-in queries come from the version's labels alone, never from
// deploy.json; a team's own queries (analysis.queries) go through
// lambdas/analysis/promql and are asked of the canary only:
// a version's series are those whose contract.PromLabelVersion is its object
// name ("yelb-appserver-3") in contract.PromLabelNamespace, the labels the
// scrape sets from the pod. Each value covers one period and is evaluated at
// the period's end (P is the period, {V} the version's selector):
//
//	requests  sum(increase(http_requests_total{V}[P]))
//	errors    sum(increase(http_requests_total{V,code=~"5.."}[P]))
//	p99 (ms)  1000 * histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{V}[P])))
//
// A period without samples counts as zero requests and errors and as
// unknown latency, as CloudWatch's periods do.
package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/analysis/promql"
	"github.com/eks-canary/platform/lambdas/contract"
)

// DefaultPeriod is one period of the series, as in CloudWatch. The scrape
// interval must be at most half of it, so that each period holds two
// samples of every counter.
const DefaultPeriod = time.Minute

// Provider implements analysis.Provider on the Prometheus HTTP API.
type Provider struct {
	API v1.API
	// Period is the length of one period; zero means DefaultPeriod.
	Period time.Duration
}

var _ analysis.Provider = (*Provider)(nil)

// New builds a provider for the query API at address (the base URL the
// path /api/v1/query_range is appended to). rt carries the requests; nil
// means http.DefaultTransport.
func New(address string, rt http.RoundTripper) (*Provider, error) {
	if rt == nil {
		rt = http.DefaultTransport
	}
	client, err := api.NewClient(api.Config{Address: address, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus query URL %q: %w", address, err)
	}
	return &Provider{API: v1.NewAPI(client)}, nil
}

// Ready asks the endpoint one query, so that a rollout whose source does
// not answer stops at Validate, before any traffic moves.
func (p *Provider) Ready(ctx context.Context) error {
	if _, _, err := p.API.Query(ctx, "vector(1)", time.Now()); err != nil {
		return fmt.Errorf("the Prometheus query endpoint does not answer: %w", err)
	}
	return nil
}

// Queries are the three PromQL expressions of one version's series.
type Queries struct {
	Requests, Errors, LatencyP99 string
}

// QueriesFor builds the expressions for the version named version in
// namespace. The values are quoted as PromQL string literals, so no name
// can change the query's shape.
func QueriesFor(namespace, version string, period time.Duration) Queries {
	window := model.Duration(period).String()
	sel := contract.PromLabelNamespace + "=" + strconv.Quote(namespace) + "," + contract.PromLabelVersion + "=" + strconv.Quote(version)
	return Queries{
		Requests: fmt.Sprintf("sum(increase(%s{%s}[%s]))", contract.PromRequests, sel, window),
		Errors:   fmt.Sprintf(`sum(increase(%s{%s,%s=~"5.."}[%s]))`, contract.PromRequests, sel, contract.PromLabelCode, window),
		LatencyP99: fmt.Sprintf("1000 * histogram_quantile(0.99, sum by (le) (rate(%s_bucket{%s}[%s])))",
			contract.PromDuration, sel, window),
	}
}

// Fetch returns the canary's series and, when q.Baseline is set, the
// baseline's: one value per whole period that ends by q.End.
func (p *Provider) Fetch(ctx context.Context, q analysis.Query) (analysis.Metrics, error) {
	if q.Canary == "" {
		return analysis.Metrics{}, errors.New("fetch metrics: the query names no canary version")
	}
	period := p.Period
	if period <= 0 {
		period = DefaultPeriod
	}
	periods := int(q.End.Sub(q.Start) / period)
	if periods < 1 {
		// Less than a period of the canary so far: no data yet.
		return analysis.Metrics{}, nil
	}
	r := v1.Range{Start: q.End.Add(-time.Duration(periods-1) * period), End: q.End, Step: period}
	var m analysis.Metrics
	var err error
	if m.Canary, err = p.series(ctx, QueriesFor(q.Namespace, q.Canary, period), r, periods); err != nil {
		return analysis.Metrics{}, fmt.Errorf("fetch metrics for %s: %w", q.Canary, err)
	}
	if q.Baseline != "" {
		if m.Baseline, err = p.series(ctx, QueriesFor(q.Namespace, q.Baseline, period), r, periods); err != nil {
			return analysis.Metrics{}, fmt.Errorf("fetch metrics for %s: %w", q.Baseline, err)
		}
	}
	if m.Queries, err = p.Probe(ctx, q); err != nil {
		return analysis.Metrics{}, fmt.Errorf("fetch metrics for %s: %w", q.Canary, err)
	}
	return m, nil
}

// Probe asks each of deploy.json's queries of the version q.Canary names
// at q.End, expanded and parsed again as at Validate: the state it comes
// from is input too. Fetch asks them of the canary; the engine asks them
// of the stable version as a rollout starts.
func (p *Provider) Probe(ctx context.Context, q analysis.Query) ([]analysis.QueryValue, error) {
	vars := promql.Vars{Namespace: q.Namespace, Microservice: q.Microservice, Version: q.Canary, Interval: q.End.Sub(q.Start)}
	var out []analysis.QueryValue
	for i, cq := range q.Queries {
		expr, err := promql.Expand(cq.Query, vars)
		if err != nil {
			return nil, fmt.Errorf("analysis.queries[%d] (%s) %w", i, cq.Name, err)
		}
		result, _, err := p.API.Query(ctx, expr, q.End)
		if err != nil {
			return nil, fmt.Errorf("query %s (%s): %w", cq.Name, expr, err)
		}
		out = append(out, answer(cq.Name, result))
	}
	return out, nil
}

// answer reads one number from an instant query's result: a scalar, or a
// vector of exactly one series.
func answer(name string, result model.Value) analysis.QueryValue {
	a := analysis.QueryValue{Name: name}
	switch v := result.(type) {
	case *model.Scalar:
		a.Value, a.Found = float64(v.Value), true
	case model.Vector:
		switch len(v) {
		case 0:
		case 1:
			a.Value, a.Found = float64(v[0].Value), true
		default:
			a.Problem = fmt.Sprintf("the query returned %d series where one is needed: aggregate it, e.g. with sum(...) or max(...)", len(v))
		}
	default:
		a.Problem = fmt.Sprintf("the query returned a %s, not a number", result.Type())
	}
	if a.Found && (math.IsNaN(a.Value) || math.IsInf(a.Value, 0)) {
		a.Found, a.Value = false, 0 // 0/0 of a rate without traffic: no data
	}
	return a
}

func (p *Provider) series(ctx context.Context, qs Queries, r v1.Range, periods int) (analysis.Series, error) {
	var s analysis.Series
	var err error
	if s.Requests, err = p.values(ctx, qs.Requests, r, periods, 0); err != nil {
		return s, err
	}
	if s.Errors, err = p.values(ctx, qs.Errors, r, periods, 0); err != nil {
		return s, err
	}
	s.LatencyP99, err = p.values(ctx, qs.LatencyP99, r, periods, math.NaN())
	return s, err
}

// values runs one range query and places its points on the periods; a
// period without a point keeps missing.
func (p *Provider) values(ctx context.Context, query string, r v1.Range, periods int, missing float64) ([]float64, error) {
	result, _, err := p.API.QueryRange(ctx, query, r)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", query, err)
	}
	matrix, ok := result.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("query %s: want a range vector, got a %s", query, result.Type())
	}
	out := make([]float64, periods)
	for i := range out {
		out[i] = missing
	}
	for _, series := range matrix {
		for _, pt := range series.Values {
			i := int(math.Round(float64(pt.Timestamp.Time().Sub(r.Start)) / float64(r.Step)))
			v := float64(pt.Value)
			if i >= 0 && i < periods && !math.IsNaN(v) && !math.IsInf(v, 0) {
				out[i] = v
			}
		}
	}
	return out, nil
}
