// Package synthetic is a metrics provider that makes traffic up, for the
// local runner and demos on clusters without CloudWatch. Never use it to
// judge a real canary: it reports what it is told to.
package synthetic

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
)

// Modes.
const (
	Healthy = "healthy" // steady traffic, no errors
	Failing = "failing" // the canary answers a fifth of its requests with 5xx
	NoData  = "nodata"  // no traffic at all
)

// Provider answers every query with one-minute periods in its mode.
type Provider struct {
	Mode            string
	RequestsPerMin  float64 // per version; default 120
	BaselineErrRate float64 // fraction of the baseline's requests that fail
	// Pace makes the traffic flow this many times faster than the wall
	// clock, to keep up with a sped-up schedule (canary-run --speed): a 9 s
	// window of a ten-times schedule holds 90 s of requests. 0 means 1.
	Pace float64
}

// New checks the mode.
func New(mode string) (*Provider, error) {
	switch mode {
	case Healthy, Failing, NoData:
		return &Provider{Mode: mode, RequestsPerMin: 120}, nil
	}
	return nil, fmt.Errorf("synthetic metrics mode %q: want %s, %s or %s", mode, Healthy, Failing, NoData)
}

// Fetch returns one period per started minute of the window.
func (p *Provider) Fetch(_ context.Context, q analysis.Query) (analysis.Metrics, error) {
	window := q.End.Sub(q.Start)
	if p.Pace > 0 {
		window = time.Duration(float64(window) * p.Pace)
	}
	periods := int(math.Ceil(window.Minutes()))
	periods = max(periods, 1)
	var m analysis.Metrics
	if p.Mode == NoData {
		return m, nil
	}
	canaryErr := 0.0
	if p.Mode == Failing {
		canaryErr = 0.2
	}
	m.Canary = series(periods, p.RequestsPerMin, canaryErr)
	if q.Baseline != "" {
		m.Baseline = series(periods, p.RequestsPerMin, p.BaselineErrRate)
	}
	return m, nil
}

func series(n int, requests, errRate float64) analysis.Series {
	s := analysis.Series{Requests: make([]float64, n), Errors: make([]float64, n), LatencyP99: make([]float64, n)}
	for i := range n {
		s.Requests[i] = requests
		s.Errors[i] = math.Round(requests * errRate)
		s.LatencyP99[i] = 80 + 400*errRate
	}
	return s
}
