package promql

import (
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	vars := Vars{Namespace: "yelb", Microservice: "yelb-appserver", Version: "yelb-appserver-3", Interval: 2 * time.Minute}
	tests := []struct {
		name, query string
		vars        Vars
		want        string // the expanded query, or "error: " and a part of the error
	}{
		{name: "every placeholder",
			query: `sum(rate(queue_errors_total{namespace="{{namespace}}",app="{{microservice}}",version="{{version}}"}[{{interval}}]))`,
			want:  `sum(rate(queue_errors_total{namespace="yelb",app="yelb-appserver",version="yelb-appserver-3"}[2m]))`},
		{name: "a scalar", query: `scalar(max(up{namespace="{{namespace}}"}))`, want: `scalar(max(up{namespace="yelb"}))`},
		{name: "seconds are kept", query: `max_over_time(up[{{interval}}])`, vars: Vars{Namespace: "a", Microservice: "b", Version: "b-1", Interval: 90 * time.Second},
			want: `max_over_time(up[1m30s])`},
		{name: "an unknown placeholder", query: `up{version="{{canary}}"}`, want: "error: {{canary}} is not a placeholder: use {{namespace}}"},
		{name: "spaces inside braces", query: `up{version="{{ version }}"}`, want: "error: {{ version }} is not a placeholder"},
		{name: "not PromQL", query: `sum(rate(x[{{interval}}])`, want: "error: is not PromQL"},
		{name: "a range vector", query: `x{version="{{version}}"}[{{interval}}]`, want: "error: yields a range vector"},
		{name: "a string", query: `"yelb"`, want: "error: yields a string"},
		{name: "empty", query: ``, want: "error: is not PromQL"},
		{name: "a name that would end the literal", query: `up{namespace="{{namespace}}"}`,
			vars: Vars{Namespace: `yelb"} or vector(1) #`, Microservice: "b", Version: "b-1", Interval: time.Minute},
			want: "error: is not a Kubernetes object name"},
		{name: "no interval", query: `up`, vars: Vars{Namespace: "a", Microservice: "b", Version: "b-1"}, want: "error: shorter than a second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.vars
			if v == (Vars{}) {
				v = vars
			}
			got, err := Expand(tt.query, v)
			if want, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Expand(%q) = %q, %v; want an error containing %q", tt.query, got, err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Expand(%q) = %q, %v; want %q", tt.query, got, err, tt.want)
			}
		})
	}
}
