package cloudwatch

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/eks-canary/platform/lambdas/analysis"
)

// fakeCloudWatch answers GetMetricData from scripted pages and records
// every request.
type fakeCloudWatch struct {
	pages []*cw.GetMetricDataOutput
	err   error
	calls []*cw.GetMetricDataInput
}

func (f *fakeCloudWatch) GetMetricData(_ context.Context, in *cw.GetMetricDataInput, _ ...func(*cw.Options)) (*cw.GetMetricDataOutput, error) {
	copied := *in
	f.calls = append(f.calls, &copied)
	if f.err != nil {
		return nil, f.err
	}
	if len(f.calls) > len(f.pages) {
		return &cw.GetMetricDataOutput{}, nil
	}
	return f.pages[len(f.calls)-1], nil
}

type fakeFinder map[string][]string

func (f fakeFinder) TargetGroups(_ context.Context, cluster, namespace, service string) ([]string, error) {
	if cluster != "prod" || namespace != "yelb" {
		return nil, errors.New("unexpected cluster or namespace " + cluster + "/" + namespace)
	}
	return f[service], nil
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func minute(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

func result(id string, at []int, values ...float64) types.MetricDataResult {
	r := types.MetricDataResult{Id: aws.String(id), StatusCode: types.StatusCodeComplete, Values: values}
	for _, i := range at {
		r.Timestamps = append(r.Timestamps, minute(i))
	}
	return r
}

// query describes a MetricDataQuery in one comparable string.
func query(q types.MetricDataQuery) string {
	m := q.MetricStat.Metric
	var dims []string
	for _, d := range m.Dimensions {
		dims = append(dims, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
	}
	return strings.Join([]string{
		aws.ToString(q.Id), aws.ToString(m.Namespace), aws.ToString(m.MetricName), strings.Join(dims, ","),
		aws.ToString(q.MetricStat.Stat), (time.Duration(aws.ToInt32(q.MetricStat.Period)) * time.Second).String(),
	}, " ")
}

func queries(in *cw.GetMetricDataInput) []string {
	var out []string
	for _, q := range in.MetricDataQueries {
		if !aws.ToBool(q.ReturnData) {
			continue
		}
		out = append(out, query(q))
	}
	sort.Strings(out)
	return out
}

func TestAppMeshQueriesAndAlignment(t *testing.T) {
	fake := &fakeCloudWatch{pages: []*cw.GetMetricDataOutput{
		{
			MetricDataResults: []types.MetricDataResult{
				result("canary_requests", []int{0, 1}, 10, 12),
				result("canary_errors", []int{1}, 2),
				result("baseline_requests", []int{0, 1, 2}, 90, 88, 91),
			},
			NextToken: aws.String("page-2"),
		},
		{
			MetricDataResults: []types.MetricDataResult{
				result("canary_requests", []int{3, 4}, 9, 11),
				result("canary_errors", []int{4}, 1),
				result("baseline_requests", []int{3, 4}, 92, 90),
				result("baseline_errors", nil),
			},
		},
	}}
	p := &Provider{CloudWatch: fake}
	q := analysis.Query{
		Router: "appmesh", ClusterName: "prod", Namespace: "yelb", Microservice: "yelb-appserver",
		Canary: "yelb-appserver-3", Baseline: "yelb-appserver-2",
		Start: t0.Add(20 * time.Second), End: t0.Add(5 * time.Minute),
	}
	m, err := p.Fetch(context.Background(), q)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}

	if len(fake.calls) != 2 {
		t.Fatalf("GetMetricData called %d times, want 2 (one per page)", len(fake.calls))
	}
	first, second := fake.calls[0], fake.calls[1]
	want := []string{
		"baseline_errors CanaryDelivery/AppMesh Errors5xx Namespace=yelb,Version=yelb-appserver-2 Sum 1m0s",
		"baseline_requests CanaryDelivery/AppMesh Requests Namespace=yelb,Version=yelb-appserver-2 Sum 1m0s",
		"canary_errors CanaryDelivery/AppMesh Errors5xx Namespace=yelb,Version=yelb-appserver-3 Sum 1m0s",
		"canary_requests CanaryDelivery/AppMesh Requests Namespace=yelb,Version=yelb-appserver-3 Sum 1m0s",
	}
	if got := queries(first); !reflect.DeepEqual(got, want) {
		t.Errorf("queries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !aws.ToTime(first.StartTime).Equal(t0) || !aws.ToTime(first.EndTime).Equal(t0.Add(5*time.Minute)) {
		t.Errorf("window %v..%v, want the start truncated to the minute", first.StartTime, first.EndTime)
	}
	if first.NextToken != nil || aws.ToString(second.NextToken) != "page-2" {
		t.Errorf("NextToken: first %v, second %v", first.NextToken, second.NextToken)
	}

	wantCanary := analysis.Series{Requests: []float64{10, 12, 0, 9, 11}, Errors: []float64{0, 2, 0, 0, 1}}
	if !reflect.DeepEqual(m.Canary, wantCanary) {
		t.Errorf("canary = %+v, want %+v", m.Canary, wantCanary)
	}
	wantBase := analysis.Series{Requests: []float64{90, 88, 91, 92, 90}, Errors: []float64{0, 0, 0, 0, 0}}
	if !reflect.DeepEqual(m.Baseline, wantBase) {
		t.Errorf("baseline = %+v, want %+v", m.Baseline, wantBase)
	}
}

func TestAppMeshFirstDeploymentAndNamespace(t *testing.T) {
	fake := &fakeCloudWatch{}
	p := &Provider{CloudWatch: fake, AppMeshNamespace: "Team/Mesh"}
	m, err := p.Fetch(context.Background(), analysis.Query{
		Router: "appmesh", Namespace: "yelb", Canary: "yelb-ui-1", Start: t0, End: t0.Add(3 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"canary_errors Team/Mesh Errors5xx Namespace=yelb,Version=yelb-ui-1 Sum 1m0s",
		"canary_requests Team/Mesh Requests Namespace=yelb,Version=yelb-ui-1 Sum 1m0s",
	}
	if got := queries(fake.calls[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("queries = %v", got)
	}
	if m.Baseline.Requests != nil {
		t.Errorf("baseline fetched without a baseline version: %+v", m.Baseline)
	}
	// No datapoints at all: zero traffic, which the analysis calls no data.
	if !reflect.DeepEqual(m.Canary.Requests, []float64{0, 0, 0}) || m.Canary.LatencyP99 != nil {
		t.Errorf("canary = %+v", m.Canary)
	}
}

func TestGatewayAPIQueriesAndCombination(t *testing.T) {
	fake := &fakeCloudWatch{pages: []*cw.GetMetricDataOutput{{
		MetricDataResults: []types.MetricDataResult{
			result("canary0_requests", []int{0, 1}, 10, 20),
			result("canary1_requests", []int{1, 2}, 5, 7),
			result("canary0_errors", []int{1}, 1),
			result("canary1_errors", []int{1}, 2),
			result("canary0_p99", []int{0, 1}, 120, 300),
			result("canary1_p99", []int{1}, 250),
			result("baseline0_requests", []int{0, 1, 2}, 100, 100, 100),
			result("baseline0_p99", []int{2}, 80),
			// A datapoint outside the window is ignored.
			result("baseline0_errors", []int{-1, 7}, 50, 60),
		},
	}}}
	p := &Provider{CloudWatch: fake, TargetGroups: fakeFinder{
		"yelb-ui-3": {"tg-canary-a", "tg-canary-b"},
		"yelb-ui-2": {"tg-stable"},
	}}
	m, err := p.Fetch(context.Background(), analysis.Query{
		Router: "gatewayapi", ClusterName: "prod", Namespace: "yelb", Canary: "yelb-ui-3", Baseline: "yelb-ui-2",
		Start: t0, End: t0.Add(3 * time.Minute),
	})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := []string{
		"baseline0_errors AWS/VpcLattice HTTPCode_5XX_Count TargetGroup=tg-stable Sum 1m0s",
		"baseline0_p99 AWS/VpcLattice RequestTime TargetGroup=tg-stable p99 1m0s",
		"baseline0_requests AWS/VpcLattice RequestCount TargetGroup=tg-stable Sum 1m0s",
		"canary0_errors AWS/VpcLattice HTTPCode_5XX_Count TargetGroup=tg-canary-a Sum 1m0s",
		"canary0_p99 AWS/VpcLattice RequestTime TargetGroup=tg-canary-a p99 1m0s",
		"canary0_requests AWS/VpcLattice RequestCount TargetGroup=tg-canary-a Sum 1m0s",
		"canary1_errors AWS/VpcLattice HTTPCode_5XX_Count TargetGroup=tg-canary-b Sum 1m0s",
		"canary1_p99 AWS/VpcLattice RequestTime TargetGroup=tg-canary-b p99 1m0s",
		"canary1_requests AWS/VpcLattice RequestCount TargetGroup=tg-canary-b Sum 1m0s",
	}
	if got := queries(fake.calls[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("queries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !reflect.DeepEqual(m.Canary.Requests, []float64{10, 25, 7}) || !reflect.DeepEqual(m.Canary.Errors, []float64{0, 3, 0}) {
		t.Errorf("canary counts = %+v", m.Canary)
	}
	if l := m.Canary.LatencyP99; len(l) != 3 || l[0] != 120 || l[1] != 300 || !math.IsNaN(l[2]) {
		t.Errorf("canary p99 = %v, want [120 300 NaN]: the highest per minute, unknown when missing", l)
	}
	if !reflect.DeepEqual(m.Baseline.Errors, []float64{0, 0, 0}) {
		t.Errorf("baseline errors = %v: datapoints outside the window must be ignored", m.Baseline.Errors)
	}
}

func TestGatewayAPIWithoutTargetGroupsIsNoData(t *testing.T) {
	fake := &fakeCloudWatch{}
	p := &Provider{CloudWatch: fake, TargetGroups: fakeFinder{}}
	m, err := p.Fetch(context.Background(), analysis.Query{
		Router: "gatewayapi", ClusterName: "prod", Namespace: "yelb", Canary: "yelb-ui-3", Start: t0, End: t0.Add(2 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.calls) != 0 {
		t.Errorf("GetMetricData called without queries")
	}
	v := analysis.Evaluate(analysis.Config{MinRequestCount: 1}, m)
	if v.Result != analysis.ResultNoData {
		t.Errorf("verdict = %s, want nodata", v.Result)
	}
}

func TestFetchErrors(t *testing.T) {
	window := analysis.Query{Router: "appmesh", Namespace: "yelb", Canary: "yelb-ui-3", Start: t0, End: t0.Add(time.Minute)}
	cases := []struct {
		name string
		p    *Provider
		q    func(*analysis.Query)
		want string
	}{
		{"api error", &Provider{CloudWatch: &fakeCloudWatch{err: errors.New("throttled")}}, nil,
			"fetch metrics for yelb-ui-3: GetMetricData page 1: throttled"},
		{"forbidden", &Provider{CloudWatch: &fakeCloudWatch{pages: []*cw.GetMetricDataOutput{{MetricDataResults: []types.MetricDataResult{{
			Id: aws.String("canary_requests"), StatusCode: types.StatusCodeForbidden,
			Messages: []types.MessageData{{Code: aws.String("Forbidden"), Value: aws.String("not authorized")}},
		}}}}}}, nil, "query canary_requests: status Forbidden: Forbidden not authorized"},
		{"finder error", &Provider{CloudWatch: &fakeCloudWatch{}, TargetGroups: fakeFinder{}}, func(q *analysis.Query) { q.Router = "gatewayapi"; q.ClusterName = "other" },
			"find VPC Lattice target groups of yelb/yelb-ui-3: unexpected cluster"},
		{"no finder", &Provider{CloudWatch: &fakeCloudWatch{}}, func(q *analysis.Query) { q.Router = "gatewayapi" },
			"router gatewayapi needs a target group finder"},
		{"unknown router", &Provider{CloudWatch: &fakeCloudWatch{}}, func(q *analysis.Query) { q.Router = "istio" }, `unknown router "istio"`},
		{"empty window", &Provider{CloudWatch: &fakeCloudWatch{}}, func(q *analysis.Query) { q.End = q.Start }, "the window"},
		{"no canary", &Provider{CloudWatch: &fakeCloudWatch{}}, func(q *analysis.Query) { q.Canary = "" }, "names no canary version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := window
			if c.q != nil {
				c.q(&q)
			}
			_, err := c.p.Fetch(context.Background(), q)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want %q", err, c.want)
			}
		})
	}
}

// More than 500 queries are split into several calls (the API limit).
func TestManyTargetGroupsAreBatched(t *testing.T) {
	groups := make([]string, 200) // 3 queries each: 600 queries
	for i := range groups {
		groups[i] = "tg-" + string(rune('a'+i%26))
	}
	fake := &fakeCloudWatch{}
	p := &Provider{CloudWatch: fake, TargetGroups: fakeFinder{"yelb-ui-3": groups}}
	if _, err := p.Fetch(context.Background(), analysis.Query{
		Router: "gatewayapi", ClusterName: "prod", Namespace: "yelb", Canary: "yelb-ui-3", Start: t0, End: t0.Add(time.Minute),
	}); err != nil {
		t.Fatal(err)
	}
	if len(fake.calls) != 2 || len(fake.calls[0].MetricDataQueries) != 500 || len(fake.calls[1].MetricDataQueries) != 100 {
		t.Errorf("calls = %d", len(fake.calls))
	}
}
