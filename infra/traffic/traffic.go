// Package traffic installs the traffic layer the canary engine shifts weights
// on, chosen by configuration: App Mesh (VirtualRouter weights, Envoy
// sidecars, one stable ingress gateway) or Gateway API on Amazon VPC Lattice
// (HTTPRoute weights). It also owns the application namespace and what every
// microservice template relies on in it.
package traffic

import (
	_ "embed"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/edge"
	"github.com/eks-canary/platform/infra/kubeinstall"
	"github.com/eks-canary/platform/lambdas/contract"
)

// Pod Security Standards the application namespace enforces.
const (
	PodSecurityRestricted = "restricted"
	PodSecurityBaseline   = "baseline"
	// PodSecurityPrivileged is App Mesh's: the Envoy init container the
	// controller injects rewrites iptables and needs NET_ADMIN, which the
	// baseline profile forbids.
	PodSecurityPrivileged = "privileged"
)

// TrafficArgs configures the layer.
type TrafficArgs struct {
	Layer          string // one of contract.Routers()
	Namespace      string // the application namespace
	Region         string
	IngressService string // the microservice the public entry serves
	// ServiceDomain is the stack's private domain (Gateway API): the
	// ingress microservice's stable name lies under it.
	ServiceDomain string
	// ServiceNetwork names the stack's VPC Lattice service network (Gateway
	// API); see ServiceNetworkName.
	ServiceNetwork string

	ClusterName            pulumi.StringInput
	AccountId              pulumi.StringInput
	VpcId                  pulumi.StringInput
	OidcProviderArn        pulumi.StringInput // App Mesh: IRSA
	OidcIssuer             pulumi.StringInput
	ClusterSecurityGroupId pulumi.StringInput // Gateway API: VPC Lattice ingress rule
	PodIdentityAgent       pulumi.Resource    // Gateway API: Pod Identity
	// DNSEndpointCRD (Gateway API): the controller writes DNSEndpoint
	// objects for HTTPRoute hostnames only if the CRD exists when it starts.
	DNSEndpointCRD pulumi.Resource
	// ExternalDNS (Gateway API): the application namespace depends on it,
	// so on destroy the records of its routes go while ExternalDNS runs.
	ExternalDNS pulumi.Resource
	Tags        pulumi.StringMap

	// Cloud creates the layer's AWS resources (IAM roles, Pod Identity,
	// the VPC Lattice service network) as children of the component.
	Cloud Cloud
	// Charts installs the controller chart from a local folder instead of
	// its repository; empty fetches it.
	Charts kubeinstall.ChartDirs
}

// Cloud creates the AWS side of a traffic layer inside the component, so
// this package holds only what goes into the cluster: the program's is
// trafficaws.Cloud, and a cluster without AWS (the engine test on the local
// control plane) gives plain values.
type Cloud interface {
	AppMesh(ctx *pulumi.Context, t *Traffic, name string, args *TrafficArgs) (*AppMeshAccess, error)
	// GatewayAPI's controllerNamespace is where the controller's service
	// account lives.
	GatewayAPI(ctx *pulumi.Context, t *Traffic, name string, args *TrafficArgs, controllerNamespace pulumi.StringInput) (*GatewayAccess, error)
}

// Traffic is the installed layer.
type Traffic struct {
	pulumi.ResourceState

	Layer     string
	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// IngressUpstream is where a public entry sends every request, with it
	// as Host: the ingress microservice's stable VPC Lattice name, or the
	// App Mesh ingress gateway's in-cluster Service.
	IngressUpstream string

	// AppNamespace is the application namespace object: resources placed in
	// it depend on it so they are deleted first.
	AppNamespace *corev1.Namespace
	// Controller is the layer's controller release; objects it reconciles
	// depend on it so they are deleted while it still runs.
	Controller *kubeinstall.Release
}

// NewTraffic installs the configured layer.
func NewTraffic(ctx *pulumi.Context, name string, args *TrafficArgs, opts ...pulumi.ResourceOption) (*Traffic, error) {
	if args == nil || args.Namespace == "" || args.Region == "" || args.Cloud == nil {
		return nil, fmt.Errorf("traffic %s: Namespace, Region and Cloud are required", name)
	}
	t := &Traffic{Layer: args.Layer}
	if err := ctx.RegisterComponentResource("canary:infra:Traffic", name, t, opts...); err != nil {
		return nil, err
	}
	var err error
	switch args.Layer {
	case contract.RouterAppMesh:
		err = t.installAppMesh(ctx, name, args)
	case contract.RouterGatewayAPI:
		err = t.installGatewayAPI(ctx, name, args)
	default:
		err = fmt.Errorf("layer %q is not known: use %s or %s", args.Layer, contract.RouterAppMesh, contract.RouterGatewayAPI)
	}
	if err != nil {
		return nil, fmt.Errorf("traffic %s: %w", name, err)
	}
	t.Namespace = t.AppNamespace.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(t, pulumi.Map{
		"namespace":       t.Namespace,
		"ingressUpstream": pulumi.String(t.IngressUpstream),
	}); err != nil {
		return nil, err
	}
	return t, nil
}

// appNamespace creates the application namespace. It depends on the
// controller so that, on destroy, the namespace and every object the engine
// created in it go while the controller can still clear their finalizers.
// Pod Security Admission enforces the level enforce and warns and audits
// restricted.
func (t *Traffic) appNamespace(ctx *pulumi.Context, name string, args *TrafficArgs, enforce string, labels pulumi.StringMap, dependsOn []pulumi.Resource) error {
	if labels == nil {
		labels = pulumi.StringMap{}
	}
	for k, v := range edge.PodSecurity(enforce, PodSecurityRestricted) {
		labels[k] = v
	}
	ns, err := corev1.NewNamespace(ctx, name+"-app-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace), Labels: labels},
	}, pulumi.Parent(t), pulumi.DependsOn(dependsOn))
	if err != nil {
		return fmt.Errorf("application namespace: %w", err)
	}
	t.AppNamespace = ns
	return nil
}
