package traffic_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/infra/traffic"
	"github.com/eks-canary/platform/infra/traffic/trafficaws"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks/offline"
)

const (
	tServiceNetwork = "aws:vpclattice/serviceNetwork:ServiceNetwork"
	tVpcAssociation = "aws:vpclattice/serviceNetworkVpcAssociation:ServiceNetworkVpcAssociation"
	oidcArn         = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"
	oidcIssuer      = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"
)

// run builds the layer with stand-ins for what the cluster and the DNS
// component hand it.
func run(t *testing.T, layer string) (*offline.Result, *traffic.Traffic) {
	t.Helper()
	var tr *traffic.Traffic
	res := pt.MustRun(t, func(ctx *pulumi.Context) error {
		agent, err := awseks.NewAddon(ctx, "pod-identity-agent", &awseks.AddonArgs{ClusterName: pulumi.String("canary-dev"), AddonName: pulumi.String("eks-pod-identity-agent")})
		if err != nil {
			return err
		}
		args := &traffic.TrafficArgs{
			Layer: layer, Namespace: "yelb", Region: "us-west-2", IngressService: "yelb-ui",
			ClusterName: pulumi.String("canary-dev"), AccountId: pulumi.String(offline.Account), VpcId: pulumi.String("vpc-0abc"),
			OidcProviderArn: pulumi.String(oidcArn), OidcIssuer: pulumi.String(oidcIssuer),
			ClusterSecurityGroupId: pulumi.String("sg-0abc"), PodIdentityAgent: agent,
			Cloud: trafficaws.Cloud{},
		}
		if layer == contract.RouterGatewayAPI {
			args.ServiceDomain, args.ServiceNetwork = "canary-dev.internal", traffic.ServiceNetworkName("canary-dev")
			for _, n := range []string{"dnsendpoint-crd", "external-dns"} {
				standIn, err := corev1.NewNamespace(ctx, n, &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(n)}})
				if err != nil {
					return err
				}
				if n == "external-dns" {
					args.ExternalDNS = standIn
				} else {
					args.DNSEndpointCRD = standIn
				}
			}
		}
		tr, err = traffic.NewTraffic(ctx, "traffic", args)
		return err
	})
	if v := policy.Check(res.Owned()); len(v) != 0 {
		t.Errorf("policy violations: %v", v)
	}
	return res, tr
}

// mustDependOn fails for every pair where from does not depend on to.
func mustDependOn(t *testing.T, res *offline.Result, pairs [][4]string, why string) {
	t.Helper()
	for _, p := range pairs {
		from, to := pt.Find(t, res, p[0], p[1]), pt.Find(t, res, p[2], p[3])
		if !pt.DependsOn(res, from.URN, to.URN) {
			t.Errorf("%s %q does not depend on %s %q: %s", from.Type, from.Name, to.Type, to.Name, why)
		}
	}
}

func TestAppMeshLayer(t *testing.T) {
	res, tr := run(t, contract.RouterAppMesh)
	rel := "traffic-appmesh-controller"
	roleArn := "arn:aws:iam::" + offline.Account + ":role/" + pt.Find(t, res, pt.TypeRole, rel).ID
	controllerPolicy, err := os.ReadFile("trafficaws/policies/appmesh-controller-iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	labels := `metadata.labels`
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeRelease, rel, "chart", traffic.AppMeshChart, "the App Mesh controller chart"),
		pt.R(pt.TypeRelease, rel, "version", traffic.AppMeshChartVersion, "pinned"),
		pt.R(pt.TypeRelease, rel, "repositoryOpts.repo", traffic.AppMeshChartRepo, "from the EKS charts"),
		pt.R(pt.TypeRelease, rel, "namespace", "appmesh-system", "the controller's platform namespace"),
		pt.R(pt.TypeRelease, rel, "values.region", "us-west-2", "the controller's region"),
		pt.R(pt.TypeRelease, rel, `values.serviceAccount.annotations["eks.amazonaws.com/role-arn"]`, roleArn, "IRSA: the controller's role"),
		pt.R(pt.TypeRole, rel, "assumeRolePolicy", pt.Contains("sts:AssumeRoleWithWebIdentity"), "IRSA trust"),
		pt.R(pt.TypeRole, rel, "assumeRolePolicy", pt.Contains(`:sub":"system:serviceaccount:appmesh-system:appmesh-controller"`), "only the controller's service account"),
		pt.R(pt.TypeRole, rel, "assumeRolePolicy", pt.Contains(`:aud":"sts.amazonaws.com"`), "for STS"),
		pt.R(pt.TypeRole, rel, "assumeRolePolicy", pt.Contains(oidcArn), "through the cluster's OIDC provider"),
		pt.R(pt.TypeRolePolicy, rel, "policy", string(controllerPolicy), "the upstream least-privilege document"),
		pt.R(pt.TypeNamespace, "traffic-app-namespace", labels+".mesh", "yelb", "the namespace joins the mesh"),
		pt.R(pt.TypeNamespace, "traffic-app-namespace", labels+`["appmesh.k8s.aws/sidecarInjectorWebhook"]`, "enabled", "Envoy is injected"),
		pt.R(pt.TypeNamespace, "traffic-app-namespace", labels+`["pod-security.kubernetes.io/enforce"]`, traffic.PodSecurityPrivileged, "the only level meshed pods pass"),
		pt.R(pt.TypeNamespace, "traffic-app-namespace", labels+`["pod-security.kubernetes.io/warn"]`, traffic.PodSecurityRestricted, "warns on restricted"),
		pt.R(pt.TypeNamespace, "traffic-app-namespace", labels+`["pod-security.kubernetes.io/audit"]`, traffic.PodSecurityRestricted, "audits restricted"),
		pt.R(pt.TypeMesh, "traffic-mesh", "kind", "Mesh", "a Mesh"),
		pt.R(pt.TypeMesh, "traffic-mesh", "metadata.name", "yelb", "named after the namespace"),
		pt.R(pt.TypeMesh, "traffic-mesh", "spec.namespaceSelector.matchLabels.mesh", "yelb", "selecting the application namespace"),
		pt.R(pt.TypeGatewayRoute, "traffic-gateway-route", "spec.httpRoute.action.target.virtualService.virtualServiceRef.name", "yelb-ui", "the ingress routes to ingressService"),
		pt.R(pt.TypeServiceAcct, "traffic-envoy-sa", "metadata.name", contract.AppMeshEnvoyServiceAccount, "the account meshed pods run as"),
		pt.R(pt.TypeServiceAcct, "traffic-envoy-sa", "metadata.namespace", "yelb", "in the application namespace"),
		pt.R(pt.TypeDeployment, "traffic-ingress-deployment", "spec.replicas", 2, "two gateway Envoys"),
		pt.R(pt.TypeDeployment, "traffic-ingress-deployment", "spec.template.spec.containers[0].image", traffic.EnvoyImage, "the Envoy the controller injects"),
		pt.R(pt.TypeService, "traffic-ingress-service", "spec.type", "ClusterIP", "no load balancer of its own: the public entry is the stack's one"),
		pt.R(pt.TypeService, "traffic-ingress-service", "spec.ports[0].port", 80, "HTTP"),
	})
	mustDependOn(t, res, [][4]string{
		{pt.TypeMesh, "traffic-mesh", pt.TypeRelease, rel},
		{pt.TypeVirtualGW, "traffic-virtual-gateway", pt.TypeRelease, rel},
		{pt.TypeGatewayRoute, "traffic-gateway-route", pt.TypeRelease, rel},
		{pt.TypeNamespace, "traffic-app-namespace", pt.TypeRelease, rel},
		{pt.TypeNamespace, "traffic-app-namespace", pt.TypeMesh, "traffic-mesh"},
	}, "on destroy it must go while the controller clears finalizers (and App Mesh refuses to delete a mesh with virtual nodes)")
	if tr.IngressUpstream != "ingress-gw.yelb.svc.cluster.local" {
		t.Errorf("IngressUpstream = %q, want the gateway's in-cluster Service", tr.IngressUpstream)
	}
	if len(res.ByType(pt.TypeConfigGroup)) != 0 || len(res.ByType(pt.TypeSGRule)) != 0 || len(res.ByType(tServiceNetwork)) != 0 {
		t.Error("the App Mesh layer carries Gateway API resources")
	}
}

func TestGatewayAPILayer(t *testing.T) {
	res, tr := run(t, contract.RouterGatewayAPI)
	rel := "traffic-gateway-controller"
	labels := `metadata.labels`
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeRelease, rel, "chart", traffic.GatewayControllerChart, "the AWS Gateway API Controller chart"),
		pt.R(pt.TypeRelease, rel, "version", traffic.GatewayControllerVersion, "pinned"),
		pt.R(pt.TypeRelease, rel, "namespace", "aws-application-networking-system", "its platform namespace"),
		pt.R(pt.TypeRelease, rel, "values.awsAccountId", offline.Account, "explicit: pods cannot reach the instance metadata"),
		pt.R(pt.TypeRelease, rel, "values.awsRegion", "us-west-2", "explicit region"),
		pt.R(pt.TypeRelease, rel, "values.clusterName", "canary-dev", "explicit cluster"),
		pt.R(pt.TypeRelease, rel, "values.clusterVpcId", "vpc-0abc", "explicit VPC"),
		pt.R(pt.TypeRelease, rel, "values.defaultServiceNetwork", "canary-dev-services", "every Gateway maps to the stack's own network"),
		pt.R(pt.TypeRelease, rel, "values.enableServiceNetworkOverride", true, "override mode: not the network named after the Gateway"),
		pt.R(pt.TypeRelease, rel, "values.installExternalDNSCRD", false, "the program applies the DNSEndpoint CRD itself"),
		pt.R(pt.TypeRole, rel, "assumeRolePolicy", pt.Contains("pods.eks.amazonaws.com"), "a Pod Identity role"),
		pt.R(pt.TypeRole, rel, "assumeRolePolicy", pt.Contains("sts:TagSession"), "Pod Identity tags the session"),
		pt.R(pt.TypePodIdentity, rel, "serviceAccount", traffic.GatewayControllerSA, "for the controller's service account"),
		pt.R(pt.TypePodIdentity, rel, "namespace", "aws-application-networking-system", "in its namespace"),
		pt.R(pt.TypeConfigGroup, "traffic-gateway-api-crds", "yaml", pt.Contains("name: httproutes.gateway.networking.k8s.io"), "the HTTPRoute CRD"),
		pt.R(pt.TypeConfigGroup, "traffic-gateway-api-crds", "yaml", pt.Contains("name: gateways.gateway.networking.k8s.io"), "the Gateway CRD"),
		pt.R(pt.TypeConfigGroup, "traffic-gateway-api-crds", "yaml", pt.Contains("name: gatewayclasses.gateway.networking.k8s.io"), "the GatewayClass CRD"),
		pt.R(tServiceNetwork, "traffic-service-network", "name", "canary-dev-services", "one service network per stack"),
		pt.R(tVpcAssociation, "traffic-vpc-association", "vpcIdentifier", "vpc-0abc", "associated with the cluster VPC"),
		pt.R(pt.TypeSGRule, "traffic-lattice-ingress", "type", "ingress", "VPC Lattice reaches the pods"),
		pt.R(pt.TypeSGRule, "traffic-lattice-ingress", "prefixListIds", []string{"pl-0721453c7ac4ec009"}, "from VPC Lattice's managed prefix list only"),
		pt.R(pt.TypeSGRule, "traffic-lattice-ingress", "securityGroupId", "sg-0abc", "on the cluster security group"),
		pt.R(pt.TypeGatewayClass, "traffic-gateway-class", "metadata.name", traffic.GatewayClass, "the VPC Lattice class"),
		pt.R(pt.TypeGateway, "traffic-gateway", "kind", "Gateway", "a Gateway"),
		pt.R(pt.TypeGateway, "traffic-gateway", "metadata.name", contract.GatewayName, "the name templates attach routes to"),
		pt.R(pt.TypeGateway, "traffic-gateway", "metadata.namespace", "yelb", "in the application namespace"),
		pt.R(pt.TypeGateway, "traffic-gateway", "spec.gatewayClassName", traffic.GatewayClass, "served by VPC Lattice"),
		pt.R(pt.TypeGateway, "traffic-gateway", "spec.listeners[0].name", contract.GatewayListener, "the section templates name"),
		pt.R(pt.TypeGateway, "traffic-gateway", "spec.listeners[0].port", 80, "HTTP"),
		pt.R(pt.TypeNamespace, "traffic-app-namespace", labels+`["pod-security.kubernetes.io/enforce"]`, traffic.PodSecurityBaseline, "baseline: the sample's pods pass it"),
		pt.R(pt.TypeNamespace, "traffic-app-namespace", labels+`["pod-security.kubernetes.io/warn"]`, traffic.PodSecurityRestricted, "warns on restricted"),
		pt.R(pt.TypeNamespace, "traffic-app-namespace", labels+`["pod-security.kubernetes.io/audit"]`, traffic.PodSecurityRestricted, "audits restricted"),
	})
	mustDependOn(t, res, [][4]string{
		{pt.TypeRelease, rel, pt.TypeConfigGroup, "traffic-gateway-api-crds"},
		{pt.TypeRelease, rel, tServiceNetwork, "traffic-service-network"},
		{pt.TypeRelease, rel, tVpcAssociation, "traffic-vpc-association"},
		{pt.TypeRelease, rel, pt.TypeNamespace, "dnsendpoint-crd"},
		{pt.TypePodIdentity, rel, pt.TypeAddon, "pod-identity-agent"},
	}, "the controller must find what it uses when it starts")
	mustDependOn(t, res, [][4]string{
		{pt.TypeGateway, "traffic-gateway", pt.TypeRelease, rel},
		{pt.TypeNamespace, "traffic-app-namespace", pt.TypeRelease, rel},
		{pt.TypeNamespace, "traffic-app-namespace", tVpcAssociation, "traffic-vpc-association"},
		{pt.TypeNamespace, "traffic-app-namespace", pt.TypeNamespace, "external-dns"},
	}, "on destroy the engine's routes and their records go while the controller and ExternalDNS run")
	if !slices.Contains(res.Invokes, "aws:ec2/getManagedPrefixList:getManagedPrefixList") {
		t.Error("the VPC Lattice prefix list was not looked up")
	}
	if tr.IngressUpstream != "yelb-ui.yelb.canary-dev.internal" {
		t.Errorf("IngressUpstream = %q, want the ingress microservice's stable name", tr.IngressUpstream)
	}
	if len(res.ByType(pt.TypeMesh)) != 0 {
		t.Error("the Gateway API layer creates a mesh")
	}
}

func TestTrafficRefusesAnUnknownLayer(t *testing.T) {
	_, err := pt.Run(func(ctx *pulumi.Context) error {
		_, err := traffic.NewTraffic(ctx, "traffic", &traffic.TrafficArgs{Layer: "istio", Namespace: "yelb", Region: "us-west-2", Cloud: trafficaws.Cloud{}})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), `"istio"`) || !strings.Contains(err.Error(), contract.RouterGatewayAPI) {
		t.Errorf("error %v, want one naming the layer and the known ones", err)
	}
}

func TestServiceNetworkPerStack(t *testing.T) {
	long := strings.Repeat("team-", 20)
	for _, tc := range []struct{ cluster, want string }{
		{"canary-dev", "canary-dev-services"},
		{"Canary_Prod", "canary-prod-services"},
		{"a--b__c", "a-b-c-services"},
	} {
		if got := traffic.ServiceNetworkName(tc.cluster); got != tc.want {
			t.Errorf("ServiceNetworkName(%q) = %q, want %q", tc.cluster, got, tc.want)
		}
	}
	a, b := traffic.ServiceNetworkName(long+"a"), traffic.ServiceNetworkName(long+"b")
	if a == b || len(a) > 63 || len(b) > 63 || !strings.HasSuffix(a, "-services") || strings.Contains(a, "--") {
		t.Errorf("long cluster names give %q and %q: want distinct names of at most 63 characters", a, b)
	}
}
