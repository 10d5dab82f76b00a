package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/internal/testprom"
	"github.com/eks-canary/platform/lambdas/analysis/prometheus"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
)

// TestPrometheusJudgesRollouts runs rollouts judged by a real Prometheus
// that scrapes a version of each under real traffic: a healthy canary is
// promoted, one that fails 30% of its requests is rolled back by its
// success rate, with the stable version's series as the baseline. The
// schedule runs ten times faster, and the series' periods with it.
// Prometheus stores samples at real times, so the rollouts run on the wall
// clock, through the local runner alone (ownRunner).
func TestPrometheusJudgesRollouts(t *testing.T) {
	h := newHarness(t)
	apps := map[string]*testprom.App{
		"shop-1": testprom.StartApp(t, 0, 20*time.Millisecond),
		"shop-2": testprom.StartApp(t, 0, 20*time.Millisecond),
		"shop-3": testprom.StartApp(t, 0.3, 20*time.Millisecond),
	}
	var targets []testprom.Target
	for version, a := range apps {
		targets = append(targets, testprom.Target{Address: a.Address(),
			Labels: map[string]string{contract.PromLabelNamespace: h.ns, contract.PromLabelVersion: version}})
	}
	server := testprom.Start(t, targets)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		testprom.Drive(t, stop, time.Time{}, apps["shop-1"], apps["shop-2"], apps["shop-3"])
	}()
	t.Cleanup(func() { close(stop); <-done })

	const factor = 10
	p, err := prometheus.New(server.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.eng.Now = time.Now
	h.eng.Speedup = &engine.Speedup{From: time.Now(), Factor: factor}
	p.Period = h.eng.Speedup.Wait(prometheus.DefaultPeriod)
	h.eng.Prometheus = p
	local := &engine.Local{Engine: h.eng, Sleep: h.eng.Speedup.Sleep}
	var runs int64
	run := func(image string, prom bool, queries ...map[string]any) engine.Outcome {
		t.Helper()
		runs++
		d := h.deployJSON("appmesh", "shop", image, func(d map[string]any) {
			d["percentage_step"], d["wait_time"], d["failure_threshold_time"] = 50, 30, 60
			a := map[string]any{"interval": 10, "max_error_count": 100000, "min_success_rate": 95, "consecutive_failure_limit": 1}
			if prom {
				a["provider"] = contract.ProviderPrometheus
				a["max_latency_p99_ms"] = 250
			}
			if len(queries) > 0 {
				a["queries"] = queries
			}
			d["analysis"] = a
		})
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		out, err := local.Run(context.Background(), raw, h.executionArn("shop", runs))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	h.metrics.set("shop-1", "healthy")
	if out := run("registry.local/shop:1", false); out.Phase != "Succeeded" {
		t.Fatalf("first deployment ended %s: %s", out.Phase, out.Reason)
	}
	if out := run("registry.local/shop:2", true); out.Phase != "Succeeded" {
		t.Fatalf("healthy canary ended %s: %s", out.Phase, out.Reason)
	}
	st := h.status("shop").Status
	if len(st.Verdicts) == 0 || st.Verdicts[0].Requests == 0 || st.Verdicts[0].LatencyP99 == nil {
		t.Fatalf("the healthy canary's verdicts show no Prometheus figures: %+v", st.Verdicts)
	}
	// Two queries of the team's own, asked of the stable version as the
	// rollout starts: one a misspelt metric, which only that one warns of.
	rate := func(metric string) string {
		return "sum(rate(" + metric + `{namespace="{{namespace}}",version="{{version}}"}[1m]))`
	}
	out := run("registry.local/shop:3", true,
		map[string]any{"name": "request-rate", "query": rate(contract.PromRequests), "max": 1e9},
		map[string]any{"name": "typo", "query": rate("http_requets_total"), "max": 1e9})
	if out.Phase != "RolledBack" || !strings.Contains(out.Reason, "success-rate") {
		t.Fatalf("failing canary ended %s: %s; want RolledBack by its success rate", out.Phase, out.Reason)
	}
	st = h.status("shop").Status
	if st.StableVersion != 2 {
		t.Errorf("stable version %d after the roll back, want 2", st.StableVersion)
	}
	if len(st.Warnings) != 1 || !strings.HasPrefix(st.Warnings[0], "analysis.queries[1] (typo) found no series for the stable version shop-2") {
		t.Errorf("status warnings %q, want the misspelt query's alone", st.Warnings)
	}
}
