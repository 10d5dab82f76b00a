// Package cloudwatch fetches canary metrics from Amazon CloudWatch with
// GetMetricData, per version, so that a canary is judged on its own traffic.
//
// App Mesh: the pipeline's metric filters publish contract.MetricRequests and
// contract.MetricErrors5xx (namespace contract.EnvAppMeshMetricsNamespace, by default
// contract.MetricsNamespaceAppMesh)
// with dimensions Namespace and Version, where Version is the version's
// object name ("yelb-appserver-3"). App Mesh gives no latency.
//
// Gateway API on VPC Lattice: the AWS Gateway API Controller creates one
// target group per backend Service and tags it with the Service's name and
// namespace; the provider finds the canary's and baseline's target groups by
// those tags and reads RequestCount, HTTPCode_5XX_Count (Sum) and RequestTime
// (p99, milliseconds) from AWS/VpcLattice.
//
// Both read one-minute periods. A minute without datapoints counts as zero
// requests and errors (the metrics are only published when there is
// traffic) and as unknown latency.
package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/contract"
)

// Metric names and namespaces.
const (
	LatticeNamespace   = "AWS/VpcLattice"
	LatticeRequests    = "RequestCount"
	LatticeErrors      = "HTTPCode_5XX_Count"
	LatticeLatency     = "RequestTime"
	LatticeDimension   = "TargetGroup" // value: the target group ID
	latencyStatistic   = "p99"
	countStatistic     = "Sum"
	periodSeconds      = 60
	maxQueriesPerCall  = 500 // GetMetricData limit
	dimensionNamespace = "Namespace"
	dimensionVersion   = "Version"
)

// MetricsAPI is the CloudWatch call the provider makes; *cloudwatch.Client
// implements it, tests use a fake.
type MetricsAPI interface {
	GetMetricData(ctx context.Context, in *cw.GetMetricDataInput, opts ...func(*cw.Options)) (*cw.GetMetricDataOutput, error)
}

// TargetGroupFinder finds the VPC Lattice target groups that serve a
// Kubernetes Service.
type TargetGroupFinder interface {
	TargetGroups(ctx context.Context, cluster, namespace, service string) ([]string, error)
}

// Provider implements analysis.Provider.
type Provider struct {
	CloudWatch       MetricsAPI
	TargetGroups     TargetGroupFinder // needed for the gatewayapi router only
	AppMeshNamespace string            // empty means contract.MetricsNamespaceAppMesh
}

var _ analysis.Provider = (*Provider)(nil)

// New builds a provider on the AWS SDK clients of cfg. appMeshNamespace is
// APPMESH_METRICS_NAMESPACE; empty means contract.MetricsNamespaceAppMesh.
func New(cfg aws.Config, appMeshNamespace string) *Provider {
	return &Provider{
		CloudWatch:       cw.NewFromConfig(cfg),
		TargetGroups:     LatticeTargetGroups{API: vpclattice.NewFromConfig(cfg)},
		AppMeshNamespace: appMeshNamespace,
	}
}

// Fetch returns the canary's series and, when q.Baseline is set, the
// baseline's, aligned on one-minute periods from q.Start to q.End.
func (p *Provider) Fetch(ctx context.Context, q analysis.Query) (analysis.Metrics, error) {
	if q.Canary == "" {
		return analysis.Metrics{}, errors.New("fetch metrics: the query names no canary version")
	}
	if len(q.Queries) > 0 {
		return analysis.Metrics{}, fmt.Errorf("fetch metrics for %s: analysis.queries are PromQL and CloudWatch cannot answer them: set analysis.provider to %q",
			q.Canary, contract.ProviderPrometheus)
	}
	start := q.Start.UTC().Truncate(time.Minute)
	end := q.End.UTC()
	if !end.After(start) {
		return analysis.Metrics{}, fmt.Errorf("fetch metrics for %s: the window %s..%s is empty", q.Canary, q.Start.Format(time.RFC3339), q.End.Format(time.RFC3339))
	}
	periods := int(math.Ceil(end.Sub(start).Minutes()))

	var (
		queries []types.MetricDataQuery
		err     error
		canary  []seriesIDs
		base    []seriesIDs
	)
	switch q.Router {
	case contract.RouterAppMesh, "":
		canary = []seriesIDs{p.appMeshQueries(&queries, "canary", q.Namespace, q.Canary)}
		if q.Baseline != "" {
			base = []seriesIDs{p.appMeshQueries(&queries, "baseline", q.Namespace, q.Baseline)}
		}
	case contract.RouterGatewayAPI:
		if canary, err = p.latticeQueries(ctx, &queries, "canary", q, q.Canary); err != nil {
			return analysis.Metrics{}, err
		}
		if q.Baseline != "" {
			if base, err = p.latticeQueries(ctx, &queries, "baseline", q, q.Baseline); err != nil {
				return analysis.Metrics{}, err
			}
		}
	default:
		return analysis.Metrics{}, fmt.Errorf("fetch metrics for %s: unknown router %q", q.Canary, q.Router)
	}

	results, err := p.getMetricData(ctx, queries, start, end)
	if err != nil {
		return analysis.Metrics{}, fmt.Errorf("fetch metrics for %s: %w", q.Canary, err)
	}
	m := analysis.Metrics{Canary: combine(canary, results, start, periods)}
	if len(base) > 0 {
		m.Baseline = combine(base, results, start, periods)
	}
	return m, nil
}

// seriesIDs names the GetMetricData query IDs of one target (an App Mesh
// version, or one target group); latency is empty when there is none.
type seriesIDs struct {
	requests, errors, latency string
}

func metricQuery(id, namespace, name, stat string, dims map[string]string) types.MetricDataQuery {
	var dimensions []types.Dimension
	for _, key := range []string{dimensionNamespace, dimensionVersion, LatticeDimension} {
		if v, ok := dims[key]; ok {
			dimensions = append(dimensions, types.Dimension{Name: aws.String(key), Value: aws.String(v)})
		}
	}
	return types.MetricDataQuery{
		Id:         aws.String(id),
		ReturnData: aws.Bool(true),
		MetricStat: &types.MetricStat{
			Metric: &types.Metric{Namespace: aws.String(namespace), MetricName: aws.String(name), Dimensions: dimensions},
			Period: aws.Int32(periodSeconds),
			Stat:   aws.String(stat),
		},
	}
}

func (p *Provider) appMeshQueries(queries *[]types.MetricDataQuery, prefix, namespace, version string) seriesIDs {
	ns := p.AppMeshNamespace
	if ns == "" {
		ns = contract.MetricsNamespaceAppMesh
	}
	dims := map[string]string{dimensionNamespace: namespace, dimensionVersion: version}
	ids := seriesIDs{requests: prefix + "_requests", errors: prefix + "_errors"}
	*queries = append(*queries,
		metricQuery(ids.requests, ns, contract.MetricRequests, countStatistic, dims),
		metricQuery(ids.errors, ns, contract.MetricErrors5xx, countStatistic, dims))
	return ids
}

func (p *Provider) latticeQueries(ctx context.Context, queries *[]types.MetricDataQuery, prefix string, q analysis.Query, service string) ([]seriesIDs, error) {
	if p.TargetGroups == nil {
		return nil, fmt.Errorf("fetch metrics for %s: router gatewayapi needs a target group finder", service)
	}
	groups, err := p.TargetGroups.TargetGroups(ctx, q.ClusterName, q.Namespace, service)
	if err != nil {
		return nil, fmt.Errorf("find VPC Lattice target groups of %s/%s: %w", q.Namespace, service, err)
	}
	var out []seriesIDs
	for i, tg := range groups {
		dims := map[string]string{LatticeDimension: tg}
		ids := seriesIDs{
			requests: fmt.Sprintf("%s%d_requests", prefix, i),
			errors:   fmt.Sprintf("%s%d_errors", prefix, i),
			latency:  fmt.Sprintf("%s%d_p99", prefix, i),
		}
		*queries = append(*queries,
			metricQuery(ids.requests, LatticeNamespace, LatticeRequests, countStatistic, dims),
			metricQuery(ids.errors, LatticeNamespace, LatticeErrors, countStatistic, dims),
			metricQuery(ids.latency, LatticeNamespace, LatticeLatency, latencyStatistic, dims))
		out = append(out, ids)
	}
	return out, nil
}

type point struct {
	at    time.Time
	value float64
}

// getMetricData runs the queries, following NextToken, and returns the
// datapoints of each query ID.
func (p *Provider) getMetricData(ctx context.Context, queries []types.MetricDataQuery, start, end time.Time) (map[string][]point, error) {
	out := map[string][]point{}
	for first := 0; first < len(queries); first += maxQueriesPerCall {
		batch := queries[first:min(first+maxQueriesPerCall, len(queries))]
		in := &cw.GetMetricDataInput{
			MetricDataQueries: batch,
			StartTime:         aws.Time(start),
			EndTime:           aws.Time(end),
			ScanBy:            types.ScanByTimestampAscending,
		}
		for page := 1; ; page++ {
			resp, err := p.CloudWatch.GetMetricData(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("GetMetricData page %d: %w", page, err)
			}
			for _, r := range resp.MetricDataResults {
				id := aws.ToString(r.Id)
				if r.StatusCode == types.StatusCodeForbidden || r.StatusCode == types.StatusCodeInternalError {
					return nil, fmt.Errorf("GetMetricData query %s: status %s: %s", id, r.StatusCode, messages(r.Messages))
				}
				for i, ts := range r.Timestamps {
					if i < len(r.Values) {
						out[id] = append(out[id], point{at: ts, value: r.Values[i]})
					}
				}
			}
			if aws.ToString(resp.NextToken) == "" {
				break
			}
			in.NextToken = resp.NextToken
		}
	}
	return out, nil
}

func messages(ms []types.MessageData) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, aws.ToString(m.Code)+" "+aws.ToString(m.Value))
	}
	if len(parts) == 0 {
		return "no message"
	}
	return strings.Join(parts, "; ")
}

// combine aligns the datapoints of one version's targets on the periods of
// the window. Counts of several target groups add up; their p99 is the
// highest, as the p99 of the union cannot be computed from the parts and
// the highest is the cautious choice.
func combine(targets []seriesIDs, results map[string][]point, start time.Time, periods int) analysis.Series {
	s := analysis.Series{Requests: make([]float64, periods), Errors: make([]float64, periods)}
	latency := make([]float64, periods)
	for i := range latency {
		latency[i] = math.NaN()
	}
	hasLatency := false
	index := func(at time.Time) (int, bool) {
		i := int(at.UTC().Sub(start) / time.Minute)
		return i, at.UTC().Compare(start) >= 0 && i < periods
	}
	for _, t := range targets {
		for _, pt := range results[t.requests] {
			if i, ok := index(pt.at); ok {
				s.Requests[i] += pt.value
			}
		}
		for _, pt := range results[t.errors] {
			if i, ok := index(pt.at); ok {
				s.Errors[i] += pt.value
			}
		}
		if t.latency == "" {
			continue
		}
		for _, pt := range results[t.latency] {
			if i, ok := index(pt.at); ok && !math.IsNaN(pt.value) {
				if math.IsNaN(latency[i]) || pt.value > latency[i] {
					latency[i] = pt.value
				}
				hasLatency = true
			}
		}
	}
	if hasLatency {
		s.LatencyP99 = latency
	}
	return s
}
