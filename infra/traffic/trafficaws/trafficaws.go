// Package trafficaws is the AWS side of the traffic layer (infra/traffic):
// the IAM roles its controllers and proxies run as, their Pod Identity or
// IRSA wiring, and the stack's VPC Lattice service network. It creates them
// as children of the Traffic component, with the names they always had.
package trafficaws

import (
	_ "embed"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpclattice"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/awsiam"
	"github.com/eks-canary/platform/infra/traffic"
)

// Upstream policies (see policies/NOTICE.md): the least-privilege ones of
// the App Mesh controller and of the Envoy proxies, and the recommended one
// of the AWS Gateway API Controller.
var (
	//go:embed policies/appmesh-controller-iam-policy.json
	appMeshControllerPolicy string
	//go:embed policies/appmesh-envoy-iam-policy.json
	appMeshEnvoyPolicy string
	//go:embed policies/gateway-controller-iam-policy.json
	gatewayControllerPolicy string
)

const latticePrefix = "com.amazonaws.%s.vpc-lattice"

// Cloud is the traffic layer's AWS side on a real account.
type Cloud struct{}

var _ traffic.Cloud = Cloud{}

// AppMesh creates the controller's and Envoy's roles. The controller
// documents IRSA only, so both keep IRSA rather than Pod Identity.
func (Cloud) AppMesh(ctx *pulumi.Context, t *traffic.Traffic, name string, args *traffic.TrafficArgs) (*traffic.AppMeshAccess, error) {
	if args.OidcProviderArn == nil || args.OidcIssuer == nil {
		return nil, fmt.Errorf("OidcProviderArn and OidcIssuer are required (IRSA)")
	}
	controllerRole, controllerPolicy, err := awsiam.NewRole(ctx, name+"-appmesh-controller", awsiam.RoleArgs{
		Trust:       awsiam.IRSATrust(args.OidcProviderArn, args.OidcIssuer, traffic.AppMeshSystemNamespace, traffic.AppMeshControllerSA),
		Description: "App Mesh controller (IRSA)",
		Policy:      pulumi.String(appMeshControllerPolicy),
		Tags:        args.Tags,
	}, pulumi.Parent(t))
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	envoyRole, envoyPolicy, err := awsiam.NewRole(ctx, name+"-appmesh-envoy", awsiam.RoleArgs{
		Trust:       awsiam.IRSATrust(args.OidcProviderArn, args.OidcIssuer, args.Namespace, traffic.EnvoyServiceAccount),
		Description: "Envoy proxies of namespace " + args.Namespace + " (IRSA)",
		Policy:      pulumi.String(appMeshEnvoyPolicy),
		Tags:        args.Tags,
	}, pulumi.Parent(t))
	if err != nil {
		return nil, fmt.Errorf("envoy: %w", err)
	}
	return &traffic.AppMeshAccess{
		ControllerRoleArn: controllerRole.Arn,
		EnvoyRoleArn:      envoyRole.Arn,
		ControllerReady:   []pulumi.Resource{controllerPolicy},
		EnvoyReady:        []pulumi.Resource{envoyPolicy},
	}, nil
}

// GatewayAPI creates the controller's role and Pod Identity association,
// the service network with its VPC association, and the rule that admits
// VPC Lattice to the pods.
func (Cloud) GatewayAPI(ctx *pulumi.Context, t *traffic.Traffic, name string, args *traffic.TrafficArgs, controllerNamespace pulumi.StringInput) (*traffic.GatewayAccess, error) {
	if args.ClusterSecurityGroupId == nil || args.PodIdentityAgent == nil {
		return nil, fmt.Errorf("ClusterSecurityGroupId and PodIdentityAgent are required")
	}
	role, policy, err := awsiam.NewRole(ctx, name+"-gateway-controller", awsiam.RoleArgs{
		Trust:       pulumi.String(awsiam.PodIdentityTrust()),
		Description: "AWS Gateway API Controller (Pod Identity)",
		Policy:      pulumi.String(gatewayControllerPolicy),
		Tags:        args.Tags,
	}, pulumi.Parent(t))
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	association, err := awseks.NewPodIdentityAssociation(ctx, name+"-gateway-controller", &awseks.PodIdentityAssociationArgs{
		ClusterName:    args.ClusterName,
		Namespace:      controllerNamespace,
		ServiceAccount: pulumi.String(traffic.GatewayControllerSA),
		RoleArn:        role.Arn,
		Tags:           args.Tags,
	}, pulumi.Parent(t), pulumi.DependsOn([]pulumi.Resource{args.PodIdentityAgent}))
	if err != nil {
		return nil, fmt.Errorf("controller pod identity: %w", err)
	}

	// The service network and its VPC association belong to the stack, so
	// destroy removes them once the controller and the Gateway are gone.
	// The network is named after the stack, not the Gateway: see the
	// controller's values in infra/traffic.
	serviceNetwork, err := vpclattice.NewServiceNetwork(ctx, name+"-service-network", &vpclattice.ServiceNetworkArgs{
		Name:     pulumi.String(args.ServiceNetwork),
		AuthType: pulumi.String("NONE"),
		Tags:     args.Tags,
	}, pulumi.Parent(t))
	if err != nil {
		return nil, fmt.Errorf("service network: %w", err)
	}
	vpcAssociation, err := vpclattice.NewServiceNetworkVpcAssociation(ctx, name+"-vpc-association", &vpclattice.ServiceNetworkVpcAssociationArgs{
		ServiceNetworkIdentifier: serviceNetwork.ID(),
		VpcIdentifier:            args.VpcId,
		Tags:                     args.Tags,
	}, pulumi.Parent(t))
	if err != nil {
		return nil, fmt.Errorf("service network vpc association: %w", err)
	}

	// VPC Lattice reaches the pods from its managed prefix list; the pods'
	// security group (the EKS cluster security group on managed nodes) must
	// admit it.
	prefixList := ec2.LookupManagedPrefixListOutput(ctx, ec2.LookupManagedPrefixListOutputArgs{
		Name: pulumi.String(fmt.Sprintf(latticePrefix, args.Region)),
	}, pulumi.Parent(t))
	if _, err := ec2.NewSecurityGroupRule(ctx, name+"-lattice-ingress", &ec2.SecurityGroupRuleArgs{
		Type:            pulumi.String("ingress"),
		Protocol:        pulumi.String("-1"),
		FromPort:        pulumi.Int(0),
		ToPort:          pulumi.Int(0),
		SecurityGroupId: args.ClusterSecurityGroupId,
		PrefixListIds:   pulumi.StringArray{prefixList.Id()},
		Description:     pulumi.String("VPC Lattice to pods"),
	}, pulumi.Parent(t)); err != nil {
		return nil, fmt.Errorf("lattice ingress rule: %w", err)
	}
	return &traffic.GatewayAccess{
		ControllerReady: []pulumi.Resource{association, policy, serviceNetwork, vpcAssociation},
		NetworkReady:    []pulumi.Resource{vpcAssociation},
	}, nil
}
