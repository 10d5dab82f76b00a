// Package cluster creates the EKS cluster the platform runs on: its own VPC,
// nodes in private subnets on a managed AL2023 node group, API access
// entries, an OIDC provider for IRSA, the Pod Identity agent, and the
// Kubernetes provider every in-cluster resource uses.
package cluster

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/awsiam"
)

// ClusterArgs configures the cluster.
type ClusterArgs struct {
	ClusterName       string // the EKS cluster's name
	KubernetesVersion string // empty: the EKS default
	AvailabilityZones int    // 2 or 3
	InstanceType      string // e.g. t4g.medium
	AMIType           string // AL2023_ARM_64_STANDARD or AL2023_x86_64_STANDARD, matching InstanceType
	NodeCount         int
	NodeMinCount      int
	NodeMaxCount      int
	LogRetentionDays  int
	Tags              pulumi.StringMap
}

// Cluster is the running cluster and how to reach it.
type Cluster struct {
	pulumi.ResourceState

	ClusterName            pulumi.StringOutput      `pulumi:"clusterName"`
	ClusterArn             pulumi.StringOutput      `pulumi:"clusterArn"`
	Kubeconfig             pulumi.StringOutput      `pulumi:"kubeconfig"`
	OidcProviderArn        pulumi.StringOutput      `pulumi:"oidcProviderArn"`
	OidcIssuer             pulumi.StringOutput      `pulumi:"oidcIssuer"` // without https://
	VpcId                  pulumi.StringOutput      `pulumi:"vpcId"`
	PrivateSubnetIds       pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`
	ClusterSecurityGroupId pulumi.StringOutput      `pulumi:"clusterSecurityGroupId"`

	// Provider reaches the cluster; it depends on the nodes, so every
	// Kubernetes object is created after them and deleted before them.
	Provider *kubernetes.Provider
	// PodIdentityAgent must run before any Pod Identity association is used.
	PodIdentityAgent *awseks.Addon
}

// NodePolicies are the AWS managed policies of the node role: join the
// cluster, run the VPC CNI, pull images from ECR (read only).
var NodePolicies = []string{
	"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
	"arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
	"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
}

// NewCluster creates the VPC, the cluster, its node group and add-ons.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil || args.ClusterName == "" || args.InstanceType == "" || args.AMIType == "" {
		return nil, fmt.Errorf("cluster %s: ClusterName, InstanceType and AMIType are required", name)
	}
	if args.AvailabilityZones < 2 || args.AvailabilityZones > 3 {
		return nil, fmt.Errorf("cluster %s: AvailabilityZones %d must be 2 or 3 (EKS needs two zones)", name, args.AvailabilityZones)
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("canary:infra:Cluster", name, c, opts...); err != nil {
		return nil, err
	}

	azs, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		State: pulumi.StringRef("available"),
		Filters: []aws.GetAvailabilityZonesFilter{{
			Name: "opt-in-status", Values: []string{"opt-in-not-required"},
		}},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: list availability zones: %w", name, err)
	}
	if len(azs.Names) < args.AvailabilityZones {
		return nil, fmt.Errorf("cluster %s: the region offers %d zones (%s), %d requested", name,
			len(azs.Names), strings.Join(azs.Names, ", "), args.AvailabilityZones)
	}
	net, err := newNetwork(ctx, name, args.ClusterName, azs.Names[:args.AvailabilityZones], args.Tags, c)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}

	// EKS writes control plane logs here; created first so it carries a
	// retention and goes away with the stack.
	controlPlaneLogs, err := cloudwatch.NewLogGroup(ctx, name+"-control-plane-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/eks/" + args.ClusterName + "/cluster"),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            args.Tags,
	}, pulumi.Parent(c))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: control plane log group: %w", name, err)
	}

	authMode := eks.AuthenticationModeApi
	clusterArgs := &eks.ClusterArgs{
		Name:                         pulumi.String(args.ClusterName),
		VpcId:                        net.vpc.ID(),
		PublicSubnetIds:              net.publicIDs(),
		PrivateSubnetIds:             net.privateIDs(),
		NodeAssociatePublicIpAddress: pulumi.BoolRef(false),
		SkipDefaultNodeGroup:         pulumi.BoolRef(true),
		AuthenticationMode:           &authMode,
		CreateOidcProvider:           pulumi.Bool(true),
		EndpointPublicAccess:         pulumi.Bool(true),
		EndpointPrivateAccess:        pulumi.Bool(true),
		EnabledClusterLogTypes:       pulumi.StringArray{pulumi.String("audit"), pulumi.String("authenticator")},
		Tags:                         args.Tags,
	}
	if args.KubernetesVersion != "" {
		clusterArgs.Version = pulumi.String(args.KubernetesVersion)
	}
	cluster, err := eks.NewCluster(ctx, name+"-eks", clusterArgs, pulumi.Parent(c),
		pulumi.DependsOn([]pulumi.Resource{controlPlaneLogs}))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: eks: %w", name, err)
	}

	nodeRole, err := iam.NewRole(ctx, name+"-node-role", &iam.RoleArgs{
		// No source condition: see EC2InstanceTrust.
		AssumeRolePolicy: pulumi.String(awsiam.EC2InstanceTrust()),
		Description:      pulumi.String("EKS managed nodes of " + args.ClusterName),
		Tags:             args.Tags,
	}, pulumi.Parent(c))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: node role: %w", name, err)
	}
	var attachments []pulumi.Resource
	for _, arn := range NodePolicies {
		short := arn[strings.LastIndex(arn, "/")+1:]
		a, err := iam.NewRolePolicyAttachment(ctx, name+"-node-"+short, &iam.RolePolicyAttachmentArgs{
			Role:      nodeRole.Name,
			PolicyArn: pulumi.String(arn),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, fmt.Errorf("cluster %s: node policy %s: %w", name, short, err)
		}
		attachments = append(attachments, a)
	}

	nodeGroup, err := eks.NewManagedNodeGroup(ctx, name+"-nodes", &eks.ManagedNodeGroupArgs{
		Cluster:       cluster,
		NodeRole:      nodeRole,
		AmiType:       pulumi.String(args.AMIType),
		InstanceTypes: pulumi.StringArray{pulumi.String(args.InstanceType)},
		SubnetIds:     net.privateIDs(),
		DiskSize:      pulumi.Int(40),
		ScalingConfig: &awseks.NodeGroupScalingConfigArgs{
			DesiredSize: pulumi.Int(args.NodeCount),
			MinSize:     pulumi.Int(args.NodeMinCount),
			MaxSize:     pulumi.Int(args.NodeMaxCount),
		},
		Tags: args.Tags,
	}, pulumi.Parent(c), pulumi.DependsOn(append(attachments, net.ready...)))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: node group: %w", name, err)
	}

	clusterName := cluster.EksCluster.Name()
	agent, err := awseks.NewAddon(ctx, name+"-pod-identity-agent", &awseks.AddonArgs{
		ClusterName:              clusterName,
		AddonName:                pulumi.String("eks-pod-identity-agent"),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
		Tags:                     args.Tags,
	}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{nodeGroup}))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: pod identity agent: %w", name, err)
	}

	kubeconfig := pulumi.ToSecret(cluster.KubeconfigJson).(pulumi.StringOutput)
	provider, err := kubernetes.NewProvider(ctx, name+"-k8s", &kubernetes.ProviderArgs{
		Kubeconfig:            kubeconfig,
		EnableServerSideApply: pulumi.Bool(true),
		// Lets an unattended destroy finish when the cluster is already gone.
		DeleteUnreachable: pulumi.Bool(true),
	}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{nodeGroup, agent}))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: kubernetes provider: %w", name, err)
	}

	c.ClusterName = clusterName
	c.ClusterArn = cluster.EksCluster.Arn()
	c.Kubeconfig = kubeconfig
	c.OidcProviderArn = cluster.Core.OidcProvider().Arn()
	c.OidcIssuer = cluster.EksCluster.Identities().Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer().
		ApplyT(func(issuer *string) (string, error) {
			if issuer == nil || *issuer == "" {
				return "", fmt.Errorf("cluster %s: EKS reported no OIDC issuer", name)
			}
			return strings.TrimPrefix(*issuer, "https://"), nil
		}).(pulumi.StringOutput)
	c.VpcId = net.vpc.ID().ToStringOutput()
	c.PrivateSubnetIds = net.privateIDs().ToStringArrayOutput()
	c.ClusterSecurityGroupId = cluster.EksCluster.VpcConfig().ClusterSecurityGroupId().Elem()
	c.Provider = provider
	c.PodIdentityAgent = agent

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"clusterName":            c.ClusterName,
		"clusterArn":             c.ClusterArn,
		"kubeconfig":             c.Kubeconfig,
		"oidcProviderArn":        c.OidcProviderArn,
		"oidcIssuer":             c.OidcIssuer,
		"vpcId":                  c.VpcId,
		"privateSubnetIds":       c.PrivateSubnetIds,
		"clusterSecurityGroupId": c.ClusterSecurityGroupId,
	}); err != nil {
		return nil, err
	}
	return c, nil
}
