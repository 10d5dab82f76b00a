package awsrules

import (
	"strings"
	"testing"

	"github.com/eks-canary/platform/infra/policy"
)

func models(t *testing.T) *Models {
	t.Helper()
	m, err := LoadModels()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// reports asserts exactly one finding, on the named resource, mentioning want.
func reports(t *testing.T, found []Finding, name, want string) {
	t.Helper()
	if len(found) != 1 || found[0].Name != name || !strings.Contains(found[0].String(), want) {
		t.Fatalf("got %v, want one finding on %q mentioning %q", found, name, want)
	}
}

func project(compute, cacheType string, modes ...any) policy.Resource {
	return policy.Resource{Type: "aws:codebuild/project:Project", Name: "yelb-ui-build", Inputs: map[string]any{
		"name":        "canary-dev-yelb-ui-build",
		"environment": map[string]any{"computeType": compute, "type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0"},
		"source":      map[string]any{"type": "CODEPIPELINE"},
		"artifacts":   map[string]any{"type": "CODEPIPELINE"},
		"cache":       map[string]any{"type": cacheType, "modes": modes},
		"tags":        map[string]any{"canary:stack": "canary/dev"},
	}}
}

func TestModelsCarryTheirProvenance(t *testing.T) {
	m := models(t)
	if m.Module != "github.com/aws/aws-sdk-go" || m.Version != "v1.55.8" || !strings.HasPrefix(m.Sum, "h1:") {
		t.Fatalf("models from %s %s (%s), want github.com/aws/aws-sdk-go v1.55.8 with its hash", m.Module, m.Version, m.Sum)
	}
	for _, b := range Bindings {
		svc, ok := m.Services[b.Service]
		if !ok || len(svc.SHA256) != 64 || !strings.HasSuffix(svc.File, "/api-2.json") {
			t.Errorf("service %s: %+v", b.Service, svc.File)
			continue
		}
		if _, ok := svc.Shapes[b.Shape]; !ok {
			t.Errorf("%s: shape %s missing: run go run ./internal/awsrules/gen", b.Service, b.Shape)
		}
	}
}

func TestValidProjectPasses(t *testing.T) {
	r := project("BUILD_GENERAL1_SMALL", "LOCAL", "LOCAL_DOCKER_LAYER_CACHE")
	if f := append(models(t).Check([]policy.Resource{r}), CheckDocumented([]policy.Resource{r})...); len(f) > 0 {
		t.Fatalf("valid project: %v", f)
	}
}

func TestInvalidEnumIsReported(t *testing.T) {
	r := project("BUILD_GENERAL1_HUGE", "LOCAL", "LOCAL_DOCKER_LAYER_CACHE")
	reports(t, models(t).Check([]policy.Resource{r}), "yelb-ui-build", `environment.computeType: "BUILD_GENERAL1_HUGE" is not one of ComputeType's values`)
}

func TestLocalCacheOn2XLargeIsReported(t *testing.T) {
	r := project("BUILD_GENERAL1_2XLARGE", "LOCAL", "LOCAL_DOCKER_LAYER_CACHE")
	reports(t, CheckDocumented([]policy.Resource{r}), "yelb-ui-build", "LOCAL caching is not supported with LINUX_CONTAINER BUILD_GENERAL1_2XLARGE")
}

func TestSourceCacheOnPipelineSourceIsReported(t *testing.T) {
	r := project("BUILD_GENERAL1_SMALL", "LOCAL", "LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE")
	reports(t, CheckDocumented([]policy.Resource{r}), "yelb-ui-build", "LOCAL_SOURCE_CACHE is ignored for a CODEPIPELINE source")
}

func TestLambdaNameOf65CharactersIsReported(t *testing.T) {
	name := strings.Repeat("a", 41) + "-canary-rollback-aborted"
	if len(name) != 65 {
		t.Fatalf("fixture is %d characters", len(name))
	}
	r := policy.Resource{Type: "aws:lambda/function:Function", Name: "deployer-rollback", Inputs: map[string]any{"name": name, "runtime": "provided.al2023"}}
	if f := models(t).Check([]policy.Resource{r}); len(f) > 0 {
		t.Fatalf("the model accepts up to 140 (ARNs): %v", f)
	}
	reports(t, CheckDocumented([]policy.Resource{r}), "deployer-rollback", "(65 characters) is not valid: Lambda function names are 1-64")
}

func TestEventRuleNameLimitComesFromTheModel(t *testing.T) {
	r := policy.Resource{Type: "aws:cloudwatch/eventRule:EventRule", Name: "deployer-aborted", Inputs: map[string]any{"name": strings.Repeat("r", 65)}}
	reports(t, models(t).Check([]policy.Resource{r}), "deployer-aborted", "allows at most 64")
}

func TestAutonamedRoleIsCheckedWithPulumisSuffix(t *testing.T) {
	r := policy.Resource{Type: "aws:iam/role:Role", Name: strings.Repeat("n", 57), Inputs: map[string]any{}}
	reports(t, models(t).Check([]policy.Resource{r}), r.Name, "65 characters")
}

func TestStackNameWithUnderscoreIsReported(t *testing.T) {
	r := policy.Resource{Type: "aws:cloudformation/stack:Stack", Name: "yelb-ui-source", Inputs: map[string]any{"name": "my_cluster-yelb-ui-source"}}
	reports(t, CheckDocumented([]policy.Resource{r}), "yelb-ui-source", "CloudFormation stack names start with a letter")
}

func TestCfnLintReportsABadIAMAction(t *testing.T) {
	good := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"}]}`
	bad := strings.Replace(good, "s3:GetObject", "s3:GetObjekt", 1)
	found, err := LintIAM([]policy.Resource{
		{Type: "aws:iam/rolePolicy:RolePolicy", Name: "fine-policy", Inputs: map[string]any{"policy": good}},
		{Type: "aws:iam/rolePolicy:RolePolicy", Name: "build-policy", Inputs: map[string]any{"policy": bad}},
	})
	if err != nil {
		t.Fatal(err)
	}
	reports(t, found, "build-policy", "W3037: 'getobjekt' is not one of the valid values")
}

func TestAslValidatorReportsAMissingState(t *testing.T) {
	r := policy.Resource{Type: "aws:sfn/stateMachine:StateMachine", Name: "deployer-state-machine", Inputs: map[string]any{
		"definition": `{"StartAt":"Validate","States":{"Shift":{"Type":"Pass","End":true}}}`}}
	found, err := ValidateStateMachines([]policy.Resource{r})
	if err != nil {
		t.Fatal(err)
	}
	reports(t, found, "deployer-state-machine", "Missing 'StartAt'|'Next'|'Default' target: Validate")
}

func TestAutonamedLoadBalancerOver32IsReported(t *testing.T) {
	r := policy.Resource{Type: "aws:lb/loadBalancer:LoadBalancer", Name: "edge-public-ingress-nlb-x", Inputs: map[string]any{"loadBalancerType": "network"}}
	reports(t, CheckDocumented([]policy.Resource{r}), r.Name, "load balancer names are 1-32")
}

// Nested inputs the provider names differently are checked through their
// aliases: the collector's subnets and workspace are the model's
// eksConfiguration and ampConfiguration.
func TestScraperIsCheckedThroughNestedAliases(t *testing.T) {
	scraper := func(subnet string) policy.Resource {
		return policy.Resource{Type: "aws:amp/scraper:Scraper", Name: "prometheus-collector", Inputs: map[string]any{
			"alias":               "canary-dev",
			"source":              map[string]any{"eks": map[string]any{"clusterArn": "arn:aws:eks:us-west-2:123456789012:cluster/canary-dev", "subnetIds": []any{subnet}, "securityGroupIds": []any{"sg-0c"}}},
			"destination":         map[string]any{"amp": map[string]any{"workspaceArn": "arn:aws:aps:us-west-2:123456789012:workspace/ws-1"}},
			"scrapeConfiguration": "global: {}",
		}}
	}
	if f := models(t).Check([]policy.Resource{scraper("subnet-0a")}); len(f) > 0 {
		t.Fatalf("valid collector: %v", f)
	}
	reports(t, models(t).Check([]policy.Resource{scraper("10.0.1.0/24")}), "prometheus-collector", "source.eks.subnetIds[0]")
}
