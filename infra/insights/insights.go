// Package insights turns on Container Insights (the EKS CloudWatch
// Observability add-on with Pod Identity) and, for the App Mesh layer, the
// CloudWatch agent for Prometheus that scrapes Envoy and writes the
// per-version request and error counts the pipelines' metric filters read.
package insights

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/lambdas/contract"

	"github.com/eks-canary/platform/infra/awsiam"
)

// Names the add-on fixes.
const (
	AddonName        = "amazon-cloudwatch-observability"
	AgentNamespace   = contract.NamespaceCloudWatch
	AgentAccount     = "cloudwatch-agent"
	AgentPolicyArn   = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
	containerInsight = "/aws/containerinsights/"
)

// InsightsArgs configures observability.
type InsightsArgs struct {
	ClusterName      string // known before the cluster exists: log group names use it
	ClusterNameOut   pulumi.StringInput
	Region           string
	PodIdentityAgent pulumi.Resource
	LogRetentionDays int
	// Prometheus turns on the Envoy scraper (App Mesh layer) in Namespace.
	Prometheus bool
	Namespace  string
	// NamespaceResource is the application namespace object (for ordering).
	NamespaceResource pulumi.Resource
	Tags              pulumi.StringMap
}

// Insights is the observability installation.
type Insights struct {
	pulumi.ResourceState

	// PrometheusLogGroup receives Envoy's metrics as EMF (App Mesh only).
	PrometheusLogGroup     pulumi.StringOutput `pulumi:"prometheusLogGroup"`
	PrometheusLogGroupName string
	// PrometheusLogGroupResource orders metric filters after the group.
	PrometheusLogGroupResource *cloudwatch.LogGroup
}

// NewInsights installs the add-on and, when asked, the Prometheus agent.
func NewInsights(ctx *pulumi.Context, name string, args *InsightsArgs, opts ...pulumi.ResourceOption) (*Insights, error) {
	if args == nil || args.ClusterName == "" || args.ClusterNameOut == nil || args.PodIdentityAgent == nil {
		return nil, fmt.Errorf("insights %s: ClusterName, ClusterNameOut and PodIdentityAgent are required", name)
	}
	in := &Insights{}
	if err := ctx.RegisterComponentResource("canary:infra:Insights", name, in, opts...); err != nil {
		return nil, err
	}

	// The add-on would create these groups without a retention and leave
	// them behind on destroy; creating them first gives both.
	var groups []pulumi.Resource
	for _, g := range []string{"application", "dataplane", "host", "performance"} {
		lg, err := cloudwatch.NewLogGroup(ctx, name+"-"+g+"-logs", &cloudwatch.LogGroupArgs{
			Name:            pulumi.String(containerInsight + args.ClusterName + "/" + g),
			RetentionInDays: pulumi.Int(args.LogRetentionDays),
			Tags:            args.Tags,
		}, pulumi.Parent(in))
		if err != nil {
			return nil, fmt.Errorf("insights %s: %s log group: %w", name, g, err)
		}
		groups = append(groups, lg)
	}

	agentRole, agentPolicy, err := podIdentityRole(ctx, name+"-agent", "CloudWatch agent of Container Insights", args.Tags, in)
	if err != nil {
		return nil, fmt.Errorf("insights %s: %w", name, err)
	}
	addon, err := awseks.NewAddon(ctx, name+"-observability", &awseks.AddonArgs{
		ClusterName:              args.ClusterNameOut,
		AddonName:                pulumi.String(AddonName),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
		PodIdentityAssociations: awseks.AddonPodIdentityAssociationArray{awseks.AddonPodIdentityAssociationArgs{
			RoleArn:        agentRole.Arn,
			ServiceAccount: pulumi.String(AgentAccount),
		}},
		Tags: args.Tags,
	}, pulumi.Parent(in), pulumi.DependsOn(append(groups, args.PodIdentityAgent, agentPolicy)))
	if err != nil {
		return nil, fmt.Errorf("insights %s: add-on: %w", name, err)
	}

	outputs := pulumi.Map{}
	if args.Prometheus {
		if err := in.installPrometheus(ctx, name, args, addon); err != nil {
			return nil, fmt.Errorf("insights %s: %w", name, err)
		}
		outputs["prometheusLogGroup"] = in.PrometheusLogGroup
	}
	if err := ctx.RegisterResourceOutputs(in, outputs); err != nil {
		return nil, err
	}
	return in, nil
}

// podIdentityRole is a role EKS Pod Identity hands out, with the CloudWatch
// agent's managed policy (write metrics and logs, read its own config).
func podIdentityRole(ctx *pulumi.Context, name, description string, tags pulumi.StringMap, parent pulumi.Resource) (*iam.Role, pulumi.Resource, error) {
	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(awsiam.PodIdentityTrust()),
		Description:      pulumi.String(description + " (Pod Identity)"),
		Tags:             tags,
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, nil, fmt.Errorf("%s role: %w", name, err)
	}
	attachment, err := iam.NewRolePolicyAttachment(ctx, name+"-policy", &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.String(AgentPolicyArn),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, nil, fmt.Errorf("%s policy: %w", name, err)
	}
	return role, attachment, nil
}
