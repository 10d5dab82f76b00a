package insights

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/amp"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/lambdas/analysis/prometheus/scrape"
)

// ManagedPrometheusArgs configures an Amazon Managed Service for Prometheus
// workspace and the managed collector that fills it from the cluster.
type ManagedPrometheusArgs struct {
	// Alias names the workspace and the collector: the cluster's name.
	Alias      string
	ClusterArn pulumi.StringInput
	// SubnetIds and SecurityGroupIds are where the collector's network
	// interfaces go: the cluster's private subnets (two zones at least) and
	// its security group, which the nodes share, so the collector reaches
	// the pods on their metrics port.
	SubnetIds        pulumi.StringArrayInput
	SecurityGroupIds pulumi.StringArrayInput
	// Namespace is the application namespace, the only one scraped.
	Namespace string
	Tags      pulumi.StringMap
}

// ManagedPrometheus is the workspace the engine queries with
// analysis.provider "prometheus".
type ManagedPrometheus struct {
	pulumi.ResourceState

	WorkspaceArn pulumi.StringOutput `pulumi:"workspaceArn"`
	// QueryUrl is the workspace's prometheusEndpoint, which the engine
	// signs its queries for (contract.EnvPrometheusURL).
	QueryUrl pulumi.StringOutput `pulumi:"queryUrl"`
}

// NewManagedPrometheus creates the workspace and a managed collector that
// scrapes the versions the engine deploys (scrape.Config). The service
// grants the collector its read access to the cluster: it creates an
// access entry for it on a cluster with the API authentication mode, which
// the cluster component sets.
func NewManagedPrometheus(ctx *pulumi.Context, name string, args *ManagedPrometheusArgs, opts ...pulumi.ResourceOption) (*ManagedPrometheus, error) {
	if args == nil || args.Alias == "" || args.ClusterArn == nil || args.SubnetIds == nil || args.SecurityGroupIds == nil || args.Namespace == "" {
		return nil, fmt.Errorf("managed prometheus %s: Alias, ClusterArn, SubnetIds, SecurityGroupIds and Namespace are required", name)
	}
	mp := &ManagedPrometheus{}
	if err := ctx.RegisterComponentResource("canary:infra:ManagedPrometheus", name, mp, opts...); err != nil {
		return nil, err
	}
	ws, err := amp.NewWorkspace(ctx, name+"-workspace", &amp.WorkspaceArgs{
		Alias: pulumi.String(args.Alias),
		Tags:  args.Tags,
	}, pulumi.Parent(mp))
	if err != nil {
		return nil, fmt.Errorf("managed prometheus %s: workspace: %w", name, err)
	}
	_, err = amp.NewScraper(ctx, name+"-collector", &amp.ScraperArgs{
		Alias: pulumi.String(args.Alias),
		Source: &amp.ScraperSourceArgs{Eks: &amp.ScraperSourceEksArgs{
			ClusterArn:       args.ClusterArn,
			SubnetIds:        args.SubnetIds,
			SecurityGroupIds: args.SecurityGroupIds,
		}},
		Destination:         &amp.ScraperDestinationArgs{Amp: &amp.ScraperDestinationAmpArgs{WorkspaceArn: ws.Arn}},
		ScrapeConfiguration: pulumi.String(scrape.Config(args.Namespace)),
		Tags:                args.Tags,
	}, pulumi.Parent(mp))
	if err != nil {
		return nil, fmt.Errorf("managed prometheus %s: collector: %w", name, err)
	}
	mp.WorkspaceArn = ws.Arn
	mp.QueryUrl = ws.PrometheusEndpoint
	if err := ctx.RegisterResourceOutputs(mp, pulumi.Map{"workspaceArn": mp.WorkspaceArn, "queryUrl": mp.QueryUrl}); err != nil {
		return nil, err
	}
	return mp, nil
}
