package awsrules

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/eks-canary/platform/infra/policy"
)

// NameRule is a limit AWS documents for a physical name where the model
// accepts more (Lambda's FunctionName also takes ARNs; CloudFormation's
// StackName has no pattern in the model).
type NameRule struct {
	Type    string // resource type token
	Field   string // the input holding the name
	Max     int
	Pattern *regexp.Regexp
	Doc     string // what AWS documents, for the message
}

// DocumentedNames are the name rules of the AWS documentation the models lack.
var DocumentedNames = []NameRule{
	{Type: "aws:lambda/function:Function", Field: "name", Max: 64, Pattern: regexp.MustCompile(`^[a-zA-Z0-9_-]+$`),
		Doc: "Lambda function names are 1-64 letters, digits, '-' and '_'"},
	{Type: "aws:cloudwatch/eventRule:EventRule", Field: "name", Max: 64, Pattern: regexp.MustCompile(`^[.\-_A-Za-z0-9]+$`),
		Doc: "EventBridge rule names are 1-64 letters, digits, '.', '-' and '_'"},
	{Type: "aws:cloudformation/stack:Stack", Field: "name", Max: 128, Pattern: regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]*$`),
		Doc: "CloudFormation stack names start with a letter and hold only letters, digits and '-', at most 128"},
	{Type: "aws:cloudwatch/dashboard:Dashboard", Field: "dashboardName", Max: 255, Pattern: regexp.MustCompile(`^[A-Za-z0-9_-]+$`),
		Doc: "CloudWatch dashboard names are 1-255 letters, digits, '-' and '_'"},
	{Type: "aws:lb/loadBalancer:LoadBalancer", Field: "name", Max: 32, Pattern: regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`),
		Doc: "load balancer names are 1-32 letters, digits and '-', not starting or ending with '-'"},
	{Type: "aws:lb/targetGroup:TargetGroup", Field: "name", Max: 32, Pattern: regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`),
		Doc: "target group names are 1-32 letters, digits and '-', not starting or ending with '-'"},
	{Type: "aws:sns/topic:Topic", Field: "name", Max: 256, Pattern: regexp.MustCompile(`^[A-Za-z0-9_-]+$`),
		Doc: "SNS topic names are 1-256 letters, digits, '-' and '_'"},
}

// Compute types and environment types with which CodeBuild does not
// support local caching.
var (
	noLocalCacheCompute     = []string{"BUILD_GENERAL1_2XLARGE"}
	noLocalCacheEnvironment = []string{"LINUX_GPU_CONTAINER"}
)

// CheckDocumented applies the documented rules.
func CheckDocumented(resources []policy.Resource) []Finding {
	var out []Finding
	for _, r := range resources {
		in := PhysicalInputs(r)
		for _, rule := range DocumentedNames {
			if rule.Type != r.Type {
				continue
			}
			name, _ := in[rule.Field].(string)
			if name == "" {
				continue
			}
			if len(name) > rule.Max || !rule.Pattern.MatchString(name) {
				out = append(out, Finding{r.Type, r.Name, rule.Field,
					fmt.Sprintf("%q (%d characters) is not valid: %s", name, len(name), rule.Doc)})
			}
		}
		if r.Type == "aws:codebuild/project:Project" {
			out = append(out, codeBuildCache(r, in)...)
		}
	}
	return out
}

func codeBuildCache(r policy.Resource, in map[string]any) []Finding {
	cache, _ := in["cache"].(map[string]any)
	env, _ := in["environment"].(map[string]any)
	source, _ := in["source"].(map[string]any)
	if cache == nil || cache["type"] != "LOCAL" {
		return nil
	}
	var out []Finding
	compute, _ := env["computeType"].(string)
	envType, _ := env["type"].(string)
	if slices.Contains(noLocalCacheCompute, compute) || slices.Contains(noLocalCacheEnvironment, envType) {
		out = append(out, Finding{r.Type, r.Name, "cache.type",
			fmt.Sprintf("LOCAL caching is not supported with %s %s: use an S3 cache or NO_CACHE", envType, compute)})
	}
	if modes, _ := cache["modes"].([]any); slices.Contains(modes, any("LOCAL_SOURCE_CACHE")) && source["type"] != "CODECOMMIT" && source["type"] != "GITHUB" &&
		source["type"] != "GITHUB_ENTERPRISE" && source["type"] != "BITBUCKET" && source["type"] != "GITLAB" && source["type"] != "GITLAB_SELF_MANAGED" {
		out = append(out, Finding{r.Type, r.Name, "cache.modes",
			fmt.Sprintf("LOCAL_SOURCE_CACHE is ignored for a %v source (it caches Git metadata only)", source["type"])})
	}
	return out
}
