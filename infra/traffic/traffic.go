// Package traffic installs the traffic layer the canary engine shifts weights
// on, chosen by configuration: App Mesh (VirtualRouter weights, Envoy
// sidecars, one stable ingress gateway) or Gateway API on Amazon VPC Lattice
// (HTTPRoute weights). It also owns the application namespace and what every
// microservice template relies on in it.
package traffic

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/lambdas/contract"
)

// DBCredentialsSecret holds the sample database's credentials (keys
// username, password, database); the yelb-db and yelb-appserver templates
// read it.
const DBCredentialsSecret = "yelb-db-credentials"

// TrafficArgs configures the layer.
type TrafficArgs struct {
	Layer          string // one of contract.Routers()
	Namespace      string // the application namespace
	Region         string
	IngressService string // the microservice the public entry point serves (App Mesh)

	ClusterName            pulumi.StringInput
	AccountId              pulumi.StringInput
	VpcId                  pulumi.StringInput
	OidcProviderArn        pulumi.StringInput // App Mesh: IRSA
	OidcIssuer             pulumi.StringInput
	ClusterSecurityGroupId pulumi.StringInput // Gateway API: VPC Lattice ingress rule
	PodIdentityAgent       pulumi.Resource    // Gateway API: Pod Identity

	// DBPassword for the sample database; empty generates one at creation
	// and keeps it.
	DBPassword pulumi.StringInput
	Tags       pulumi.StringMap
}

// Traffic is the installed layer.
type Traffic struct {
	pulumi.ResourceState

	Layer          string
	Namespace      pulumi.StringOutput `pulumi:"namespace"`
	ApplicationUrl pulumi.StringOutput `pulumi:"applicationUrl"`

	// AppNamespace is the application namespace object: resources placed in
	// it depend on it so they are deleted first.
	AppNamespace *corev1.Namespace
	// Controller is the layer's controller release; objects it reconciles
	// depend on it so they are deleted while it still runs.
	Controller *helmv3.Release
}

// NewTraffic installs the configured layer.
func NewTraffic(ctx *pulumi.Context, name string, args *TrafficArgs, opts ...pulumi.ResourceOption) (*Traffic, error) {
	if args == nil || args.Namespace == "" || args.Region == "" {
		return nil, fmt.Errorf("traffic %s: Namespace and Region are required", name)
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
	if err := t.dbCredentials(ctx, name, args); err != nil {
		return nil, fmt.Errorf("traffic %s: %w", name, err)
	}
	t.Namespace = t.AppNamespace.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(t, pulumi.Map{
		"namespace":      t.Namespace,
		"applicationUrl": t.ApplicationUrl,
	}); err != nil {
		return nil, err
	}
	return t, nil
}

// appNamespace creates the application namespace. It depends on the
// controller so that, on destroy, the namespace and every object the engine
// created in it go while the controller can still clear their finalizers.
func (t *Traffic) appNamespace(ctx *pulumi.Context, name string, args *TrafficArgs, labels pulumi.StringMap, dependsOn []pulumi.Resource) error {
	ns, err := corev1.NewNamespace(ctx, name+"-app-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace), Labels: labels},
	}, pulumi.Parent(t), pulumi.DependsOn(dependsOn))
	if err != nil {
		return fmt.Errorf("application namespace: %w", err)
	}
	t.AppNamespace = ns
	return nil
}

func (t *Traffic) dbCredentials(ctx *pulumi.Context, name string, args *TrafficArgs) error {
	password := args.DBPassword
	var opts []pulumi.ResourceOption
	if password == nil {
		generated, err := randomPassword()
		if err != nil {
			return fmt.Errorf("database password: %w", err)
		}
		password = pulumi.String(generated)
		// A new value is drawn on every run; only the first one is used.
		opts = append(opts, pulumi.IgnoreChanges([]string{"stringData"}))
	}
	_, err := corev1.NewSecret(ctx, name+"-db-credentials", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(DBCredentialsSecret),
			Namespace: t.AppNamespace.Metadata.Name(),
		},
		Type: pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			"username": pulumi.String("postgres"),
			"password": pulumi.ToSecret(password).(pulumi.StringOutput),
			"database": pulumi.String("yelbdatabase"),
		},
	}, append(opts, pulumi.Parent(t))...)
	if err != nil {
		return fmt.Errorf("database credentials: %w", err)
	}
	return nil
}

func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
