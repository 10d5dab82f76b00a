package traffic

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/kubeinstall"
	"github.com/eks-canary/platform/lambdas/contract"
)

// The Gateway API standard CRDs (see manifests/NOTICE.md).
//
//go:embed manifests/gateway-api-standard-v1.6.3.yaml
var gatewayAPICRDs string

// Gateway API names and versions.
const (
	GatewayControllerNamespace = contract.NamespaceGatewayController
	GatewayControllerChart     = "oci://public.ecr.aws/aws-application-networking-k8s/aws-gateway-controller-chart"
	GatewayControllerVersion   = "v2.1.3"
	GatewayControllerSA        = "gateway-api-controller"
	GatewayClass               = contract.GatewayClass
	gatewayAPIv1               = "gateway.networking.k8s.io/v1"
)

// GatewayAccess is what the Gateway API Controller needs on AWS before it
// starts.
type GatewayAccess struct {
	// ControllerReady: its Pod Identity association and role policy, the
	// stack's service network and that network's VPC association.
	ControllerReady []pulumi.Resource
	// NetworkReady must outlive the application namespace and the Gateway,
	// whose VPC Lattice services sit in the network: its VPC association.
	NetworkReady []pulumi.Resource
}

func (t *Traffic) installGatewayAPI(ctx *pulumi.Context, name string, args *TrafficArgs) error {
	if args.ClusterName == nil || args.AccountId == nil || args.VpcId == nil {
		return fmt.Errorf("gateway api: ClusterName, AccountId and VpcId are required")
	}
	if args.ServiceNetwork == "" || args.ServiceDomain == "" || args.IngressService == "" {
		return fmt.Errorf("gateway api: ServiceNetwork, ServiceDomain and IngressService are required")
	}
	sysNs, err := corev1.NewNamespace(ctx, name+"-gateway-system", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(GatewayControllerNamespace)},
	}, pulumi.Parent(t))
	if err != nil {
		return fmt.Errorf("controller namespace: %w", err)
	}
	access, err := args.Cloud.GatewayAPI(ctx, t, name, args, sysNs.Metadata.Name().Elem())
	if err != nil {
		return fmt.Errorf("gateway api: %w", err)
	}

	// The chart does not ship the Gateway API CRDs.
	crds, err := kubeinstall.NewConfigGroup(ctx, name+"-gateway-api-crds", gatewayAPICRDs, pulumi.Parent(t))
	if err != nil {
		return fmt.Errorf("gateway api crds: %w", err)
	}

	chart, _ := args.Charts.Source(GatewayControllerChart, "")
	release, err := kubeinstall.NewRelease(ctx, name+"-gateway-controller", &kubeinstall.ReleaseArgs{
		Name:      pulumi.String(GatewayControllerSA),
		Chart:     chart,
		Version:   pulumi.String(GatewayControllerVersion),
		Namespace: sysNs.Metadata.Name(),
		Values: pulumi.Map{
			"serviceAccount": pulumi.Map{"create": pulumi.Bool(true), "name": pulumi.String(GatewayControllerSA)},
			// Explicit values: AL2023 nodes keep the instance metadata
			// service out of the pods' reach.
			"awsRegion":    pulumi.String(args.Region),
			"awsAccountId": args.AccountId,
			"clusterVpcId": args.VpcId,
			"clusterName":  args.ClusterName,
			// The controller maps a Gateway to the service network of the
			// same name, so every stack's Gateway contract.GatewayName would
			// share one network per account and region. In override mode it
			// maps every Gateway (and so every route) of this cluster to
			// defaultServiceNetwork instead. defaultServiceNetwork also makes
			// the controller create that network and associate the VPC when
			// missing; it starts after both exist (DependsOn below), finds
			// them and leaves them to the stack.
			"defaultServiceNetwork":        pulumi.String(args.ServiceNetwork),
			"enableServiceNetworkOverride": pulumi.Bool(true),
			// The program applies the DNSEndpoint CRD before this release
			// (args.DNSEndpointCRD); a second copy from this chart would
			// conflict with it.
			"installExternalDNSCRD": pulumi.Bool(false),
		},
		Timeout:       pulumi.Int(600),
		MaxHistory:    pulumi.Int(5),
		CleanupOnFail: pulumi.Bool(true),
	}, pulumi.Parent(t), pulumi.DependsOn(kubeinstall.Present(append([]pulumi.Resource{crds, args.DNSEndpointCRD}, access.ControllerReady...)...)))
	if err != nil {
		return fmt.Errorf("controller release: %w", err)
	}
	t.Controller = release

	class, err := apiextensions.NewCustomResource(ctx, name+"-gateway-class", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String(gatewayAPIv1),
		Kind:       pulumi.String("GatewayClass"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(GatewayClass)},
		OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
			"controllerName": pulumi.String("application-networking.k8s.aws/gateway-api-controller"),
		}},
	}, pulumi.Parent(t), pulumi.DependsOn([]pulumi.Resource{crds, release}))
	if err != nil {
		return fmt.Errorf("gateway class: %w", err)
	}

	// The namespace holds the engine's HTTPRoutes, whose VPC Lattice services
	// sit in the service network, and their DNSEndpoints: it goes first,
	// while the controller and ExternalDNS run and before the network's VPC
	// association is removed.
	if err := t.appNamespace(ctx, name, args, PodSecurityBaseline, nil, kubeinstall.Present(append([]pulumi.Resource{release, args.ExternalDNS}, access.NetworkReady...)...)); err != nil {
		return err
	}
	_, err = apiextensions.NewCustomResource(ctx, name+"-gateway", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String(gatewayAPIv1),
		Kind:       pulumi.String("Gateway"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(contract.GatewayName), Namespace: t.AppNamespace.Metadata.Name()},
		OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
			"gatewayClassName": pulumi.String(GatewayClass),
			"listeners": pulumi.Array{pulumi.Map{
				"name": pulumi.String(contract.GatewayListener), "protocol": pulumi.String("HTTP"), "port": pulumi.Int(80),
			}},
		}},
	}, pulumi.Parent(t), pulumi.DependsOn(append([]pulumi.Resource{class, release, t.AppNamespace}, access.NetworkReady...)))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	// The HTTPRoute of the ingress microservice carries this name as its
	// first hostname; the controller makes it the Lattice service's custom
	// domain and ExternalDNS points it at the Lattice name.
	t.IngressUpstream = args.IngressService + "." + args.Namespace + "." + args.ServiceDomain
	return nil
}

// ServiceNetworkName is the stack's VPC Lattice service network:
// "<clusterName>-services" in the characters Lattice allows (a-z, 0-9,
// single '-', at most 63), with a hash of the cluster name when it had to
// be shortened.
func ServiceNetworkName(clusterName string) string {
	const suffix, limit = "-services", 63
	var b strings.Builder
	for _, r := range strings.ToLower(clusterName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
			b.WriteByte('-')
		}
	}
	base := strings.TrimSuffix(b.String(), "-")
	if base == "" {
		base = "canary"
	}
	if len(base)+len(suffix) > limit {
		sum := sha256.Sum256([]byte(clusterName))
		base = strings.TrimSuffix(base[:limit-len(suffix)-9], "-") + "-" + hex.EncodeToString(sum[:])[:8]
	}
	return base + suffix
}
