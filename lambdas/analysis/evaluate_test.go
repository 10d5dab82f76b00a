package analysis

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/spec"
)

func ptr(f float64) *float64 { return &f }

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func baseConfig() Config {
	return Config{
		LookBack: 5 * time.Minute, MaxErrorCount: 5, MinRequestCount: 10, Baseline: true,
		Alpha: DefaultAlpha, MinEffect: DefaultMinEffectPoints, MinPeriods: DefaultMinPeriods,
	}
}

func TestEvaluate(t *testing.T) {
	cases := []struct {
		name       string
		cfg        func(*Config)
		m          Metrics
		wantResult string
		wantRule   string
		reason     []string // substrings of the reason
	}{
		{
			name:       "healthy canary passes",
			m:          Metrics{Canary: Series{Requests: repeat(100, 5), Errors: repeat(0, 5)}},
			wantResult: ResultPass, reason: []string{"500 requests, 0 5xx (at most 5 allowed)", "success rate 100%", "last 5 min"},
		},
		{
			name:       "original rule: 5xx sum above failure_threshold_value fails",
			m:          Metrics{Canary: Series{Requests: repeat(100, 5), Errors: []float64{1, 2, 0, 2, 1}}},
			wantResult: ResultFail, wantRule: RuleErrorCount, reason: []string{"error-count", "6 5xx in the last 5 min", "more than the 5 allowed"},
		},
		{
			name:       "original rule: exactly the threshold passes",
			m:          Metrics{Canary: Series{Requests: repeat(100, 5), Errors: []float64{1, 2, 0, 1, 1}}},
			wantResult: ResultPass,
		},
		{
			name:       "errors fail even below the request minimum",
			m:          Metrics{Canary: Series{Requests: []float64{3}, Errors: []float64{6}}},
			wantResult: ResultFail, wantRule: RuleErrorCount,
		},
		{
			name:       "too few requests is no data",
			m:          Metrics{Canary: Series{Requests: []float64{4, 5}, Errors: []float64{0, 0}}},
			wantResult: ResultNoData, wantRule: RuleMinRequests, reason: []string{"served 9 requests", "fewer than the 10 needed"},
		},
		{
			name:       "empty series is no data",
			m:          Metrics{},
			wantResult: ResultNoData, wantRule: RuleMinRequests, reason: []string{"served 0 requests"},
		},
		{
			name:       "no requests is no data even with a minimum of 0",
			cfg:        func(c *Config) { c.MinRequestCount = 0; c.MinSuccessRate = ptr(99) },
			m:          Metrics{Canary: Series{Requests: repeat(0, 5), Errors: repeat(0, 5)}},
			wantResult: ResultNoData, wantRule: RuleMinRequests, reason: []string{"served 0 requests", "fewer than the 1 needed"},
		},
		{
			name:       "success rate below minimum fails",
			cfg:        func(c *Config) { c.MinSuccessRate = ptr(99); c.MaxErrorCount = 100 },
			m:          Metrics{Canary: Series{Requests: repeat(100, 5), Errors: []float64{2, 2, 2, 0, 0}}},
			wantResult: ResultFail, wantRule: RuleSuccessRate, reason: []string{"98.8% of 500 canary requests", "below the 99% required"},
		},
		{
			name:       "success rate at minimum passes",
			cfg:        func(c *Config) { c.MinSuccessRate = ptr(99); c.MaxErrorCount = 100 },
			m:          Metrics{Canary: Series{Requests: repeat(100, 5), Errors: []float64{1, 1, 1, 1, 1}}},
			wantResult: ResultPass,
		},
		{
			name:       "p99 above limit fails",
			cfg:        func(c *Config) { c.MaxLatencyP99 = ptr(300) },
			m:          Metrics{Canary: Series{Requests: []float64{100, 300}, Errors: []float64{0, 0}, LatencyP99: []float64{100, 500}}},
			wantResult: ResultFail, wantRule: RuleLatencyP99, reason: []string{"p99 latency was 400 ms", "above the 300 ms allowed"},
		},
		{
			name:       "p99 weighted by requests: a slow quiet minute does not decide",
			cfg:        func(c *Config) { c.MaxLatencyP99 = ptr(300) },
			m:          Metrics{Canary: Series{Requests: []float64{1000, 10}, Errors: []float64{0, 0}, LatencyP99: []float64{100, 2000}}},
			wantResult: ResultPass, reason: []string{"p99 118.8 ms"},
		},
		{
			name:       "latency limit without latency data is no data",
			cfg:        func(c *Config) { c.MaxLatencyP99 = ptr(300) },
			m:          Metrics{Canary: Series{Requests: repeat(100, 5)}},
			wantResult: ResultNoData, wantRule: RuleLatencyP99, reason: []string{"no latency figures"},
		},
		{
			name: "baseline: canary clearly worse fails",
			cfg:  func(c *Config) { c.MaxErrorCount = 1000 },
			m: Metrics{
				Canary:   Series{Requests: repeat(100, 6), Errors: []float64{4, 5, 3, 6, 4, 5}},
				Baseline: Series{Requests: repeat(900, 6), Errors: []float64{1, 0, 2, 1, 0, 1}},
			},
			// Every canary rate is above every stable rate: U = 36 of 36.
			// Ties within the stable rates (0 twice, 0.11 three times) and
			// the canary's (4, 5 twice each) give sum(t^3 - t) = 42, so
			// var = 3 * (13 - 42/132) = 38.045, z = 17.5/6.168 = 2.837,
			// p = 0.0023.
			wantResult: ResultFail, wantRule: RuleBaseline, reason: []string{"error rate 4.5%", "stable version's 0.09%", "Mann-Whitney U one-sided p=0.0023"},
		},
		{
			name: "baseline: significant but tiny difference passes (effect floor)",
			cfg:  func(c *Config) { c.MaxErrorCount = 1e9 },
			m: Metrics{
				Canary:   Series{Requests: repeat(100000, 6), Errors: []float64{40, 50, 30, 60, 40, 50}},
				Baseline: Series{Requests: repeat(900000, 6), Errors: []float64{90, 10, 20, 10, 30, 10}},
			},
			wantResult: ResultPass, reason: []string{"error rate 0.05% vs stable 0% (p=0.0023)"},
		},
		{
			name: "baseline: too few periods skips the comparison",
			cfg:  func(c *Config) { c.MaxErrorCount = 1000 },
			m: Metrics{
				Canary:   Series{Requests: repeat(100, 4), Errors: repeat(10, 4)},
				Baseline: Series{Requests: repeat(900, 4), Errors: repeat(0, 4)},
			},
			wantResult: ResultPass,
		},
		{
			name: "baseline: stable without traffic (at 100%) skips the comparison",
			cfg:  func(c *Config) { c.MaxErrorCount = 1000 },
			m: Metrics{
				Canary:   Series{Requests: repeat(100, 6), Errors: repeat(10, 6)},
				Baseline: Series{Requests: repeat(0, 6), Errors: repeat(0, 6)},
			},
			wantResult: ResultPass,
		},
		{
			name: "baseline: disabled",
			cfg:  func(c *Config) { c.MaxErrorCount = 1000; c.Baseline = false },
			m: Metrics{
				Canary:   Series{Requests: repeat(100, 6), Errors: []float64{4, 5, 3, 6, 4, 5}},
				Baseline: Series{Requests: repeat(900, 6), Errors: []float64{1, 0, 2, 1, 0, 1}},
			},
			wantResult: ResultPass,
		},
		{
			name: "baseline traffic is never summed into the canary figures",
			m: Metrics{
				Canary:   Series{Requests: repeat(10, 3), Errors: repeat(0, 3)},
				Baseline: Series{Requests: repeat(1000, 3), Errors: repeat(50, 3)},
			},
			wantResult: ResultPass, reason: []string{"30 requests, 0 5xx"},
		},
		{
			name:       "NaN and negative datapoints are ignored",
			m:          Metrics{Canary: Series{Requests: []float64{50, math.NaN(), 50, -3}, Errors: []float64{math.NaN(), 1, -1, 0}}},
			wantResult: ResultPass, reason: []string{"100 requests, 1 5xx"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := baseConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			v := Evaluate(cfg, c.m)
			if v.Result != c.wantResult || v.Rule != c.wantRule {
				t.Fatalf("Evaluate = %s/%q, want %s/%q; reason: %s", v.Result, v.Rule, c.wantResult, c.wantRule, v.Reason)
			}
			for _, want := range c.reason {
				if !strings.Contains(v.Reason, want) {
					t.Errorf("reason %q does not contain %q", v.Reason, want)
				}
			}
		})
	}
}

func TestEvaluateFigures(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxErrorCount = 100
	v := Evaluate(cfg, Metrics{
		Canary:   Series{Requests: repeat(200, 5), Errors: []float64{2, 0, 0, 0, 0}, LatencyP99: repeat(120, 5)},
		Baseline: Series{Requests: repeat(800, 5), Errors: repeat(0, 5)},
	})
	if v.Requests != 1000 || v.Errors != 2 {
		t.Errorf("requests/errors = %v/%v", v.Requests, v.Errors)
	}
	if v.SuccessRate == nil || *v.SuccessRate != 99.8 {
		t.Errorf("success rate = %v", v.SuccessRate)
	}
	if v.LatencyP99 == nil || *v.LatencyP99 != 120 {
		t.Errorf("p99 = %v", v.LatencyP99)
	}
	// Canary rates [1,0,0,0,0] vs baseline [0,0,0,0,0]: U = 12.5 + 5 = 17.5
	// with one tie group of nine zeros; the comparison ran and passed.
	if v.PValue == nil || *v.PValue < 0.05 {
		t.Errorf("p-value = %v, want a computed p >= 0.05", v.PValue)
	}
}

func TestConfigFromSpec(t *testing.T) {
	rate := 99.0
	s := spec.Spec{FailureThresholdValue: 3, FailureThresholdTime: 300, WaitTime: 60}
	s.Analysis.MinSuccessRate = &rate
	cfg := ConfigFromSpec(s)
	if cfg.LookBack != 5*time.Minute || cfg.MaxErrorCount != 3 || cfg.MinRequestCount != 1 || !cfg.Baseline ||
		cfg.MinSuccessRate == nil || *cfg.MinSuccessRate != 99 || cfg.MaxLatencyP99 != nil {
		t.Errorf("ConfigFromSpec = %+v", cfg)
	}
	explicit := 7.0
	s.Analysis.MaxErrorCount = &explicit
	if got := ConfigFromSpec(s).MaxErrorCount; got != 7 {
		t.Errorf("max_error_count = %v, want the explicit 7", got)
	}
	end := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if got := cfg.Window(end); !got.Equal(end.Add(-5 * time.Minute)) {
		t.Errorf("Window = %v", got)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	cfg := baseConfig()
	cfg.MaxErrorCount = 1e6
	cfg.MinSuccessRate = ptr(95)
	m := Metrics{
		Canary:   Series{Requests: repeat(100, 10), Errors: []float64{4, 5, 3, 6, 4, 5, 1, 2, 0, 3}, LatencyP99: repeat(80, 10)},
		Baseline: Series{Requests: repeat(900, 10), Errors: []float64{1, 0, 2, 1, 0, 1, 3, 1, 0, 2}},
	}
	for b.Loop() {
		Evaluate(cfg, m)
	}
}

func BenchmarkEvaluateDay(b *testing.B) {
	cfg := baseConfig()
	cfg.MaxErrorCount = 1e9
	n := 1440 // a day of one-minute periods
	errs := make([]float64, n)
	for i := range errs {
		errs[i] = float64(i % 7)
	}
	m := Metrics{Canary: Series{Requests: repeat(1000, n), Errors: errs}, Baseline: Series{Requests: repeat(9000, n), Errors: errs}}
	for b.Loop() {
		Evaluate(cfg, m)
	}
}

func TestEvaluateJudgesCustomQueries(t *testing.T) {
	low, high := 0.5, 2.0
	queries := []spec.Query{{Name: "queue-errors", Max: &high}, {Name: "hit-ratio", Min: &low}}
	cfg := Config{LookBack: 2 * time.Minute, MaxErrorCount: 10, MinRequestCount: 1, Queries: queries}
	traffic := Series{Requests: []float64{50, 50}, Errors: []float64{0, 0}}
	answers := func(errs, ratio QueryValue) Metrics {
		errs.Name, ratio.Name = "queue-errors", "hit-ratio"
		return Metrics{Canary: traffic, Queries: []QueryValue{errs, ratio}}
	}
	tests := []struct {
		name       string
		m          Metrics
		result     string
		reasonPart string
	}{
		{"within bounds", answers(QueryValue{Value: 1, Found: true}, QueryValue{Value: 0.9, Found: true}), ResultPass, "queue-errors 1, hit-ratio 0.9"},
		{"at the bounds", answers(QueryValue{Value: 2, Found: true}, QueryValue{Value: 0.5, Found: true}), ResultPass, "pass"},
		{"above max", answers(QueryValue{Value: 2.5, Found: true}, QueryValue{Value: 0.9, Found: true}), ResultFail, "query queue-errors: the canary's value 2.5 is above the max 2"},
		{"below min", answers(QueryValue{Value: 0, Found: true}, QueryValue{Value: 0.1, Found: true}), ResultFail, "query hit-ratio: the canary's value 0.1 is below the min 0.5"},
		{"no series", answers(QueryValue{Value: 0, Found: true}, QueryValue{}), ResultNoData, "query hit-ratio: no series for the canary in the last 2 min"},
		{"several series", answers(QueryValue{Problem: "the query returned 2 series"}, QueryValue{Value: 1, Found: true}), ResultFail, "query queue-errors: the query returned 2 series"},
		{"not asked", Metrics{Canary: traffic}, ResultNoData, "query queue-errors: no series"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(cfg, tt.m)
			if v.Result != tt.result || !strings.Contains(v.Reason, tt.reasonPart) {
				t.Fatalf("Evaluate = %s: %s; want %s containing %q", v.Result, v.Reason, tt.result, tt.reasonPart)
			}
			if tt.result != ResultPass && v.Rule != RuleQuery {
				t.Errorf("rule %q, want %q", v.Rule, RuleQuery)
			}
		})
	}
}
