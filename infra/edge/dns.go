// Package edge gives the default traffic layer what a user reaches it by:
// stable private names for the VPC Lattice services (a Route 53 private
// hosted zone kept in step by ExternalDNS) and one public entry (an
// internet-facing NLB in front of a small nginx proxy).
package edge

import (
	_ "embed"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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

	// Cloud creates the zone and ExternalDNS's access to it as children
	// of the component.
	Cloud Cloud
	// Charts installs ExternalDNS from a local folder instead of its
	// repository; empty fetches it.
	Charts kubeinstall.ChartDirs
}

// Cloud creates the AWS side of ServiceDNS inside the component, so this
// package holds only what goes into the cluster: the program's is
// edgeaws.Cloud, and a cluster without AWS gives plain values.
type Cloud interface {
	// Zone creates or adopts the private hosted zone; ready must exist
	// before ExternalDNS writes records.
	Zone(ctx *pulumi.Context, d *ServiceDNS, name string, args *ServiceDNSArgs) (zoneID pulumi.StringOutput, ready pulumi.Resource, err error)
	// ExternalDNS gives ExternalDNS's service account in namespace the
	// right to change the zone's records; the release waits for what it
	// returns.
	ExternalDNS(ctx *pulumi.Context, d *ServiceDNS, name string, args *ServiceDNSArgs, zoneArn pulumi.StringOutput, namespace pulumi.StringInput) ([]pulumi.Resource, error)
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
}

// NewServiceDNS creates or adopts the private zone and installs ExternalDNS
// limited to it.
func NewServiceDNS(ctx *pulumi.Context, name string, args *ServiceDNSArgs, opts ...pulumi.ResourceOption) (*ServiceDNS, error) {
	if args == nil || args.Domain == "" || args.Region == "" || args.OwnerID == "" || args.Cloud == nil {
		return nil, fmt.Errorf("service dns %s: Domain, Region, OwnerID and Cloud are required", name)
	}
	d := &ServiceDNS{}
	if err := ctx.RegisterComponentResource("canary:infra:ServiceDNS", name, d, opts...); err != nil {
		return nil, err
	}
	zoneID, zoneReady, err := args.Cloud.Zone(ctx, d, name, args)
	if err != nil {
		return nil, fmt.Errorf("service dns %s: %w", name, err)
	}
	d.ZoneId = zoneID
	d.ZoneArn = zoneID.ApplyT(func(id string) string { return "arn:aws:route53:::hostedzone/" + id }).(pulumi.StringOutput)
	if err := d.externalDNS(ctx, name, args, zoneReady); err != nil {
		return nil, fmt.Errorf("service dns %s: %w", name, err)
	}
	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{"zoneId": d.ZoneId, "zoneArn": d.ZoneArn}); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *ServiceDNS) externalDNS(ctx *pulumi.Context, name string, args *ServiceDNSArgs, zoneReady pulumi.Resource) error {
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

	access, err := args.Cloud.ExternalDNS(ctx, d, name, args, d.ZoneArn, ns.Metadata.Name().Elem())
	if err != nil {
		return fmt.Errorf("external-dns access: %w", err)
	}

	chart, repo := args.Charts.Source(ExternalDNSChart, ExternalDNSRepo)
	release, err := kubeinstall.NewRelease(ctx, name+"-external-dns", &kubeinstall.ReleaseArgs{
		Name:      pulumi.String(ExternalDNSChart),
		Chart:     chart,
		Version:   pulumi.String(ExternalDNSVersion),
		Repo:      repo,
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
	}, pulumi.Parent(d), pulumi.DependsOn(append(kubeinstall.Present(crd, zoneReady), access...)))
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
