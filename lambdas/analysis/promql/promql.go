// Package promql turns a custom query of deploy.json (analysis.queries)
// into the PromQL the engine sends: its placeholders replaced by the
// rollout's own names, the result parsed by Prometheus's own parser. Spec
// validation and the Prometheus provider both call Expand, so a query that
// passed Validate is the query the analysis runs, and a query read back from
// the state is checked again before it is sent.
package promql

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The placeholders a query may use, in the manner of Flagger's
// MetricTemplate variables.
const (
	PlaceholderNamespace    = "{{namespace}}"    // the rollout's namespace
	PlaceholderMicroservice = "{{microservice}}" // deploy.json's microservice
	PlaceholderVersion      = "{{version}}"      // the canary's object name, e.g. "yelb-appserver-3"
	PlaceholderInterval     = "{{interval}}"     // the analysis look-back window, e.g. "2m"
)

// Placeholders lists every placeholder Expand replaces.
func Placeholders() []string {
	return []string{PlaceholderNamespace, PlaceholderMicroservice, PlaceholderVersion, PlaceholderInterval}
}

// Vars are the values the placeholders take. The names are Kubernetes
// object names (lower-case letters, digits and '-'), so inside a PromQL
// string literal they cannot end it or change the query's shape.
type Vars struct {
	Namespace, Microservice, Version string
	Interval                         time.Duration
}

var (
	placeholder = regexp.MustCompile(`\{\{[^{}]*\}\}`)
	pql         = parser.NewParser(parser.Options{})
)

// Expand returns query with its placeholders replaced, once it parses as
// PromQL that yields one number per series at an instant (a scalar or an
// instant vector). The error says what to change.
func Expand(query string, v Vars) (string, error) {
	for _, name := range []string{v.Namespace, v.Microservice, v.Version} {
		if len(validation.IsDNS1123Label(name)) > 0 {
			return "", fmt.Errorf("%q is not a Kubernetes object name, so it cannot be placed in a query", name)
		}
	}
	if v.Interval < time.Second {
		return "", fmt.Errorf("interval %s is shorter than a second", v.Interval)
	}
	out := strings.NewReplacer(
		PlaceholderNamespace, v.Namespace,
		PlaceholderMicroservice, v.Microservice,
		PlaceholderVersion, v.Version,
		PlaceholderInterval, model.Duration(v.Interval.Truncate(time.Second)).String(),
	).Replace(query)
	if unknown := placeholder.FindString(out); unknown != "" {
		return "", fmt.Errorf("%s is not a placeholder: use %s", unknown, strings.Join(Placeholders(), ", "))
	}
	expr, err := pql.ParseExpr(out)
	if err != nil {
		return "", fmt.Errorf("is not PromQL: %w", err)
	}
	switch expr.Type() {
	case parser.ValueTypeScalar, parser.ValueTypeVector:
		return out, nil
	case parser.ValueTypeMatrix:
		return "", fmt.Errorf("yields a range vector, not one number per series: wrap the range in a function, e.g. sum(rate(x[%s]))", PlaceholderInterval)
	default:
		return "", fmt.Errorf("yields a %s, not a number", expr.Type())
	}
}
