// Package edge gives the default traffic layer what a user reaches it by:
// stable private names for the VPC Lattice services (a Route 53 private
// hosted zone kept in step by ExternalDNS) and one public entry (an
// internet-facing NLB in front of a small nginx proxy).
package edge

import (
	_ "embed"
	"fmt"
	"strings"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/awsiam"
	"github.com/eks-canary/platform/infra/kubeinstall"
	"github.com/eks-canary/platform/lambdas/contract"
)

// The DNSEndpoint CRD of the ExternalDNS chart (see manifests/NOTICE.md).
//
//go:embed manifests/dnsendpoints.externaldns.k8s.io.yaml
var dnsEndpointCRD string

// ExternalDNS chart and names.
const (
	// ExternalDNSChart is the chart's name, which the platform namespace
	// (and the release and its service account) carry too.
	ExternalDNSChart     = contract.NamespaceExternalDNS
	ExternalDNSVersion   = "1.21.1"
	ExternalDNSRepo      = "https://kubernetes-sigs.github.io/external-dns/"
	ExternalDNSNamespace = contract.NamespaceExternalDNS
	ExternalDNSSA        = ExternalDNSChart
	// ExternalDNSTxtPrefix names the ownership TXT records apart from the
	// CNAMEs the controller asks for: a CNAME cannot share its name with a
	// TXT record.
	ExternalDNSTxtPrefix = "extdns-%{record_type}."
)

// ServiceDNSArgs configures the stack's private DNS.
type ServiceDNSArgs struct {
	Domain string // the stack's service domain
	// HostedZoneID names an existing private zone whose name is Domain or
	// a parent of it; empty creates a zone named Domain.
	HostedZoneID string
	Region       string
	// OwnerID marks the records this stack's ExternalDNS owns (its TXT
	// owner id), so two stacks can share a zone.
	OwnerID string

	ClusterName      pulumi.StringInput
	VpcId            pulumi.StringInput
	PodIdentityAgent pulumi.Resource
	Tags             pulumi.StringMap
}

// ServiceDNS is the zone, its VPC association and ExternalDNS.
type ServiceDNS struct {
	pulumi.ResourceState

	ZoneId  pulumi.StringOutput `pulumi:"zoneId"`
	ZoneArn pulumi.StringOutput `pulumi:"zoneArn"`
	// CRD is the DNSEndpoint CRD: the AWS Gateway API Controller must
	// start after it to write DNSEndpoint objects at all.
	CRD pulumi.Resource
	// Release is ExternalDNS: whatever holds DNSEndpoints (the application
	// namespace) depends on it, so on destroy the records are removed while
	// ExternalDNS still runs.
	Release *kubeinstall.Release

	zoneReady pulumi.Resource // the zone, or the association of an existing one
}

// NewServiceDNS creates or adopts the private zone and installs ExternalDNS
// limited to it.
func NewServiceDNS(ctx *pulumi.Context, name string, args *ServiceDNSArgs, opts ...pulumi.ResourceOption) (*ServiceDNS, error) {
	if args == nil || args.Domain == "" || args.Region == "" || args.OwnerID == "" ||
		args.ClusterName == nil || args.VpcId == nil || args.PodIdentityAgent == nil {
		return nil, fmt.Errorf("service dns %s: Domain, Region, OwnerID, ClusterName, VpcId and PodIdentityAgent are required", name)
	}
	d := &ServiceDNS{}
	if err := ctx.RegisterComponentResource("canary:infra:ServiceDNS", name, d, opts...); err != nil {
		return nil, err
	}
	if err := d.zone(ctx, name, args); err != nil {
		return nil, fmt.Errorf("service dns %s: %w", name, err)
	}
	if err := d.externalDNS(ctx, name, args); err != nil {
		return nil, fmt.Errorf("service dns %s: %w", name, err)
	}
	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{"zoneId": d.ZoneId, "zoneArn": d.ZoneArn}); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *ServiceDNS) zone(ctx *pulumi.Context, name string, args *ServiceDNSArgs) error {
	var zoneID pulumi.StringOutput
	var dependency pulumi.Resource
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
			return fmt.Errorf("hosted zone: %w", err)
		}
		zoneID, dependency = zone.ZoneId, zone
	} else {
		existing, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{ZoneId: pulumi.StringRef(args.HostedZoneID)}, pulumi.Parent(d))
		if err != nil {
			return fmt.Errorf("hosted zone %s: %w (check hostedZoneId)", args.HostedZoneID, err)
		}
		zoneName := strings.TrimSuffix(existing.Name, ".")
		if existing.PrivateZone == nil || !*existing.PrivateZone {
			return fmt.Errorf("hosted zone %s (%s) is public: hostedZoneId must name a private hosted zone", args.HostedZoneID, zoneName)
		}
		if args.Domain != zoneName && !strings.HasSuffix(args.Domain, "."+zoneName) {
			return fmt.Errorf("hosted zone %s is %s: serviceDomain %s must be that name or lie under it", args.HostedZoneID, zoneName, args.Domain)
		}
		// The user's zone stays; only its association with this stack's
		// VPC comes and goes with the stack.
		association, err := route53.NewZoneAssociation(ctx, name+"-zone-association", &route53.ZoneAssociationArgs{
			ZoneId:    pulumi.String(args.HostedZoneID),
			VpcId:     args.VpcId,
			VpcRegion: pulumi.String(args.Region),
		}, pulumi.Parent(d))
		if err != nil {
			return fmt.Errorf("hosted zone association: %w", err)
		}
		zoneID, dependency = association.ZoneId, association
	}
	d.ZoneId = zoneID
	d.ZoneArn = zoneID.ApplyT(func(id string) string { return "arn:aws:route53:::hostedzone/" + id }).(pulumi.StringOutput)
	d.zoneReady = dependency
	return nil
}

func (d *ServiceDNS) externalDNS(ctx *pulumi.Context, name string, args *ServiceDNSArgs) error {
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ExternalDNSNamespace), Labels: RestrictedPodSecurity()},
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("external-dns namespace: %w", err)
	}
	crd, err := kubeinstall.NewConfigGroup(ctx, name+"-dnsendpoint-crd", dnsEndpointCRD, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("dnsendpoint crd: %w", err)
	}
	d.CRD = crd

	role, err := iam.NewRole(ctx, name+"-external-dns", &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(awsiam.PodIdentityTrust()),
		Description:      pulumi.String("ExternalDNS of " + args.OwnerID + " (Pod Identity), records of one private zone"),
		Tags:             args.Tags,
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("external-dns role: %w", err)
	}
	// Record changes on this zone only; Route 53 has no resource-level
	// permission for listing zones, which ExternalDNS does to find it.
	policy, err := iam.NewRolePolicy(ctx, name+"-external-dns", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: awsiam.Document(
			awsiam.Statement{
				Sid:       "RecordsOfTheStackZone",
				Actions:   []string{"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResources"},
				Resources: []pulumi.StringInput{d.ZoneArn},
			},
			awsiam.Statement{
				Sid:       "FindTheZone",
				Actions:   []string{"route53:ListHostedZones"},
				Resources: []pulumi.StringInput{awsiam.Any},
			},
		),
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("external-dns policy: %w", err)
	}
	association, err := awseks.NewPodIdentityAssociation(ctx, name+"-external-dns", &awseks.PodIdentityAssociationArgs{
		ClusterName:    args.ClusterName,
		Namespace:      ns.Metadata.Name().Elem(),
		ServiceAccount: pulumi.String(ExternalDNSSA),
		RoleArn:        role.Arn,
		Tags:           args.Tags,
	}, pulumi.Parent(d), pulumi.DependsOn([]pulumi.Resource{args.PodIdentityAgent}))
	if err != nil {
		return fmt.Errorf("external-dns pod identity: %w", err)
	}

	release, err := kubeinstall.NewRelease(ctx, name+"-external-dns", &kubeinstall.ReleaseArgs{
		Name:      pulumi.String(ExternalDNSChart),
		Chart:     pulumi.String(ExternalDNSChart),
		Version:   pulumi.String(ExternalDNSVersion),
		Repo:      pulumi.String(ExternalDNSRepo),
		Namespace: ns.Metadata.Name(),
		// The program applies the CRD (above) before either controller.
		SkipCrds: pulumi.Bool(true),
		Values: pulumi.Map{
			"serviceAccount": pulumi.Map{"create": pulumi.Bool(true), "name": pulumi.String(ExternalDNSSA)},
			"provider":       pulumi.Map{"name": pulumi.String("aws")},
			// Only the DNSEndpoints the AWS Gateway API Controller writes
			// for HTTPRoute hostnames.
			"sources": pulumi.Array{pulumi.String("crd")},
			// sync deletes a record when its DNSEndpoint goes, which the
			// teardown relies on; only records carrying this owner id.
			"policy":             pulumi.String("sync"),
			"registry":           pulumi.String("txt"),
			"txtOwnerId":         pulumi.String(args.OwnerID),
			"txtPrefix":          pulumi.String(ExternalDNSTxtPrefix),
			"domainFilters":      pulumi.Array{pulumi.String(args.Domain)},
			"triggerLoopOnEvent": pulumi.Bool(true),
			"interval":           pulumi.String("1m"),
			"logFormat":          pulumi.String("json"),
			"extraArgs": pulumi.Array{
				pulumi.String("--crd-source-apiversion=externaldns.k8s.io/v1alpha1"),
				pulumi.String("--crd-source-kind=DNSEndpoint"),
				pulumi.String("--aws-zone-type=private"),
				d.ZoneId.ApplyT(func(id string) string { return "--zone-id-filter=" + id }),
			},
			// Pod Identity supplies credentials, not the region, and the
			// nodes keep the instance metadata service out of the pods' reach.
			"env": pulumi.Array{pulumi.Map{"name": pulumi.String("AWS_DEFAULT_REGION"), "value": pulumi.String(args.Region)}},
			"resources": pulumi.Map{
				"requests": pulumi.StringMap{"cpu": pulumi.String("20m"), "memory": pulumi.String("64Mi")},
				"limits":   pulumi.StringMap{"memory": pulumi.String("128Mi")},
			},
		},
		Timeout:       pulumi.Int(600),
		MaxHistory:    pulumi.Int(5),
		CleanupOnFail: pulumi.Bool(true),
	}, pulumi.Parent(d), pulumi.DependsOn([]pulumi.Resource{crd, association, policy, d.zoneReady}))
	if err != nil {
		return fmt.Errorf("external-dns release: %w", err)
	}
	d.Release = release
	return nil
}

// RestrictedPodSecurity are Pod Security Admission labels that enforce,
// warn and audit the restricted profile.
func RestrictedPodSecurity() pulumi.StringMap {
	return PodSecurity("restricted", "restricted")
}

// PodSecurity labels a namespace to enforce one Pod Security Standard and
// warn and audit another (stricter) one.
func PodSecurity(enforce, warn string) pulumi.StringMap {
	return pulumi.StringMap{
		"pod-security.kubernetes.io/enforce": pulumi.String(enforce),
		"pod-security.kubernetes.io/warn":    pulumi.String(warn),
		"pod-security.kubernetes.io/audit":   pulumi.String(warn),
	}
}
