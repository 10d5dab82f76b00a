// Package edgeaws is the AWS side of the stack's private DNS (infra/edge):
// the Route 53 private hosted zone, created or adopted, and ExternalDNS's
// role on it. It creates them as children of the ServiceDNS component, with
// the names they always had.
package edgeaws

import (
	"fmt"
	"strings"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/awsiam"
	"github.com/eks-canary/platform/infra/edge"
)

// Cloud is ServiceDNS's AWS side on a real account.
type Cloud struct{}

var _ edge.Cloud = Cloud{}

// Zone creates a zone named Domain, or associates the existing private
// zone HostedZoneID with the stack's VPC after checking it can hold Domain.
func (Cloud) Zone(ctx *pulumi.Context, d *edge.ServiceDNS, name string, args *edge.ServiceDNSArgs) (pulumi.StringOutput, pulumi.Resource, error) {
	if args.VpcId == nil {
		return pulumi.StringOutput{}, nil, fmt.Errorf("VpcId is required")
	}
	if args.HostedZoneID == "" {
		// forceDestroy: records ExternalDNS had no time to remove on
		// destroy must not keep the zone (Route 53 refuses to delete a zone
		// that still holds records).
		zone, err := route53.NewZone(ctx, name+"-zone", &route53.ZoneArgs{
			Name:         pulumi.String(args.Domain),
			Comment:      pulumi.String("Stable VPC Lattice names of " + args.OwnerID),
			Vpcs:         route53.ZoneVpcArray{route53.ZoneVpcArgs{VpcId: args.VpcId, VpcRegion: pulumi.String(args.Region)}},
			ForceDestroy: pulumi.Bool(true),
			Tags:         args.Tags,
		}, pulumi.Parent(d))
		if err != nil {
			return pulumi.StringOutput{}, nil, fmt.Errorf("hosted zone: %w", err)
		}
		return zone.ZoneId, zone, nil
	}
	existing, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{ZoneId: pulumi.StringRef(args.HostedZoneID)}, pulumi.Parent(d))
	if err != nil {
		return pulumi.StringOutput{}, nil, fmt.Errorf("hosted zone %s: %w (check hostedZoneId)", args.HostedZoneID, err)
	}
	zoneName := strings.TrimSuffix(existing.Name, ".")
	if existing.PrivateZone == nil || !*existing.PrivateZone {
		return pulumi.StringOutput{}, nil, fmt.Errorf("hosted zone %s (%s) is public: hostedZoneId must name a private hosted zone", args.HostedZoneID, zoneName)
	}
	if args.Domain != zoneName && !strings.HasSuffix(args.Domain, "."+zoneName) {
		return pulumi.StringOutput{}, nil, fmt.Errorf("hosted zone %s is %s: serviceDomain %s must be that name or lie under it", args.HostedZoneID, zoneName, args.Domain)
	}
	// The user's zone stays; only its association with this stack's VPC
	// comes and goes with the stack.
	association, err := route53.NewZoneAssociation(ctx, name+"-zone-association", &route53.ZoneAssociationArgs{
		ZoneId:    pulumi.String(args.HostedZoneID),
		VpcId:     args.VpcId,
		VpcRegion: pulumi.String(args.Region),
	}, pulumi.Parent(d))
	if err != nil {
		return pulumi.StringOutput{}, nil, fmt.Errorf("hosted zone association: %w", err)
	}
	return association.ZoneId, association, nil
}

// ExternalDNS creates a Pod Identity role that changes records of the zone
// only.
func (Cloud) ExternalDNS(ctx *pulumi.Context, d *edge.ServiceDNS, name string, args *edge.ServiceDNSArgs, zoneArn pulumi.StringOutput, namespace pulumi.StringInput) ([]pulumi.Resource, error) {
	if args.ClusterName == nil || args.PodIdentityAgent == nil {
		return nil, fmt.Errorf("ClusterName and PodIdentityAgent are required")
	}
	// Record changes on this zone only; Route 53 has no resource-level
	// permission for listing zones, which ExternalDNS does to find it.
	role, policy, err := awsiam.NewRole(ctx, name+"-external-dns", awsiam.RoleArgs{
		Trust:       pulumi.String(awsiam.PodIdentityTrust()),
		Description: "ExternalDNS of " + args.OwnerID + " (Pod Identity), records of one private zone",
		Policy: awsiam.Document(
			awsiam.Statement{
				Sid:       "RecordsOfTheStackZone",
				Actions:   []string{"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResources"},
				Resources: []pulumi.StringInput{zoneArn},
			},
			awsiam.Statement{
				Sid:       "FindTheZone",
				Actions:   []string{"route53:ListHostedZones"},
				Resources: []pulumi.StringInput{awsiam.Any},
			},
		),
		Tags: args.Tags,
	}, pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	association, err := awseks.NewPodIdentityAssociation(ctx, name+"-external-dns", &awseks.PodIdentityAssociationArgs{
		ClusterName:    args.ClusterName,
		Namespace:      namespace,
		ServiceAccount: pulumi.String(edge.ExternalDNSSA),
		RoleArn:        role.Arn,
		Tags:           args.Tags,
	}, pulumi.Parent(d), pulumi.DependsOn([]pulumi.Resource{args.PodIdentityAgent}))
	if err != nil {
		return nil, fmt.Errorf("pod identity: %w", err)
	}
	return []pulumi.Resource{association, policy}, nil
}
