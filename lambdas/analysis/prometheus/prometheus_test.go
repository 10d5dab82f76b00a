package prometheus_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/internal/testprom"
	"github.com/eks-canary/platform/lambdas/analysis"
	prom "github.com/eks-canary/platform/lambdas/analysis/prometheus"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/spec"
)

func ptr(f float64) *float64 { return &f }

// TestFetchFromARealPrometheus scrapes a healthy stable version and a
// canary that fails 30% of its requests and answers slower, both under
// real traffic, and judges the canary from what Prometheus stored.
func TestFetchFromARealPrometheus(t *testing.T) {
	stable := testprom.StartApp(t, 0, 2*time.Millisecond)
	canary := testprom.StartApp(t, 0.3, 30*time.Millisecond)
	server := testprom.Start(t, []testprom.Target{
		{Address: stable.Address(), Labels: map[string]string{contract.PromLabelNamespace: "shop", contract.PromLabelVersion: "shop-1"}},
		{Address: canary.Address(), Labels: map[string]string{contract.PromLabelNamespace: "shop", contract.PromLabelVersion: "shop-2"}},
	})
	time.Sleep(4 * testprom.ScrapeInterval) // first samples of each series
	began := time.Now()
	testprom.Drive(t, nil, began.Add(8*time.Second), stable, canary)
	time.Sleep(2 * testprom.ScrapeInterval) // the last requests scraped
	p, err := prom.New(server.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Period = 2 * time.Second
	ctx := context.Background()
	if err := p.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	sel := fmt.Sprintf(`%s="{{namespace}}",%s="{{version}}"`, contract.PromLabelNamespace, contract.PromLabelVersion)
	errorShare := spec.Query{Name: "error-share", Max: ptr(0.05), Query: fmt.Sprintf(`sum(rate(%[1]s{%[2]s,%[3]s=~"5.."}[{{interval}}])) / sum(rate(%[1]s{%[2]s}[{{interval}}]))`,
		contract.PromRequests, sel, contract.PromLabelCode)}
	queries := []spec.Query{errorShare,
		{Name: "per-series", Max: ptr(1e9), Query: fmt.Sprintf(`%s{%s}`, contract.PromRequests, sel)},
		{Name: "absent", Max: ptr(1), Query: `sum(absent_metric_total{version="{{version}}"})`}}
	m, err := p.Fetch(ctx, analysis.Query{Namespace: "shop", Microservice: "shop", Canary: "shop-2", Baseline: "shop-1", Start: began, End: time.Now(), Queries: queries})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Canary.Requests); n != 4 || len(m.Canary.Errors) != n || len(m.Canary.LatencyP99) != n || len(m.Baseline.Requests) != n {
		t.Fatalf("want 4 periods of 2 s in every series, got %+v", m)
	}
	for i := range 4 {
		if m.Canary.Requests[i] == 0 || m.Baseline.Requests[i] == 0 {
			t.Errorf("period %d has no requests: canary %v, baseline %v", i, m.Canary.Requests, m.Baseline.Requests)
		}
		if m.Baseline.Errors[i] != 0 {
			t.Errorf("period %d: the stable version answered no 5xx, Prometheus says %v", i, m.Baseline.Errors[i])
		}
		// Buckets of 25, 50 and 100 ms: a loaded machine may push a 30 ms
		// request past 50 ms, never under 25.
		if p99 := m.Canary.LatencyP99[i]; math.IsNaN(p99) || p99 < 25 || p99 > 100 {
			t.Errorf("period %d: canary p99 %v ms; every request took at least 30 ms", i, p99)
		}
		if p99 := m.Baseline.LatencyP99[i]; math.IsNaN(p99) || p99 >= m.Canary.LatencyP99[i] || p99 > 25 {
			t.Errorf("period %d: stable p99 %v ms, canary's %v ms; every stable request took 2 ms", i, p99, m.Canary.LatencyP99[i])
		}
	}
	reqs, errs := total(m.Canary.Requests), total(m.Canary.Errors)
	if share := errs / reqs; share < 0.2 || share > 0.4 {
		t.Errorf("canary error share %.2f (%v of %v); it failed %d of %d requests", share, errs, reqs, canary.Failed.Load(), canary.Sent.Load())
	}
	// The four periods end just after the traffic and cover 8 s of its
	// 8.5 s; increase() extrapolates to each period's edges, and a late
	// scrape on a loaded machine moves a few requests out of them.
	if sent := float64(canary.Sent.Load()); reqs < 0.7*sent || reqs > 1.15*sent {
		t.Errorf("canary requests %v over the 8 s of its periods; it sent %v in 8 s", reqs, sent)
	}

	if len(m.Queries) != 3 {
		t.Fatalf("custom queries answered %+v, want 3 answers", m.Queries)
	}
	if share := m.Queries[0]; !share.Found || share.Value < 0.2 || share.Value > 0.4 {
		t.Errorf("error-share answered %+v; the canary failed 30%% of its requests", share)
	}
	if many := m.Queries[1]; many.Found || !strings.Contains(many.Problem, "series where one is needed") {
		t.Errorf("a query of one series per status code answered %+v, want a problem", many)
	}
	if none := m.Queries[2]; none.Found || none.Problem != "" {
		t.Errorf("a query of no series answered %+v, want no answer", none)
	}
	gated := analysis.Config{LookBack: 8 * time.Second, MaxErrorCount: math.Inf(1), MinRequestCount: 1, Queries: []spec.Query{errorShare}}
	if v := analysis.Evaluate(gated, analysis.Metrics{Canary: m.Canary, Queries: m.Queries[:1]}); v.Result != analysis.ResultFail || v.Rule != analysis.RuleQuery ||
		!strings.Contains(v.Reason, "query error-share") {
		t.Errorf("canary over its error-share max judged %s (%s): %s", v.Result, v.Rule, v.Reason)
	}

	rate, p99 := 95.0, 100.0
	cfg := analysis.Config{LookBack: 8 * time.Second, MaxErrorCount: math.Inf(1), MinSuccessRate: &rate, MaxLatencyP99: &p99, MinRequestCount: 1}
	if v := analysis.Evaluate(cfg, m); v.Result != analysis.ResultFail || v.Rule != analysis.RuleSuccessRate {
		t.Errorf("failing canary judged %s (%s): %s", v.Result, v.Rule, v.Reason)
	}
	healthy := analysis.Metrics{Canary: m.Baseline}
	if v := analysis.Evaluate(cfg, healthy); v.Result != analysis.ResultPass {
		t.Errorf("healthy version judged %s (%s): %s", v.Result, v.Rule, v.Reason)
	}

	// A name that tries to widen the query only selects nothing.
	hostile, err := p.Fetch(ctx, analysis.Query{Namespace: "shop", Canary: `shop-2"} or vector(1000) #`, Start: began, End: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if total(hostile.Canary.Requests) != 0 {
		t.Errorf("a hostile version name read requests %v", hostile.Canary.Requests)
	}
}

func total(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// A window shorter than one period has no data yet: no query is made.
func TestFetchShorterThanAPeriod(t *testing.T) {
	p, err := prom.New("http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m, err := p.Fetch(context.Background(), analysis.Query{Namespace: "shop", Canary: "shop-2", Start: now.Add(-30 * time.Second), End: now})
	if err != nil || len(m.Canary.Requests) != 0 {
		t.Errorf("Fetch = %+v, %v; want no periods and no error", m, err)
	}
}

// An unreachable server is an error that names the query, and is not
// ready.
func TestFetchErrorNamesTheQuery(t *testing.T) {
	p, err := prom.New("http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	_, err = p.Fetch(context.Background(), analysis.Query{Namespace: "shop", Canary: "shop-2", Start: now.Add(-5 * time.Minute), End: now})
	if err == nil || !strings.Contains(err.Error(), "fetch metrics for shop-2: query sum(increase(http_requests_total{") {
		t.Errorf("err = %v", err)
	}
	if err := p.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "the Prometheus query endpoint does not answer") {
		t.Errorf("Ready = %v", err)
	}
}
