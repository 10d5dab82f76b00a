package pipeline_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/pipeline"
	"github.com/eks-canary/platform/infra/policy"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks/offline"
)

const (
	stateMachineArn = "arn:aws:states:us-west-2:" + offline.Account + ":stateMachine:canary-dev-canary-rollout"
	topicArn        = "arn:aws:sns:us-west-2:" + offline.Account + ":canary-dev-canary-notifications"
	promLogs        = "/aws/containerinsights/canary-dev/prometheus"
)

func args(t *testing.T) *pipeline.MicroservicePipelineArgs {
	t.Helper()
	seed := filepath.Join(t.TempDir(), "yelb-appserver.zip")
	if err := os.WriteFile(seed, []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o644); err != nil {
		t.Fatal(err)
	}
	return &pipeline.MicroservicePipelineArgs{
		Microservice: "yelb-appserver", Prefix: "canary-dev", Region: "us-west-2", SeedArchive: seed, Branch: "main",
		ClusterName: pulumi.String("canary-dev"), Namespace: "yelb", TrafficLayer: contract.RouterGatewayAPI, Architecture: "arm64",
		BuildComputeType: "BUILD_GENERAL1_SMALL", StateMachineArn: pulumi.String(stateMachineArn), NotificationTopicArn: pulumi.String(topicArn),
		LogRetentionDays: 14,
	}
}

func run(t *testing.T, a *pipeline.MicroservicePipelineArgs, withPrometheus bool) (*offline.Result, string) {
	t.Helper()
	var cloneURL string
	res := pt.MustRun(t, func(ctx *pulumi.Context) error {
		if withPrometheus {
			lg, err := cloudwatch.NewLogGroup(ctx, "prometheus-logs", &cloudwatch.LogGroupArgs{Name: pulumi.String(promLogs), RetentionInDays: pulumi.Int(14)})
			if err != nil {
				return err
			}
			a.PrometheusLogGroup, a.PrometheusLogGroupResource = promLogs, lg
		}
		p, err := pipeline.NewMicroservicePipeline(ctx, a.Microservice, a)
		if err != nil {
			return err
		}
		cloneURL, err = pt.AwaitString(ctx, p.CloneUrlHttp)
		return err
	})
	if v := policy.Check(res.Owned()); len(v) != 0 {
		t.Errorf("policy violations: %v", v)
	}
	return res, cloneURL
}

// buildEnv is the CodeBuild project's environment variables by name.
func buildEnv(t *testing.T, res *offline.Result, name string) map[string]string {
	t.Helper()
	env := map[string]string{}
	vars, _ := pt.MustGet(pt.Find(t, res, pt.TypeCodeBuild, name).Inputs, "environment.environmentVariables").([]any)
	for _, v := range vars {
		env[pt.Str(v, "name")] = pt.Str(v, "value")
	}
	return env
}

func TestPipelineBuildAndDeploy(t *testing.T) {
	a := args(t)
	a.ManualApproval = true
	res, cloneURL := run(t, a, false)

	env := buildEnv(t, res, "yelb-appserver-build")
	want := map[string]string{
		"DOCKER_REGISTRY_URI":  offline.Account + ".dkr.ecr.us-west-2.amazonaws.com/yelb-appserver",
		"AWS_ACCOUNT_ID":       offline.Account,
		"EKS_CLUSTER_NAME":     "canary-dev",
		"KUBERNETES_NAMESPACE": "yelb",
		"TRAFFIC_ROUTER":       contract.RouterGatewayAPI,
		"IMAGE_PLATFORM":       "linux/arm64",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s %q: environment variable %s = %q, want %q", pt.TypeCodeBuild, "yelb-appserver-build", k, env[k], v)
		}
	}
	if len(env) != len(want) {
		t.Errorf("%s %q: environment variables %v, want exactly %v (the build contract)", pt.TypeCodeBuild, "yelb-appserver-build", env, want)
	}

	build, pl := "yelb-appserver-build", "yelb-appserver-pipeline"
	deploy := "stages[3].actions[0]."
	source := "stages[0].actions[0].configuration."
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeCodeBuild, build, "name", "canary-dev-yelb-appserver-build", "prefixed with clusterName"),
		pt.R(pt.TypeCodeBuild, build, "environment.privilegedMode", true, "Docker builds need it"),
		pt.R(pt.TypeCodeBuild, build, "environment.image", "aws/codebuild/amazonlinux2-aarch64-standard:3.0", "arm64 builds for arm64 nodes"),
		pt.R(pt.TypeCodeBuild, build, "environment.type", "ARM_CONTAINER", "an arm64 build container"),
		pt.R(pt.TypeCodeBuild, build, "environment.computeType", "BUILD_GENERAL1_SMALL", "buildComputeType"),
		pt.R(pt.TypeCodeBuild, build, "source.buildspec", pipeline.BuildSpec, "the repository's buildspec"),
		pt.R(pt.TypeCodeBuild, build, "cache.type", "LOCAL", "Docker layers cached locally"),
		pt.R(pt.TypeCodeBuild, build, "cache.modes", []string{"LOCAL_DOCKER_LAYER_CACHE"}, "the Docker layer cache"),
		pt.R(pt.TypeCodeBuild, build, "logsConfig.cloudwatchLogs.status", "ENABLED", "build logs in CloudWatch"),
		pt.R(pt.TypeLogGroup, "yelb-appserver-build-logs", "name", "/aws/codebuild/canary-dev-yelb-appserver-build", "the build's log group"),
		pt.R(pt.TypeLogGroup, "yelb-appserver-build-logs", "retentionInDays", 14, "logRetentionDays"),
		pt.R(pt.TypeCodePipeline, pl, "name", "canary-dev-yelb-appserver", "prefixed with clusterName"),
		pt.R(pt.TypeCodePipeline, pl, "pipelineType", "V2", "CodePipeline V2"),
		pt.R(pt.TypeCodePipeline, pl, "executionMode", "QUEUED", "one rollout after another, in commit order"),
		pt.R(pt.TypeCodePipeline, pl, "stages[0].name", "Source", "stage 1"),
		pt.R(pt.TypeCodePipeline, pl, "stages[1].name", "Build", "stage 2"),
		pt.R(pt.TypeCodePipeline, pl, "stages[2].name", "Approve", "manualApproval adds an approval"),
		pt.R(pt.TypeCodePipeline, pl, "stages[2].actions[0].configuration.NotificationArn", topicArn, "the approval's notice goes to the topic"),
		pt.R(pt.TypeCodePipeline, pl, "stages[3].name", "Deploy", "stage 4"),
		pt.R(pt.TypeCodePipeline, pl, "stages[4]", pt.Absent, "nothing after the rollout"),
		pt.R(pt.TypeCodePipeline, pl, deploy+"provider", "StepFunctions", "the rollout is a Step Functions execution"),
		pt.R(pt.TypeCodePipeline, pl, deploy+"configuration.StateMachineArn", stateMachineArn, "of the shared state machine"),
		pt.R(pt.TypeCodePipeline, pl, deploy+"configuration.InputType", "FilePath", "its input is a file of the build artifact"),
		pt.R(pt.TypeCodePipeline, pl, deploy+"configuration.ExecutionNamePrefix", "yelb-appserver", "executions named <microservice>-<id>, the engine's proof of the pipeline"),
		pt.R(pt.TypeRolePolicy, "yelb-appserver-pipeline-policy", "policy", pt.Contains(`"arn:aws:states:us-west-2:`+offline.Account+`:execution:canary-dev-canary-rollout:yelb-appserver-*"`), "it follows and stops only its own microservice's executions"),
		pt.R(pt.TypeRole, "yelb-appserver-pipeline-role", "assumeRolePolicy", pt.Contains(`"aws:SourceArn":"arn:aws:codepipeline:us-west-2:`+offline.Account+`:canary-dev-yelb-appserver"`), "only this pipeline assumes its role"),
		pt.R(pt.TypeCodePipeline, pl, deploy+"configuration.Input", "deploy.json", "deploy.json"),
		pt.R(pt.TypeCodePipeline, pl, source+"BranchName", "main", "the configured branch"),
		pt.R(pt.TypeCodePipeline, pl, source+"PollForSourceChanges", "false", "EventBridge starts the pipeline"),
		pt.R(pt.TypeCodePipeline, pl, source+"RepositoryName", "yelb-appserver", "the microservice's repository"),
		pt.R(pt.TypeECR, "yelb-appserver-images", "name", "yelb-appserver", "named after the microservice"),
		pt.R(pt.TypeECR, "yelb-appserver-images", "forceDelete", true, "an unattended destroy empties it"),
		pt.R(pt.TypeECR, "yelb-appserver-images", "imageScanningConfiguration.scanOnPush", true, "every image is scanned"),
		pt.R(pt.TypeECR, "yelb-appserver-images", "imageTagMutability", "IMMUTABLE", "a tag names one image"),
		pt.R(pt.TypeBucket, "yelb-appserver-artifacts", "forceDestroy", true, "an unattended destroy empties it"),
		pt.R(pt.TypeBucketObject, "yelb-appserver-seed", "key", "seed/yelb-appserver.zip", "the sample's first commit"),
		pt.R(pt.TypeDashboard, "yelb-appserver-dashboard", "dashboardName", "canary-dev-yelb-appserver-canary", "one dashboard per microservice"),
		pt.R(pt.TypeDashboard, "yelb-appserver-dashboard", "dashboardBody", pt.Contains(`"CanaryDelivery","CanaryWeight","Namespace","yelb","Microservice","yelb-appserver"`), "the canary's weight"),
		pt.R(pt.TypeDashboard, "yelb-appserver-dashboard", "dashboardBody", pt.Contains(`"CanaryDelivery","CanaryErrorRate"`), "against its error rate"),
		pt.R(pt.TypeDashboard, "yelb-appserver-dashboard", "dashboardBody", pt.Contains(`"yAxis":"right"`), "on a second axis"),
	})
	if len(res.ByType(pt.TypeMetricFilter)) != 0 {
		t.Error("metric filters without a Prometheus log group")
	}
	if cloneURL != "https://git-codecommit.us-west-2.amazonaws.com/v1/repos/yelb-appserver" {
		t.Errorf("CloneUrlHttp = %q", cloneURL)
	}

	// The seeded repository: a CloudFormation stack whose template points at
	// the seed object, created after it.
	stack := pt.Find(t, res, pt.TypeCFNStack, "yelb-appserver-source")
	var tpl struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal([]byte(pt.Str(stack.Inputs, "templateBody")), &tpl); err != nil {
		t.Fatal(err)
	}
	repo := tpl.Resources["Repository"]
	bucket := pt.Find(t, res, pt.TypeBucket, "yelb-appserver-artifacts")
	for path, want := range map[string]string{"Code.BranchName": "main", "Code.S3.Key": "seed/yelb-appserver.zip", "Code.S3.Bucket": bucket.ID, "RepositoryName": "yelb-appserver"} {
		if got := pt.Str(repo.Properties, path); got != want {
			t.Errorf("%s %q: templateBody Repository.Properties.%s = %q, want %q", stack.Type, stack.Name, path, got, want)
		}
	}
	if repo.Type != "AWS::CodeCommit::Repository" {
		t.Errorf("%s %q: templateBody Repository is a %s", stack.Type, stack.Name, repo.Type)
	}
	if seed := pt.Find(t, res, pt.TypeBucketObject, "yelb-appserver-seed"); !slices.Contains(stack.Dependencies, seed.URN) {
		t.Errorf("%s %q is created before the seed object", stack.Type, stack.Name)
	}

	var pattern struct {
		Resources []string `json:"resources"`
		Detail    struct {
			Event         []string `json:"event"`
			ReferenceName []string `json:"referenceName"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(pt.Str(pt.Find(t, res, pt.TypeEventRule, "yelb-appserver-push-rule").Inputs, "eventPattern")), &pattern); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pattern.Detail.Event, []string{"referenceCreated", "referenceUpdated"}) || !slices.Equal(pattern.Detail.ReferenceName, []string{"main"}) ||
		!slices.Equal(pattern.Resources, []string{"arn:aws:codecommit:us-west-2:" + offline.Account + ":yelb-appserver"}) {
		t.Errorf("%s %q: eventPattern %+v, want pushes to main of this repository", pt.TypeEventRule, "yelb-appserver-push-rule", pattern)
	}
}

// iamMatch reports whether an IAM resource pattern ("*" any run, "?" one
// character) matches arn.
func iamMatch(pattern, arn string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(arn)
}

// The service roles trust their service only on behalf of this pipeline's
// own resources in the stack's account (confused-deputy conditions).
func TestPipelineRolesTrustOnlyTheirOwnResources(t *testing.T) {
	res, _ := run(t, args(t), false)
	arnOf := func(typ, name string) string {
		arn, _ := res.Outputs[pt.Find(t, res, typ, name).URN]["arn"].(string)
		return arn
	}
	trust := "Statement[0]."
	var rows []pt.Row
	for _, r := range []struct {
		role, service, sourceArn, why string
	}{
		{"yelb-appserver-build-role", "codebuild.amazonaws.com", "arn:aws:codebuild:us-west-2:" + offline.Account + ":project/canary-dev-yelb-appserver-build", "builds of this project only"},
		{"yelb-appserver-pipeline-role", "codepipeline.amazonaws.com", "arn:aws:codepipeline:us-west-2:" + offline.Account + ":canary-dev-yelb-appserver", "this pipeline only"},
		{"yelb-appserver-push-role", "events.amazonaws.com", arnOf(pt.TypeEventRule, "yelb-appserver-push-rule"), "the push rule only"},
	} {
		rows = append(rows,
			pt.R(pt.TypeRole, r.role, "assumeRolePolicy", pt.InJSON(trust+"Principal.Service", r.service), "the service assumes it"),
			pt.R(pt.TypeRole, r.role, "assumeRolePolicy", pt.InJSON(trust+`Condition.StringEquals["aws:SourceAccount"]`, offline.Account), "for the stack's account only"),
			pt.R(pt.TypeRole, r.role, "assumeRolePolicy", pt.InJSON(trust+`Condition.ArnLike["aws:SourceArn"]`, r.sourceArn), r.why),
			pt.R(pt.TypeRole, r.role, "assumeRolePolicy", pt.InJSON("Statement[1]", pt.Absent), "no other statement widens the trust"),
		)
	}
	pt.Check(t, res, rows)
	// The names written ahead are the ARNs the resources get.
	for _, r := range []struct{ typ, name, role string }{
		{pt.TypeCodeBuild, "yelb-appserver-build", "yelb-appserver-build-role"},
		{pt.TypeCodePipeline, "yelb-appserver-pipeline", "yelb-appserver-pipeline-role"},
	} {
		doc := pt.Str(pt.Find(t, res, pt.TypeRole, r.role).Inputs, "assumeRolePolicy")
		if want := arnOf(r.typ, r.name); want == "" || !strings.Contains(doc, `"aws:SourceArn":"`+want+`"`) {
			t.Errorf("%s %q: trust %s does not name %q, the ARN of %s %q", pt.TypeRole, r.role, doc, want, r.typ, r.name)
		}
	}
}

// The pipeline follows and stops only its own microservice's executions:
// those the rollout action names <ExecutionNamePrefix>-<action execution id>.
func TestPipelineFollowsOnlyItsOwnExecutions(t *testing.T) {
	res, _ := run(t, args(t), false)
	st := pt.Statements(t, pt.Str(pt.Find(t, res, pt.TypeRolePolicy, "yelb-appserver-pipeline-policy").Inputs, "policy"))["FollowRollout"]
	executions := "arn:aws:states:us-west-2:" + offline.Account + ":execution:canary-dev-canary-rollout:"
	if !slices.Equal(st.Action, []string{"states:DescribeExecution", "states:StopExecution"}) || !slices.Equal(st.Resource, []string{executions + "yelb-appserver-*"}) {
		t.Fatalf("statement FollowRollout %+v, want Describe/StopExecution on this microservice's executions of the state machine", st)
	}
	for name, allowed := range map[string]bool{
		executions + "yelb-appserver-3f1e2c4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f":                  true,
		executions + "yelb-ui-3f1e2c4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f":                         false,
		executions + "manual-rollback":                                                      false,
		"arn:aws:states:us-west-2:" + offline.Account + ":execution:other:yelb-appserver-1": false,
	} {
		if got := iamMatch(st.Resource[0], name); got != allowed {
			t.Errorf("FollowRollout on %s: allowed %v, want %v", name, got, allowed)
		}
	}
}

func TestPipelineX86BuildsAndS3Cache(t *testing.T) {
	a := args(t)
	a.Architecture, a.BuildComputeType, a.TrafficLayer = "x86_64", "BUILD_GENERAL1_2XLARGE", contract.RouterAppMesh
	res, _ := run(t, a, false)
	build := "yelb-appserver-build"
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeCodeBuild, build, "environment.image", "aws/codebuild/standard:7.0", "x86_64 builds for x86_64 nodes"),
		pt.R(pt.TypeCodeBuild, build, "environment.type", "LINUX_CONTAINER", "an x86_64 build container"),
		pt.R(pt.TypeCodeBuild, build, "environment.computeType", "BUILD_GENERAL1_2XLARGE", "buildComputeType"),
		pt.R(pt.TypeCodeBuild, build, "cache.type", "S3", "2XLARGE has no local cache: layers go to the artifact bucket"),
		pt.R(pt.TypeCodePipeline, "yelb-appserver-pipeline", "stages[2].name", "Deploy", "no approval without manualApproval"),
	})
	env := buildEnv(t, res, build)
	if env["IMAGE_PLATFORM"] != "linux/amd64" || env["TRAFFIC_ROUTER"] != contract.RouterAppMesh {
		t.Errorf("%s %q: IMAGE_PLATFORM %q, TRAFFIC_ROUTER %q; want linux/amd64 and appmesh", pt.TypeCodeBuild, build, env["IMAGE_PLATFORM"], env["TRAFFIC_ROUTER"])
	}
}

func TestPipelineMetricFiltersForAppMesh(t *testing.T) {
	res, _ := run(t, args(t), true)
	f := "yelb-appserver-errors-5xx-filter"
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeMetricFilter, f, "logGroupName", promLogs, "reads the Envoy metrics the Prometheus agent writes"),
		pt.R(pt.TypeMetricFilter, f, "pattern", `{ $.envoy_http_conn_manager_prefix = "ingress" && $.Version = "yelb-appserver-*" && $.envoy_response_code_class = "5" }`, "inbound 5xx of this microservice's versions"),
		pt.R(pt.TypeMetricFilter, f, "metricTransformation.name", contract.MetricErrors5xx, "the metric the analysis reads"),
		pt.R(pt.TypeMetricFilter, f, "metricTransformation.namespace", contract.MetricsNamespaceAppMesh, "in the engine's namespace"),
		pt.R(pt.TypeMetricFilter, f, "metricTransformation.value", "$.envoy_http_downstream_rq_xx", "the request count"),
		pt.R(pt.TypeMetricFilter, f, "metricTransformation.dimensions.Version", "$.Version", "per version: only the canary's figures judge it"),
		pt.R(pt.TypeMetricFilter, "yelb-appserver-requests-filter", "metricTransformation.name", contract.MetricRequests, "the request metric"),
	})
	filter := pt.Find(t, res, pt.TypeMetricFilter, f)
	if !slices.Contains(filter.Dependencies, pt.Find(t, res, pt.TypeLogGroup, "prometheus-logs").URN) {
		t.Errorf("%s %q is created before its log group", filter.Type, filter.Name)
	}
}

func TestPipelineUnseededRepository(t *testing.T) {
	a := args(t)
	a.SeedArchive = ""
	res, cloneURL := run(t, a, false)
	if len(res.ByType(pt.TypeCFNStack)) != 0 || len(res.ByType(pt.TypeBucketObject)) != 0 {
		t.Error("an unseeded repository still gets a seed stack or object")
	}
	pt.Check(t, res, []pt.Row{pt.R(pt.TypeCodeCommit, "yelb-appserver-source", "repositoryName", "yelb-appserver", "an empty repository named after the microservice")})
	if cloneURL != "https://git-codecommit.us-west-2.amazonaws.com/v1/repos/yelb-appserver" {
		t.Errorf("CloneUrlHttp = %q", cloneURL)
	}
}

func TestPipelineRefusesMissingArgs(t *testing.T) {
	_, err := pt.Run(func(ctx *pulumi.Context) error {
		_, err := pipeline.NewMicroservicePipeline(ctx, "orders", &pipeline.MicroservicePipelineArgs{Microservice: "orders", Architecture: "arm64"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "missing Branch, BuildComputeType, ClusterName, LogRetentionDays") {
		t.Errorf("error %v, want one listing every missing field", err)
	}
}
