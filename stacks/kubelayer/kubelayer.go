// Package kubelayer composes what the environment puts into the cluster
// through the Kubernetes provider: the private DNS's ExternalDNS, the
// traffic layer with its controller and namespaces, the public entry and the
// sample's Secret. The AWS side of each component comes from Inputs, so the
// same composition runs on EKS (stacks.Deploy, with the AWS clouds) and on a
// local API server under the real Pulumi engine (this package's test, with
// plain values).
package kubelayer

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/edge"
	"github.com/eks-canary/platform/infra/kubeinstall"
	"github.com/eks-canary/platform/infra/sample"
	"github.com/eks-canary/platform/infra/traffic"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks/config"
)

// Inputs are what the layer takes from the cluster and from AWS.
type Inputs struct {
	ClusterName            pulumi.StringInput
	AccountId              pulumi.StringInput
	VpcId                  pulumi.StringInput
	OidcProviderArn        pulumi.StringInput // App Mesh
	OidcIssuer             pulumi.StringInput // App Mesh
	ClusterSecurityGroupId pulumi.StringInput // Gateway API
	PodIdentityAgent       pulumi.Resource    // Gateway API
	Tags                   pulumi.StringMap

	// TrafficCloud and DNSCloud create the AWS side of the traffic layer and
	// of the private DNS.
	TrafficCloud traffic.Cloud
	DNSCloud     edge.Cloud
	// Charts installs controller charts from local folders; empty fetches
	// them from their repositories.
	Charts kubeinstall.ChartDirs
	// InCluster is the Kubernetes provider every component uses.
	InCluster pulumi.ResourceOption
}

// Layer is the deployed layer.
type Layer struct {
	Traffic *traffic.Traffic
	// ApplicationURL is the public entry's, empty with publicIngress off.
	ApplicationURL pulumi.StringOutput
}

// Deploy creates the layer's components under the names the stack has
// always used.
func Deploy(ctx *pulumi.Context, cfg config.Config, in Inputs) (*Layer, error) {
	gatewayAPI := cfg.TrafficLayer == contract.RouterGatewayAPI
	trafficArgs := &traffic.TrafficArgs{
		Layer:                  cfg.TrafficLayer,
		Namespace:              cfg.Namespace,
		Region:                 cfg.Region,
		IngressService:         cfg.IngressService,
		ClusterName:            in.ClusterName,
		AccountId:              in.AccountId,
		VpcId:                  in.VpcId,
		OidcProviderArn:        in.OidcProviderArn,
		OidcIssuer:             in.OidcIssuer,
		ClusterSecurityGroupId: in.ClusterSecurityGroupId,
		PodIdentityAgent:       in.PodIdentityAgent,
		Tags:                   in.Tags,
		Cloud:                  in.TrafficCloud,
		Charts:                 in.Charts,
	}
	// Stable names exist with VPC Lattice only: App Mesh names services
	// inside the mesh.
	if gatewayAPI {
		dns, err := edge.NewServiceDNS(ctx, "dns", &edge.ServiceDNSArgs{
			Domain:           cfg.ServiceDomain,
			HostedZoneID:     cfg.HostedZoneID,
			Region:           cfg.Region,
			OwnerID:          cfg.ClusterName,
			ClusterName:      in.ClusterName,
			VpcId:            in.VpcId,
			PodIdentityAgent: in.PodIdentityAgent,
			Tags:             in.Tags,
			Cloud:            in.DNSCloud,
			Charts:           in.Charts,
		}, in.InCluster)
		if err != nil {
			return nil, err
		}
		trafficArgs.ServiceDomain = cfg.ServiceDomain
		trafficArgs.ServiceNetwork = traffic.ServiceNetworkName(cfg.ClusterName)
		trafficArgs.DNSEndpointCRD = dns.CRD
		trafficArgs.ExternalDNS = dns.Release
	}
	tr, err := traffic.NewTraffic(ctx, "traffic", trafficArgs, in.InCluster)
	if err != nil {
		return nil, err
	}
	layer := &Layer{Traffic: tr, ApplicationURL: pulumi.String("").ToStringOutput()}

	// One public entry on either layer, unless the platform stays private.
	if cfg.PublicIngress {
		lbTags := map[string]string{"canary:stack": ctx.Project() + "/" + ctx.Stack(), "canary:cluster": cfg.ClusterName}
		pub, err := edge.NewPublicIngress(ctx, "public-ingress", &edge.PublicIngressArgs{
			Upstream:     tr.IngressUpstream,
			UpstreamPort: 80,
			Tags:         lbTags,
		}, in.InCluster)
		if err != nil {
			return nil, err
		}
		layer.ApplicationURL = pub.ApplicationUrl
	}

	if cfg.SampleMode {
		sampleArgs := &sample.SampleArgs{Namespace: tr.AppNamespace, FormerParent: tr, FormerName: "traffic-db-credentials"}
		if cfg.DBPassword != "" {
			sampleArgs.DBPassword = pulumi.ToSecret(pulumi.String(cfg.DBPassword)).(pulumi.StringOutput)
		}
		if _, err := sample.NewSample(ctx, "sample", sampleArgs, in.InCluster); err != nil {
			return nil, err
		}
	}
	return layer, nil
}
