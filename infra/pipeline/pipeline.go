// Package pipeline creates one microservice's delivery pipeline: a CodeCommit
// repository (seeded with the sample source when asked), an ECR repository,
// a CodeBuild project that builds the image and deploy.json, and a
// CodePipeline (V2) that hands deploy.json to the canary state machine, with
// the metric filters and the dashboard the canary analysis relies on.
package pipeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codebuild"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codepipeline"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/awsiam"
)

// Build images per node architecture: images must run on the nodes.
var buildImages = map[string]struct{ image, envType, platform string }{
	"arm64":  {"aws/codebuild/amazonlinux2-aarch64-standard:3.0", "ARM_CONTAINER", "linux/arm64"},
	"x86_64": {"aws/codebuild/standard:7.0", "LINUX_CONTAINER", "linux/amd64"},
}

// BuildSpec is the buildspec every microservice repository carries.
const BuildSpec = "specfiles/build.yml"

// MicroservicePipelineArgs configures one pipeline.
type MicroservicePipelineArgs struct {
	Microservice string // repository, image and label name
	Prefix       string // starts the physical names of the build and pipeline
	Region       string
	// SeedArchive is a zip of the sample source pushed as the first commit;
	// empty creates an empty repository.
	SeedArchive      string
	Branch           string
	ClusterName      pulumi.StringInput
	Namespace        string
	TrafficLayer     string // TRAFFIC_ROUTER for the build
	Architecture     string // "arm64" or "x86_64", the nodes'
	BuildComputeType string
	ManualApproval   bool

	StateMachineArn      pulumi.StringInput
	NotificationTopicArn pulumi.StringInput

	// PrometheusLogGroup receives Envoy's EMF (App Mesh); empty skips the
	// metric filters.
	PrometheusLogGroup         string
	PrometheusLogGroupResource pulumi.Resource
	LogRetentionDays           int
	Tags                       pulumi.StringMap
}

// MicroservicePipeline is one delivery pipeline.
type MicroservicePipeline struct {
	pulumi.ResourceState

	RepositoryName     pulumi.StringOutput `pulumi:"repositoryName"`
	CloneUrlHttp       pulumi.StringOutput `pulumi:"cloneUrlHttp"`
	ImageRepositoryUrl pulumi.StringOutput `pulumi:"imageRepositoryUrl"`
	PipelineName       pulumi.StringOutput `pulumi:"pipelineName"`
	DashboardName      pulumi.StringOutput `pulumi:"dashboardName"`
}

// NewMicroservicePipeline creates the pipeline of one microservice.
func NewMicroservicePipeline(ctx *pulumi.Context, name string, args *MicroservicePipelineArgs, opts ...pulumi.ResourceOption) (*MicroservicePipeline, error) {
	if err := validate(args); err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", name, err)
	}
	p := &MicroservicePipeline{}
	if err := ctx.RegisterComponentResource("canary:infra:MicroservicePipeline", name, p, opts...); err != nil {
		return nil, err
	}
	if err := p.build(ctx, name, args); err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", name, err)
	}
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{
		"repositoryName":     p.RepositoryName,
		"cloneUrlHttp":       p.CloneUrlHttp,
		"imageRepositoryUrl": p.ImageRepositoryUrl,
		"pipelineName":       p.PipelineName,
		"dashboardName":      p.DashboardName,
	}); err != nil {
		return nil, err
	}
	return p, nil
}

func validate(a *MicroservicePipelineArgs) error {
	if a == nil {
		return fmt.Errorf("args are required")
	}
	var missing []string
	for field, empty := range map[string]bool{
		"Microservice": a.Microservice == "", "Prefix": a.Prefix == "", "Region": a.Region == "", "Branch": a.Branch == "",
		"Namespace": a.Namespace == "", "TrafficLayer": a.TrafficLayer == "", "BuildComputeType": a.BuildComputeType == "",
		"ClusterName": a.ClusterName == nil, "StateMachineArn": a.StateMachineArn == nil,
		"NotificationTopicArn": a.NotificationTopicArn == nil, "LogRetentionDays": a.LogRetentionDays <= 0,
	} {
		if empty {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if _, ok := buildImages[a.Architecture]; !ok {
		return fmt.Errorf("Architecture %q is not known: use arm64 or x86_64", a.Architecture)
	}
	if a.PrometheusLogGroup != "" && a.PrometheusLogGroupResource == nil {
		return fmt.Errorf("PrometheusLogGroupResource is required with PrometheusLogGroup")
	}
	return nil
}

func (p *MicroservicePipeline) build(ctx *pulumi.Context, name string, args *MicroservicePipelineArgs) error {
	svc := args.Microservice
	bucket, err := newArtifactBucket(ctx, name, args.Tags, p)
	if err != nil {
		return err
	}
	repo, err := newSourceRepository(ctx, name, args, bucket, p)
	if err != nil {
		return err
	}

	images, err := ecr.NewRepository(ctx, name+"-images", &ecr.RepositoryArgs{
		Name:                       pulumi.String(svc),
		ForceDelete:                pulumi.Bool(true),
		ImageTagMutability:         pulumi.String("IMMUTABLE"),
		ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{ScanOnPush: pulumi.Bool(true)},
		EncryptionConfigurations:   ecr.RepositoryEncryptionConfigurationArray{ecr.RepositoryEncryptionConfigurationArgs{EncryptionType: pulumi.String("AES256")}},
		Tags:                       args.Tags,
	}, pulumi.Parent(p))
	if err != nil {
		return fmt.Errorf("image repository: %w", err)
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, name+"-images-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: images.Name,
		Policy:     pulumi.String(imageLifecycle),
	}, pulumi.Parent(p)); err != nil {
		return fmt.Errorf("image lifecycle: %w", err)
	}

	env := awsiam.LookupEnvironment(ctx, pulumi.Parent(p))
	project, err := p.buildProject(ctx, name, args, env, bucket, images)
	if err != nil {
		return err
	}
	pipeline, err := p.pipeline(ctx, name, args, env, bucket, repo, project)
	if err != nil {
		return err
	}
	if err := p.trigger(ctx, name, args, env, repo, pipeline); err != nil {
		return err
	}
	if args.PrometheusLogGroup != "" {
		if err := p.metricFilters(ctx, name, args); err != nil {
			return err
		}
	}
	dashboard, err := p.dashboard(ctx, name, args)
	if err != nil {
		return err
	}

	p.RepositoryName = repo.name
	p.CloneUrlHttp = repo.cloneURL
	p.ImageRepositoryUrl = images.RepositoryUrl
	p.PipelineName = pipeline.Name
	p.DashboardName = dashboard.DashboardName
	return nil
}

// noLocalCache are the compute types CodeBuild offers no local cache on.
var noLocalCache = []string{"BUILD_GENERAL1_2XLARGE"}

// buildCache keeps Docker layers on the build host where CodeBuild supports
// it, else in the artifact bucket. Source caching is left out: CodeBuild
// ignores it for CODEPIPELINE sources.
func buildCache(computeType string, bucket *artifactBucket) *codebuild.ProjectCacheArgs {
	if slices.Contains(noLocalCache, computeType) {
		return &codebuild.ProjectCacheArgs{
			Type:     pulumi.String("S3"),
			Location: pulumi.Sprintf("%s/build-cache", bucket.bucket.Bucket),
		}
	}
	return &codebuild.ProjectCacheArgs{
		Type:  pulumi.String("LOCAL"),
		Modes: pulumi.StringArray{pulumi.String("LOCAL_DOCKER_LAYER_CACHE")},
	}
}

// imageLifecycle keeps the last 30 images (enough to roll back far) and
// drops untagged layers after a week.
const imageLifecycle = `{"rules":[` +
	`{"rulePriority":1,"description":"drop untagged images after 7 days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},` +
	`{"rulePriority":2,"description":"keep the last 30 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`

func (p *MicroservicePipeline) buildProject(ctx *pulumi.Context, name string, args *MicroservicePipelineArgs, env awsiam.Environment, bucket *artifactBucket, images *ecr.Repository) (*codebuild.Project, error) {
	projectName := args.Prefix + "-" + args.Microservice + "-build"
	logs, err := cloudwatch.NewLogGroup(ctx, name+"-build-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/codebuild/" + projectName),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            args.Tags,
	}, pulumi.Parent(p))
	if err != nil {
		return nil, fmt.Errorf("build log group: %w", err)
	}
	role, err := iam.NewRole(ctx, name+"-build-role", &iam.RoleArgs{
		// Only builds of this project, named ahead: the project needs the role.
		AssumeRolePolicy: awsiam.ServiceTrust("codebuild.amazonaws.com", env.ResourceSource("codebuild", "project/"+projectName)),
		Description:      pulumi.String("Build of " + args.Microservice),
		Tags:             args.Tags,
	}, pulumi.Parent(p))
	if err != nil {
		return nil, fmt.Errorf("build role: %w", err)
	}
	policy, err := iam.NewRolePolicy(ctx, name+"-build-policy", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: awsiam.Document(
			awsiam.Statement{Sid: "WriteBuildLogs", Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
				Resources: []pulumi.StringInput{pulumi.Sprintf("%s:*", logs.Arn)}},
			awsiam.Statement{Sid: "ReadWriteArtifacts", Actions: []string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"},
				Resources: []pulumi.StringInput{pulumi.Sprintf("%s/*", bucket.bucket.Arn)}},
			awsiam.Statement{Sid: "LocateArtifactBucket", Actions: []string{"s3:GetBucketAcl", "s3:GetBucketLocation"},
				Resources: []pulumi.StringInput{bucket.bucket.Arn}},
			// The registry login token has no resource-level permissions.
			awsiam.Statement{Sid: "LogInToRegistry", Actions: []string{"ecr:GetAuthorizationToken"}, Resources: []pulumi.StringInput{awsiam.Any}},
			awsiam.Statement{Sid: "PushImage", Actions: []string{
				"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
				"ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
			}, Resources: []pulumi.StringInput{images.Arn}},
		),
	}, pulumi.Parent(p))
	if err != nil {
		return nil, fmt.Errorf("build policy: %w", err)
	}
	img := buildImages[args.Architecture]
	variable := func(k string, v pulumi.StringInput) codebuild.ProjectEnvironmentEnvironmentVariableInput {
		return codebuild.ProjectEnvironmentEnvironmentVariableArgs{Name: pulumi.String(k), Value: v, Type: pulumi.String("PLAINTEXT")}
	}
	project, err := codebuild.NewProject(ctx, name+"-build", &codebuild.ProjectArgs{
		Name:         pulumi.String(projectName),
		Description:  pulumi.String("Builds the " + args.Microservice + " image and its deploy.json"),
		ServiceRole:  role.Arn,
		BuildTimeout: pulumi.Int(30),
		Artifacts:    &codebuild.ProjectArtifactsArgs{Type: pulumi.String("CODEPIPELINE")},
		Source:       &codebuild.ProjectSourceArgs{Type: pulumi.String("CODEPIPELINE"), Buildspec: pulumi.String(BuildSpec)},
		Environment: &codebuild.ProjectEnvironmentArgs{
			ComputeType:              pulumi.String(args.BuildComputeType),
			Image:                    pulumi.String(img.image),
			Type:                     pulumi.String(img.envType),
			ImagePullCredentialsType: pulumi.String("CODEBUILD"),
			// Docker builds need a privileged build container; nothing else does.
			PrivilegedMode: pulumi.Bool(true),
			EnvironmentVariables: codebuild.ProjectEnvironmentEnvironmentVariableArray{
				variable("DOCKER_REGISTRY_URI", images.RepositoryUrl),
				variable("AWS_ACCOUNT_ID", images.RegistryId),
				variable("EKS_CLUSTER_NAME", args.ClusterName),
				variable("KUBERNETES_NAMESPACE", pulumi.String(args.Namespace)),
				variable("TRAFFIC_ROUTER", pulumi.String(args.TrafficLayer)),
				// The platform of the nodes the image will run on.
				variable("IMAGE_PLATFORM", pulumi.String(img.platform)),
			},
		},
		Cache: buildCache(args.BuildComputeType, bucket),
		LogsConfig: &codebuild.ProjectLogsConfigArgs{
			CloudwatchLogs: &codebuild.ProjectLogsConfigCloudwatchLogsArgs{GroupName: logs.Name, Status: pulumi.String("ENABLED")},
		},
		Tags: args.Tags,
	}, pulumi.Parent(p), pulumi.DependsOn([]pulumi.Resource{policy}))
	if err != nil {
		return nil, fmt.Errorf("build project: %w", err)
	}
	return project, nil
}

func (p *MicroservicePipeline) pipeline(ctx *pulumi.Context, name string, args *MicroservicePipelineArgs, env awsiam.Environment, bucket *artifactBucket, repo *sourceRepository, project *codebuild.Project) (*codepipeline.Pipeline, error) {
	pipelineName := args.Prefix + "-" + args.Microservice
	role, err := iam.NewRole(ctx, name+"-pipeline-role", &iam.RoleArgs{
		// Only this pipeline, named ahead: the pipeline needs the role.
		AssumeRolePolicy: awsiam.ServiceTrust("codepipeline.amazonaws.com", env.ResourceSource("codepipeline", pipelineName)),
		Description:      pulumi.String("Pipeline of " + args.Microservice),
		Tags:             args.Tags,
	}, pulumi.Parent(p))
	if err != nil {
		return nil, fmt.Errorf("pipeline role: %w", err)
	}
	// The rollout action names its executions <ExecutionNamePrefix>-<action
	// execution id>, so the pipeline may follow and stop only executions
	// named after its microservice. A prefix is no exact match: shop-* also
	// covers shop-api's executions; the engine checks the exact name.
	executions := pulumi.StringInput(args.StateMachineArn.ToStringOutput().ApplyT(func(arn string) (string, error) {
		if !strings.Contains(arn, ":stateMachine:") {
			return "", fmt.Errorf("unexpected state machine ARN %q", arn)
		}
		return strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":" + executionNamePrefix(args) + "-*", nil
	}).(pulumi.StringOutput))
	statements := []awsiam.Statement{
		{Sid: "ReadWriteArtifacts", Actions: []string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"},
			Resources: []pulumi.StringInput{pulumi.Sprintf("%s/*", bucket.bucket.Arn)}},
		{Sid: "LocateArtifactBucket", Actions: []string{"s3:GetBucketVersioning", "s3:GetBucketLocation"},
			Resources: []pulumi.StringInput{bucket.bucket.Arn}},
		{Sid: "ReadSource", Actions: []string{"codecommit:GetBranch", "codecommit:GetCommit", "codecommit:GetRepository",
			"codecommit:UploadArchive", "codecommit:GetUploadArchiveStatus", "codecommit:CancelUploadArchive"},
			Resources: []pulumi.StringInput{repo.arn}},
		{Sid: "RunBuild", Actions: []string{"codebuild:StartBuild", "codebuild:BatchGetBuilds"},
			Resources: []pulumi.StringInput{project.Arn}},
		{Sid: "StartRollout", Actions: []string{"states:StartExecution", "states:DescribeStateMachine"},
			Resources: []pulumi.StringInput{args.StateMachineArn}},
		{Sid: "FollowRollout", Actions: []string{"states:DescribeExecution", "states:StopExecution"},
			Resources: []pulumi.StringInput{executions}},
	}
	if args.ManualApproval {
		statements = append(statements, awsiam.Statement{Sid: "AskForApproval", Actions: []string{"sns:Publish"},
			Resources: []pulumi.StringInput{args.NotificationTopicArn}})
	}
	policy, err := iam.NewRolePolicy(ctx, name+"-pipeline-policy", &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: awsiam.Document(statements...),
	}, pulumi.Parent(p))
	if err != nil {
		return nil, fmt.Errorf("pipeline policy: %w", err)
	}

	action := func(a codepipeline.PipelineStageActionArgs) codepipeline.PipelineStageActionArray {
		a.Version = pulumi.String("1")
		return codepipeline.PipelineStageActionArray{a}
	}
	stages := codepipeline.PipelineStageArray{
		codepipeline.PipelineStageArgs{Name: pulumi.String("Source"), Actions: action(codepipeline.PipelineStageActionArgs{
			Name: pulumi.String("Source"), Category: pulumi.String("Source"), Owner: pulumi.String("AWS"), Provider: pulumi.String("CodeCommit"),
			OutputArtifacts: pulumi.StringArray{pulumi.String("SourceOutput")},
			Configuration: pulumi.StringMap{
				"RepositoryName":       repo.name,
				"BranchName":           pulumi.String(args.Branch),
				"PollForSourceChanges": pulumi.String("false"), // EventBridge starts the pipeline
				"OutputArtifactFormat": pulumi.String("CODE_ZIP"),
			},
		})},
		codepipeline.PipelineStageArgs{Name: pulumi.String("Build"), Actions: action(codepipeline.PipelineStageActionArgs{
			Name: pulumi.String("Build"), Category: pulumi.String("Build"), Owner: pulumi.String("AWS"), Provider: pulumi.String("CodeBuild"),
			InputArtifacts:  pulumi.StringArray{pulumi.String("SourceOutput")},
			OutputArtifacts: pulumi.StringArray{pulumi.String("BuildOutput")},
			Configuration:   pulumi.StringMap{"ProjectName": project.Name},
		})},
	}
	if args.ManualApproval {
		stages = append(stages, codepipeline.PipelineStageArgs{Name: pulumi.String("Approve"), Actions: action(codepipeline.PipelineStageActionArgs{
			Name: pulumi.String("Approve"), Category: pulumi.String("Approval"), Owner: pulumi.String("AWS"), Provider: pulumi.String("Manual"),
			Configuration: pulumi.StringMap{
				"NotificationArn": args.NotificationTopicArn,
				"CustomData":      pulumi.String("Approve the canary rollout of " + args.Microservice),
			},
		})})
	}
	stages = append(stages, codepipeline.PipelineStageArgs{Name: pulumi.String("Deploy"), Actions: action(codepipeline.PipelineStageActionArgs{
		Name: pulumi.String("CanaryRollout"), Category: pulumi.String("Invoke"), Owner: pulumi.String("AWS"), Provider: pulumi.String("StepFunctions"),
		InputArtifacts: pulumi.StringArray{pulumi.String("BuildOutput")},
		Configuration: pulumi.StringMap{
			"StateMachineArn":     args.StateMachineArn,
			"InputType":           pulumi.String("FilePath"),
			"Input":               pulumi.String("deploy.json"),
			"ExecutionNamePrefix": pulumi.String(executionNamePrefix(args)),
		},
	})})

	pipeline, err := codepipeline.NewPipeline(ctx, name+"-pipeline", &codepipeline.PipelineArgs{
		Name:         pulumi.String(pipelineName),
		PipelineType: pulumi.String("V2"),
		// One rollout after another, in commit order; the engine's lock
		// would refuse a second concurrent one anyway.
		ExecutionMode: pulumi.String("QUEUED"),
		RoleArn:       role.Arn,
		ArtifactStores: codepipeline.PipelineArtifactStoreArray{codepipeline.PipelineArtifactStoreArgs{
			Location: bucket.bucket.Bucket,
			Type:     pulumi.String("S3"),
		}},
		Stages: stages,
		Tags:   args.Tags,
	}, pulumi.Parent(p), pulumi.DependsOn([]pulumi.Resource{policy}))
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return pipeline, nil
}

// executionNamePrefix starts the name of every rollout execution the
// pipeline starts.
func executionNamePrefix(args *MicroservicePipelineArgs) string { return args.Microservice }

// trigger starts the pipeline when the branch is created or updated.
func (p *MicroservicePipeline) trigger(ctx *pulumi.Context, name string, args *MicroservicePipelineArgs, env awsiam.Environment, repo *sourceRepository, pipeline *codepipeline.Pipeline) error {
	pattern := repo.arn.ToStringOutput().ApplyT(func(arn string) (string, error) {
		b, err := json.Marshal(map[string]any{
			"source":      []string{"aws.codecommit"},
			"detail-type": []string{"CodeCommit Repository State Change"},
			"resources":   []string{arn},
			"detail": map[string]any{
				"event":         []string{"referenceCreated", "referenceUpdated"},
				"referenceType": []string{"branch"},
				"referenceName": []string{args.Branch},
			},
		})
		return string(b), err
	}).(pulumi.StringOutput)
	rule, err := cloudwatch.NewEventRule(ctx, name+"-push-rule", &cloudwatch.EventRuleArgs{
		Description:  pulumi.String("Start the " + args.Microservice + " pipeline on pushes to " + args.Branch),
		EventPattern: pattern,
		Tags:         args.Tags,
	}, pulumi.Parent(p))
	if err != nil {
		return fmt.Errorf("push rule: %w", err)
	}
	role, err := iam.NewRole(ctx, name+"-push-role", &iam.RoleArgs{
		// Only this rule; the rule does not need the role, its target does.
		AssumeRolePolicy: awsiam.ServiceTrust("events.amazonaws.com", awsiam.Source{Account: env.Account, Arn: rule.Arn}),
		Description:      pulumi.String("Starts the " + args.Microservice + " pipeline"),
		Tags:             args.Tags,
	}, pulumi.Parent(p))
	if err != nil {
		return fmt.Errorf("push role: %w", err)
	}
	policy, err := iam.NewRolePolicy(ctx, name+"-push-policy", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: awsiam.Document(awsiam.Statement{Sid: "StartPipeline", Actions: []string{"codepipeline:StartPipelineExecution"},
			Resources: []pulumi.StringInput{pipeline.Arn}}),
	}, pulumi.Parent(p))
	if err != nil {
		return fmt.Errorf("push policy: %w", err)
	}
	if _, err := cloudwatch.NewEventTarget(ctx, name+"-push-target", &cloudwatch.EventTargetArgs{
		Rule:    rule.Name,
		Arn:     pipeline.Arn,
		RoleArn: role.Arn,
	}, pulumi.Parent(p), pulumi.DependsOn([]pulumi.Resource{policy})); err != nil {
		return fmt.Errorf("push target: %w", err)
	}
	return nil
}
