// Package stacks composes the whole canary delivery environment from stack
// configuration: cluster, traffic layer, Container Insights, the shared
// canary engine and one pipeline per microservice.
package stacks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/cluster"
	"github.com/eks-canary/platform/infra/deployer"
	"github.com/eks-canary/platform/infra/edge/edgeaws"
	"github.com/eks-canary/platform/infra/insights"
	"github.com/eks-canary/platform/infra/pipeline"
	"github.com/eks-canary/platform/infra/traffic/trafficaws"
	"github.com/eks-canary/platform/internal/bundle"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks/config"
	"github.com/eks-canary/platform/stacks/kubelayer"
)

// EnginePackage is the engine's main package, relative to the repository root.
const EnginePackage = "./lambdas/cmd/engine"

// Options are the program's inputs besides stack configuration.
type Options struct {
	// RepoRoot holds lambdas/ and microservices/; Pulumi runs the program
	// from the project directory, the repository root.
	RepoRoot string
	// PackageLambda returns the engine zip; nil compiles EnginePackage.
	PackageLambda func(ctx context.Context) (string, error)
}

func (o Options) root() string {
	if o.RepoRoot == "" {
		return "."
	}
	return o.RepoRoot
}

// BuildDir is where the program writes the Lambda zip and seed archives.
func (o Options) BuildDir() string { return filepath.Join(o.root(), "build") }

func (o Options) lambdaArchive(ctx context.Context) (string, error) {
	if o.PackageLambda != nil {
		return o.PackageLambda(ctx)
	}
	zip, err := bundle.BuildLambda(ctx, o.root(), EnginePackage, filepath.Join(o.BuildDir(), "lambda"))
	if err != nil {
		return "", fmt.Errorf("engine lambda: %w", err)
	}
	return zip, nil
}

// Environment is what a deployment exposes.
type Environment struct {
	Config          config.Config
	ApplicationUrl  pulumi.StringOutput
	CloneUrls       pulumi.StringMap
	PipelineNames   pulumi.StringArray
	StateMachineArn pulumi.StringOutput
	Kubeconfig      pulumi.StringOutput
	ClusterName     pulumi.StringOutput
	TopicArn        pulumi.StringOutput
	Dashboards      pulumi.StringMap
}

// Program is the Pulumi program: configuration, resources, stack outputs.
func Program(opts Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := config.Load(ctx.Stack(), config.FromContext(ctx))
		if err != nil {
			return fmt.Errorf("stack %s configuration:\n%w", ctx.Stack(), err)
		}
		env, err := Deploy(ctx, cfg, opts)
		if err != nil {
			return err
		}
		ctx.Export("applicationUrl", env.ApplicationUrl)
		ctx.Export("cloneUrls", env.CloneUrls)
		ctx.Export("pipelineNames", env.PipelineNames)
		ctx.Export("stateMachineArn", env.StateMachineArn)
		ctx.Export("kubeconfig", env.Kubeconfig)
		ctx.Export("clusterName", env.ClusterName)
		ctx.Export("trafficLayer", pulumi.String(cfg.TrafficLayer))
		ctx.Export("namespace", pulumi.String(cfg.Namespace))
		ctx.Export("notificationTopicArn", env.TopicArn)
		ctx.Export("dashboards", env.Dashboards)
		return nil
	}
}

// Deploy creates the environment. Order matters for teardown: every
// Kubernetes object depends on the cluster's provider, which depends on the
// nodes, so destroy removes load balancers and mesh objects before the
// controllers, the nodes and the VPC.
func Deploy(ctx *pulumi.Context, cfg config.Config, opts Options) (*Environment, error) {
	archive, err := opts.lambdaArchive(ctx.Context())
	if err != nil {
		return nil, err
	}
	tags := pulumi.StringMap{
		"canary:stack":   pulumi.String(ctx.Project() + "/" + ctx.Stack()),
		"canary:cluster": pulumi.String(cfg.ClusterName),
	}

	cl, err := cluster.NewCluster(ctx, "cluster", &cluster.ClusterArgs{
		ClusterName:       cfg.ClusterName,
		KubernetesVersion: cfg.KubernetesVersion,
		AvailabilityZones: cfg.AvailabilityZones,
		InstanceType:      cfg.NodeInstanceType,
		AMIType:           cfg.AMIType(),
		NodeCount:         cfg.NodeCount,
		NodeMinCount:      cfg.NodeMinCount,
		NodeMaxCount:      cfg.NodeMaxCount,
		LogRetentionDays:  cfg.LogRetentionDays,
		Tags:              tags,
	})
	if err != nil {
		return nil, err
	}
	inCluster := pulumi.Providers(cl.Provider)

	identity := aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{})
	layer, err := kubelayer.Deploy(ctx, cfg, kubelayer.Inputs{
		ClusterName:            cl.ClusterName,
		AccountId:              identity.AccountId(),
		VpcId:                  cl.VpcId,
		OidcProviderArn:        cl.OidcProviderArn,
		OidcIssuer:             cl.OidcIssuer,
		ClusterSecurityGroupId: cl.ClusterSecurityGroupId,
		PodIdentityAgent:       cl.PodIdentityAgent,
		Tags:                   tags,
		TrafficCloud:           trafficaws.Cloud{},
		DNSCloud:               edgeaws.Cloud{},
		InCluster:              inCluster,
	})
	if err != nil {
		return nil, err
	}
	tr := layer.Traffic
	serviceDomain := ""
	if cfg.TrafficLayer == contract.RouterGatewayAPI {
		serviceDomain = cfg.ServiceDomain
	}

	appMesh := cfg.TrafficLayer == contract.RouterAppMesh
	ins, err := insights.NewInsights(ctx, "insights", &insights.InsightsArgs{
		ClusterName:       cfg.ClusterName,
		ClusterNameOut:    cl.ClusterName,
		Region:            cfg.Region,
		PodIdentityAgent:  cl.PodIdentityAgent,
		LogRetentionDays:  cfg.LogRetentionDays,
		Prometheus:        appMesh,
		Namespace:         cfg.Namespace,
		NamespaceResource: tr.AppNamespace,
		Tags:              tags,
	}, inCluster)
	if err != nil {
		return nil, err
	}

	var workspace *deployer.PrometheusWorkspace
	if cfg.PrometheusWorkspace {
		mp, err := insights.NewManagedPrometheus(ctx, "prometheus", &insights.ManagedPrometheusArgs{
			Alias:            cfg.ClusterName,
			ClusterArn:       cl.ClusterArn,
			SubnetIds:        cl.PrivateSubnetIds,
			SecurityGroupIds: pulumi.StringArray{cl.ClusterSecurityGroupId},
			Namespace:        cfg.Namespace,
			Tags:             tags,
		})
		if err != nil {
			return nil, err
		}
		workspace = &deployer.PrometheusWorkspace{QueryURL: mp.QueryUrl, Arn: mp.WorkspaceArn}
	}

	dep, err := deployer.NewDeployer(ctx, "deployer", &deployer.DeployerArgs{
		Prefix:                cfg.ClusterName,
		LambdaArchive:         archive,
		ClusterName:           cl.ClusterName,
		ClusterArn:            cl.ClusterArn,
		Namespace:             cfg.Namespace,
		NamespaceResource:     tr.AppNamespace,
		TrafficLayer:          cfg.TrafficLayer,
		NotificationEmail:     cfg.NotificationEmail,
		LogRetentionDays:      cfg.LogRetentionDays,
		RolloutTimeoutSeconds: cfg.RolloutTimeoutSeconds,
		ServiceDomain:         serviceDomain,
		Tags:                  tags,

		AllowedServiceAccounts: allowedServiceAccounts(cfg.TrafficLayer),
		HookFunctions:          cfg.HookFunctions,
		HookAllowedCIDRs:       cfg.HookAllowedCIDRs,
		PrometheusQueryURL:     cfg.PrometheusQueryURL,
		PrometheusWorkspace:    workspace,
	}, inCluster)
	if err != nil {
		return nil, err
	}

	env := &Environment{
		Config:          cfg,
		ApplicationUrl:  layer.ApplicationURL,
		CloneUrls:       pulumi.StringMap{},
		StateMachineArn: dep.StateMachineArn,
		Kubeconfig:      cl.Kubeconfig,
		ClusterName:     cl.ClusterName,
		TopicArn:        dep.NotificationTopicArn,
		Dashboards:      pulumi.StringMap{},
	}
	for _, m := range cfg.Microservices {
		args := &pipeline.MicroservicePipelineArgs{
			Microservice:         m.Name,
			Prefix:               cfg.ClusterName,
			Region:               cfg.Region,
			Branch:               cfg.Branch,
			ClusterName:          cl.ClusterName,
			Namespace:            cfg.Namespace,
			TrafficLayer:         cfg.TrafficLayer,
			Architecture:         cfg.NodeArchitecture,
			BuildComputeType:     cfg.BuildComputeType,
			ManualApproval:       cfg.ManualApproval,
			StateMachineArn:      dep.StateMachineArn,
			NotificationTopicArn: dep.NotificationTopicArn,
			LogRetentionDays:     cfg.LogRetentionDays,
			Tags:                 tags,
		}
		if m.BuildComputeType != "" {
			args.BuildComputeType = m.BuildComputeType
		}
		if appMesh {
			args.PrometheusLogGroup = ins.PrometheusLogGroupName
			args.PrometheusLogGroupResource = ins.PrometheusLogGroupResource
		}
		if cfg.SampleMode {
			seed, err := SeedArchive(ctx.Context(), opts, m.Name)
			if err != nil {
				return nil, err
			}
			args.SeedArchive = seed
		}
		p, err := pipeline.NewMicroservicePipeline(ctx, m.Name, args)
		if err != nil {
			return nil, err
		}
		env.CloneUrls[m.Name] = p.CloneUrlHttp
		env.PipelineNames = append(env.PipelineNames, p.PipelineName)
		env.Dashboards[m.Name] = p.DashboardName
	}
	return env, nil
}

// SeedArchive zips microservices/<name> into build/seed/<name>.zip: the
// files a commit would hold (tracked or not ignored), never node_modules or
// build output.
func SeedArchive(ctx context.Context, opts Options, name string) (string, error) {
	src := filepath.Join(opts.root(), "microservices", name)
	if _, err := os.Stat(filepath.Join(src, filepath.FromSlash(pipeline.BuildSpec))); err != nil {
		return "", fmt.Errorf("sample source of %s: %s is missing (sampleMode seeds each repository from microservices/%s): add the sample or set sampleMode to false",
			name, filepath.Join("microservices", name, filepath.FromSlash(pipeline.BuildSpec)), name)
	}
	dst := filepath.Join(opts.BuildDir(), "seed", name+".zip")
	if err := bundle.ZipDir(ctx, src, dst); err != nil {
		return "", fmt.Errorf("sample source of %s: %w", name, err)
	}
	return dst, nil
}

// allowedServiceAccounts are those the environment creates for templates'
// pods: App Mesh's Envoy sidecar reads the mesh as its own.
func allowedServiceAccounts(trafficLayer string) []string {
	if trafficLayer == contract.RouterAppMesh {
		return []string{contract.AppMeshEnvoyServiceAccount}
	}
	return nil
}
