package config

import (
	"fmt"
	"regexp"
)

// DerivedName is a physical name the program builds from clusterName, with
// the limit AWS puts on it (from the service model or, where the model
// accepts more, the service's documentation). The stacks/checks test holds
// this table to the names the program registers and to AWS's models.
type DerivedName struct {
	Resource string // the resource type token
	Kind     string // for messages, e.g. "Lambda function name"
	Max      int
	Pattern  *regexp.Regexp
	Allowed  string // the pattern in words
	// Names are the names for a cluster and its microservices.
	Names func(cluster string, microservices []string) []string
}

func perService(suffix string) func(string, []string) []string {
	return func(cluster string, svcs []string) []string {
		out := make([]string, len(svcs))
		for i, s := range svcs {
			out[i] = cluster + "-" + s + suffix
		}
		return out
	}
}

func fixed(suffixes ...string) func(string, []string) []string {
	return func(cluster string, _ []string) []string {
		out := make([]string, len(suffixes))
		for i, s := range suffixes {
			out[i] = cluster + s
		}
		return out
	}
}

// DerivedNames lists every physical name derived from clusterName.
var DerivedNames = []DerivedName{
	{Resource: "aws:lambda/function:Function", Kind: "Lambda function name", Max: 64,
		Pattern: regexp.MustCompile(`^[a-zA-Z0-9_-]+$`), Allowed: "letters, digits, '-' and '_'",
		Names: fixed("-canary-step", "-canary-rollback-aborted")},
	{Resource: "aws:cloudwatch/eventRule:EventRule", Kind: "EventBridge rule name", Max: 64,
		Pattern: regexp.MustCompile(`^[.\-_A-Za-z0-9]+$`), Allowed: "letters, digits, '.', '-' and '_'",
		Names: fixed("-canary-aborted")},
	{Resource: "aws:sfn/stateMachine:StateMachine", Kind: "state machine name", Max: 80,
		Pattern: regexp.MustCompile(`^[A-Za-z0-9_-]+$`), Allowed: "letters, digits, '-' and '_'",
		Names: fixed("-canary-rollout")},
	{Resource: "aws:sns/topic:Topic", Kind: "SNS topic name", Max: 256,
		Pattern: regexp.MustCompile(`^[A-Za-z0-9_-]+$`), Allowed: "letters, digits, '-' and '_'",
		Names: fixed("-canary-notifications")},
	{Resource: "aws:cloudformation/stack:Stack", Kind: "CloudFormation stack name", Max: 128,
		Pattern: regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]*$`), Allowed: "a letter first, then letters, digits and '-' (no '_')",
		Names: perService("-source")},
	{Resource: "aws:codebuild/project:Project", Kind: "CodeBuild project name", Max: 150,
		Pattern: regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9\-_]{1,149}$`), Allowed: "letters, digits, '-' and '_'",
		Names: perService("-build")},
	{Resource: "aws:codepipeline/pipeline:Pipeline", Kind: "CodePipeline name", Max: 100,
		Pattern: regexp.MustCompile(`^[A-Za-z0-9.@\-_]+$`), Allowed: "letters, digits, '.', '@', '-' and '_'",
		Names: perService("")},
	{Resource: "aws:cloudwatch/dashboard:Dashboard", Kind: "CloudWatch dashboard name", Max: 255,
		Pattern: regexp.MustCompile(`^[A-Za-z0-9_-]+$`), Allowed: "letters, digits, '-' and '_'",
		Names: perService("-canary")},
}

// checkDerivedNames refuses a clusterName that makes any derived name
// invalid, naming the longest such name and the longest clusterName that fits.
func checkDerivedNames(cluster string, microservices []string) []error {
	var errs []error
	for _, d := range DerivedNames {
		longest, bad := "", false
		for _, n := range d.Names(cluster, microservices) {
			if len(n) > len(longest) {
				longest = n
			}
			if !d.Pattern.MatchString(n) {
				errs = append(errs, fmt.Errorf("config %s: %q is not valid: it makes the %s %q, which AWS allows only as %s",
					KeyClusterName, cluster, d.Kind, n, d.Allowed))
				bad = true
				break
			}
		}
		if !bad && len(longest) > d.Max {
			fits := d.Max - (len(longest) - len(cluster))
			errs = append(errs, fmt.Errorf("config %s: %q is not valid: the longest %s it makes, %q, is %d characters and AWS allows %d: use a clusterName of at most %d characters%s",
				KeyClusterName, cluster, d.Kind, longest, len(longest), d.Max, fits, shorterServices(d, microservices)))
		}
	}
	return errs
}

func shorterServices(d DerivedName, microservices []string) string {
	if len(d.Names("", microservices)) == len(d.Names("", nil)) {
		return ""
	}
	return " or shorter microservice names"
}

// NamesFor returns every derived name of a cluster, by resource type.
func NamesFor(cluster string, microservices []string) map[string][]string {
	out := map[string][]string{}
	for _, d := range DerivedNames {
		out[d.Resource] = append(out[d.Resource], d.Names(cluster, microservices)...)
	}
	return out
}

func names(ms []Microservice) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}
