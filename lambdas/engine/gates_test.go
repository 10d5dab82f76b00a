package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/spec"
)

func TestVerdictStatus(t *testing.T) {
	rate, p99, p := 99.8, 120.0, 0.4
	v := analysis.Verdict{Result: analysis.ResultPass, Requests: 1000, Errors: 2, SuccessRate: &rate, LatencyP99: &p99, PValue: &p, Reason: "pass: ..."}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := verdictStatus(v, at, 25)
	if s.Result != analysis.ResultPass || s.Weight != 25 || !s.At.Equal(at) || s.Requests != 1000 || s.Errors != 2 ||
		s.SuccessRate != v.SuccessRate || s.PValue != v.PValue || s.LatencyP99 != v.LatencyP99 || s.Reason != v.Reason || s.Pods != "" || s.Alarms != "" {
		t.Errorf("verdictStatus = %+v from %+v", s, v)
	}
}

func TestScheduleChecks(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := spec.Spec{WaitTime: 60}
	tests := []struct {
		name              string
		wait, podInterval int
		checks            int
		wantCheck         int
	}{
		{"default checks every 5 s", 60, 0, 0, 5},
		{"a wait shorter than one check", 3, 0, 0, 3},
		{"one check per analysis", 60, 60, 0, 60},
		{"budget spent", 60, 0, 1000, 60},
	}
	for _, tt := range tests {
		r := &Rollout{Decision: Decision{WaitSeconds: tt.wait}, Judgement: Judgement{Checks: tt.checks}}
		s.Analysis.PodCheckInterval = tt.podInterval
		r.scheduleChecks(now, s)
		if !r.AnalyseAt.Equal(now.Add(time.Duration(tt.wait)*time.Second)) || r.CheckSeconds != tt.wantCheck {
			t.Errorf("%s: analyse at %v, check in %d s; want %v and %d s", tt.name, r.AnalyseAt, r.CheckSeconds, now.Add(time.Duration(tt.wait)*time.Second), tt.wantCheck)
		}
	}
}

func TestQueryWarnings(t *testing.T) {
	queries := []spec.Query{{Name: "latency"}, {Name: "typo"}, {Name: "per-pod"}}
	cases := []struct {
		name   string
		values []analysis.QueryValue
		err    error
		want   []string
	}{
		{"every query answers", []analysis.QueryValue{{Name: "latency", Found: true}, {Name: "typo", Found: true, Value: 0}, {Name: "per-pod", Found: true}}, nil, nil},
		{"no series", []analysis.QueryValue{{Name: "latency", Found: true}, {Name: "typo"}, {Name: "per-pod", Found: true}}, nil,
			[]string{"analysis.queries[1] (typo) found no series for the stable version shop-2: check its metric and label names; an analysis without an answer counts as no data (analysis.no_data)"}},
		{"several series", []analysis.QueryValue{{Name: "latency", Found: true}, {Name: "typo", Found: true}, {Name: "per-pod", Problem: "the query returned 3 series where one is needed"}}, nil,
			[]string{"analysis.queries[2] (per-pod), asked of the stable version shop-2: the query returned 3 series where one is needed"}},
		{"the endpoint fails", nil, errors.New("503 Service Unavailable"),
			[]string{"analysis.queries could not be checked against the stable version shop-2: 503 Service Unavailable"}},
		{"more answers than queries", []analysis.QueryValue{{Found: true}, {Found: true}, {Found: true}, {}}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := queryWarnings("shop-2", queries, tc.values, tc.err); !slices.Equal(got, tc.want) {
				t.Errorf("queryWarnings = %q\nwant %q", got, tc.want)
			}
		})
	}
	// An endpoint's error can quote a whole query: the warning stays within
	// its share of the state, cut at a character.
	long := queryWarnings("shop-2", queries, nil, errors.New(strings.Repeat("é", 400)))
	if len(long) != 1 || len(long[0]) > maxWarningBytes || !utf8.ValidString(long[0]) || !strings.HasSuffix(long[0], "é…") {
		t.Errorf("a long error gives %d warnings, the first of %d bytes: %q", len(long), len(long[0]), long)
	}
}
