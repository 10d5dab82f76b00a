// Package analysis judges a canary from its own metrics. Providers fetch the
// figures (analysis/cloudwatch); the verdict is a plain function of them.
package analysis

import (
	"context"
	"time"

	"github.com/eks-canary/platform/lambdas/spec"
)

// Query names the versions to measure and the window to measure them over.
type Query struct {
	Router       string // one of contract.Routers(): decides which metrics identify a version
	ClusterName  string
	Namespace    string
	Microservice string
	Canary       string // object name of the canary version, e.g. "yelb-appserver-3"
	Baseline     string // object name of the stable version; empty on a first deployment
	Start, End   time.Time
	// Queries are deploy.json's custom queries (analysis.queries), asked
	// of the canary only; providers without PromQL refuse them.
	Queries []spec.Query
}

// Series is one version's traffic per period (one minute in CloudWatch).
// Slices are aligned: index i of each is the same period.
type Series struct {
	Requests   []float64
	Errors     []float64 // 5xx responses
	LatencyP99 []float64 // milliseconds; empty when the provider has none
}

// Metrics holds the canary's series and, when it carries traffic, the
// baseline's, for the statistical comparison.
type Metrics struct {
	Canary   Series
	Baseline Series
	Queries  []QueryValue // one per custom query, in the order asked
}

// QueryValue is a custom query's answer for the canary at the window's end.
type QueryValue struct {
	Name    string
	Value   float64
	Found   bool   // false: the query returned no series
	Problem string // why the answer cannot be judged, e.g. several series where one is needed
}

// Provider fetches metrics for a query.
type Provider interface {
	Fetch(ctx context.Context, q Query) (Metrics, error)
}
