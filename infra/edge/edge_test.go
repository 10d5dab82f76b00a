package edge_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/edge"
	"github.com/eks-canary/platform/infra/edge/edgeaws"
	"github.com/eks-canary/platform/infra/policy"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/stacks/offline"
)

const (
	tZone        = "aws:route53/zone:Zone"
	tAssociation = "aws:route53/zoneAssociation:ZoneAssociation"
	tRolePolicy  = "aws:iam/rolePolicy:RolePolicy"
	tRole        = "aws:iam/role:Role"
	tPodIdentity = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
	tRelease     = "kubernetes:helm.sh/v3:Release"
	tConfigGroup = "kubernetes:yaml/v2:ConfigGroup"
	tNamespace   = "kubernetes:core/v1:Namespace"
	tConfigMap   = "kubernetes:core/v1:ConfigMap"
	tDeployment  = "kubernetes:apps/v1:Deployment"
	tPDB         = "kubernetes:policy/v1:PodDisruptionBudget"
	tService     = "kubernetes:core/v1:Service"

	domain = "canary-dev.internal"
)

func runDNS(t *testing.T, zoneID string) (*offline.Result, string, error) {
	t.Helper()
	return offlineDNS(t, zoneID, domain)
}

func TestServiceDNSCreatesAPrivateZoneAndScopedExternalDNS(t *testing.T) {
	res, zoneArn, err := runDNS(t, "")
	if err != nil {
		t.Fatal(err)
	}
	zone, ok := res.Find(tZone, "dns-zone")
	if !ok {
		t.Fatal("no hosted zone dns-zone")
	}
	if !strings.HasPrefix(zoneArn, "arn:aws:route53:::hostedzone/Z0") || !strings.HasSuffix(zoneArn, zone.ID) {
		t.Errorf("zone ARN %q does not name zone %s", zoneArn, zone.ID)
	}
	pt.Check(t, res, []pt.Row{
		pt.R(tZone, "dns-zone", "name", domain, "the zone is the stack's service domain"),
		pt.R(tZone, "dns-zone", "vpcs[0].vpcId", "vpc-0abc", "the zone is private to the cluster VPC"),
		pt.R(tZone, "dns-zone", "vpcs[0].vpcRegion", "us-west-2", "the VPC association names the region"),
		pt.R(tZone, "dns-zone", "forceDestroy", true, "destroy removes records ExternalDNS left"),
		pt.R(tNamespace, "dns-namespace", "metadata.name", "external-dns", "ExternalDNS runs in its platform namespace"),
		pt.R(tNamespace, "dns-namespace", `metadata.labels["pod-security.kubernetes.io/enforce"]`, "restricted", "the ExternalDNS namespace enforces restricted"),
		pt.R(tRelease, "dns-external-dns", "chart", "external-dns", "the ExternalDNS chart"),
		pt.R(tRelease, "dns-external-dns", "version", "1.21.1", "the pinned chart version"),
		pt.R(tRelease, "dns-external-dns", "repositoryOpts.repo", "https://kubernetes-sigs.github.io/external-dns/", "the chart repository"),
		pt.R(tRelease, "dns-external-dns", "namespace", "external-dns", "the release namespace"),
		pt.R(tRelease, "dns-external-dns", "skipCrds", true, "the program, not Helm, owns the DNSEndpoint CRD"),
		pt.R(tRelease, "dns-external-dns", "values.sources", []string{"crd"}, "only DNSEndpoints are a source"),
		pt.R(tRelease, "dns-external-dns", "values.provider.name", "aws", "Route 53 is the provider"),
		pt.R(tRelease, "dns-external-dns", "values.policy", "sync", "records follow their DNSEndpoints, deletes included"),
		pt.R(tRelease, "dns-external-dns", "values.txtOwnerId", "canary-dev", "the TXT owner id is the stack's"),
		pt.R(tRelease, "dns-external-dns", "values.txtPrefix", "extdns-%{record_type}.", "TXT records never share a CNAME's name"),
		pt.R(tRelease, "dns-external-dns", "values.domainFilters", []string{domain}, "only the stack domain"),
		pt.R(tRelease, "dns-external-dns", "values.serviceAccount.name", "external-dns", "the service account Pod Identity names"),
		pt.R(tRelease, "dns-external-dns", "values.extraArgs", []string{
			"--crd-source-apiversion=externaldns.k8s.io/v1alpha1", "--crd-source-kind=DNSEndpoint", "--aws-zone-type=private", "--zone-id-filter=" + zone.ID,
		}, "private zones only, this zone only"),
		pt.R(tRelease, "dns-external-dns", "values.env[0].value", "us-west-2", "the region reaches the AWS SDK"),
		pt.R(tPodIdentity, "dns-external-dns", "namespace", "external-dns", "Pod Identity for ExternalDNS's namespace"),
		pt.R(tPodIdentity, "dns-external-dns", "serviceAccount", "external-dns", "Pod Identity for ExternalDNS's service account"),
		pt.R(tPodIdentity, "dns-external-dns", "clusterName", "canary-dev", "Pod Identity in the stack's cluster"),
	})
	crd, ok := res.Find(tConfigGroup, "dns-dnsendpoint-crd")
	if !ok || !strings.Contains(pt.Str(crd.Inputs, "yaml"), "name: dnsendpoints.externaldns.k8s.io") {
		t.Error("the DNSEndpoint CRD is not applied")
	}
	rel, _ := res.Find(tRelease, "dns-external-dns")
	for _, dep := range []policy.Resource{crd, zone, pt.Find(t, res, tPodIdentity, "dns-external-dns"), pt.Find(t, res, tRolePolicy, "dns-external-dns")} {
		if !slices.Contains(rel.Dependencies, dep.URN) {
			t.Errorf("ExternalDNS does not wait for %s %s", dep.Type, dep.Name)
		}
	}
	if trust := pt.Str(pt.Find(t, res, tRole, "dns-external-dns").Inputs, "assumeRolePolicy"); !strings.Contains(trust, "pods.eks.amazonaws.com") {
		t.Errorf("ExternalDNS role trust %s is not Pod Identity", trust)
	}

	var doc struct {
		Statement []struct {
			Sid      string
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(pt.Str(pt.Find(t, res, tRolePolicy, "dns-external-dns").Inputs, "policy")), &doc); err != nil {
		t.Fatal(err)
	}
	scoped := map[string]bool{}
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			switch {
			case a == "route53:ListHostedZones":
				if !slices.Equal(s.Resource, []string{"*"}) {
					t.Errorf("%s on %v", a, s.Resource)
				}
			case slices.Equal(s.Resource, []string{zoneArn}):
				scoped[a] = true
			default:
				t.Errorf("action %s on %v: every record action must be limited to the zone %s", a, s.Resource, zoneArn)
			}
		}
	}
	for _, a := range []string{"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"} {
		if !scoped[a] {
			t.Errorf("the policy does not grant %s on the zone", a)
		}
	}
	if v := policy.Check(res.Resources); len(v) != 0 {
		t.Errorf("policy violations: %v", v)
	}
}

func TestServiceDNSAdoptsAnExistingPrivateZone(t *testing.T) {
	_, _, err := runDNS(t, "Z0EXAMPLEPRIVATE")
	if err == nil {
		t.Fatalf("serviceDomain %s outside zone corp.internal was accepted", domain)
	}
	if !strings.Contains(err.Error(), "corp.internal") || !strings.Contains(err.Error(), "serviceDomain") {
		t.Errorf("error %q does not name the zone and serviceDomain", err)
	}

	res, zoneArn, err := offlineDNS(t, "Z0EXAMPLEPRIVATE", "canary-dev.corp.internal")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ByType(tZone)) != 0 {
		t.Error("a zone was created although hostedZoneId names one")
	}
	if zoneArn != "arn:aws:route53:::hostedzone/Z0EXAMPLEPRIVATE" {
		t.Errorf("zone ARN %q", zoneArn)
	}
	pt.Check(t, res, []pt.Row{
		pt.R(tAssociation, "dns-zone-association", "zoneId", "Z0EXAMPLEPRIVATE", "the existing zone is associated"),
		pt.R(tAssociation, "dns-zone-association", "vpcId", "vpc-0abc", "with the cluster VPC"),
		pt.R(tRelease, "dns-external-dns", "values.domainFilters", []string{"canary-dev.corp.internal"}, "the domain filter is the service domain, not the whole zone"),
		pt.R(tRelease, "dns-external-dns", "values.extraArgs[3]", "--zone-id-filter=Z0EXAMPLEPRIVATE", "ExternalDNS writes to the named zone only"),
	})

	if _, _, err := offlineDNS(t, "Z0EXAMPLEPUBLIC", "canary.example.com"); err == nil || !strings.Contains(err.Error(), "public") {
		t.Errorf("a public zone was accepted: %v", err)
	}
	if _, _, err := offlineDNS(t, "Z0NOSUCHZONE", "canary.example.com"); err == nil || !strings.Contains(err.Error(), "hostedZoneId") {
		t.Errorf("an unknown zone gave %v, want an error naming hostedZoneId", err)
	}
}

func offlineDNS(t *testing.T, zoneID, d string) (*offline.Result, string, error) {
	t.Helper()
	var zoneArn string
	res, err := pt.Run(func(ctx *pulumi.Context) error {
		agent, err := awseks.NewAddon(ctx, "pod-identity-agent", &awseks.AddonArgs{ClusterName: pulumi.String("canary-dev"), AddonName: pulumi.String("eks-pod-identity-agent")})
		if err != nil {
			return err
		}
		dns, err := edge.NewServiceDNS(ctx, "dns", &edge.ServiceDNSArgs{
			Domain: d, HostedZoneID: zoneID, Region: "us-west-2", OwnerID: "canary-dev",
			ClusterName: pulumi.String("canary-dev"), VpcId: pulumi.String("vpc-0abc"), PodIdentityAgent: agent,
			Cloud: edgeaws.Cloud{},
		})
		if err != nil {
			return err
		}
		zoneArn, err = pt.AwaitString(ctx, dns.ZoneArn)
		return err
	})
	return res, zoneArn, err
}

func TestPublicIngressProxyAndLoadBalancer(t *testing.T) {
	const upstream = "yelb-ui.yelb." + domain
	var url string
	res, err := pt.Run(func(ctx *pulumi.Context) error {
		p, err := edge.NewPublicIngress(ctx, "pub", &edge.PublicIngressArgs{
			Upstream: upstream, UpstreamPort: 80, Tags: map[string]string{"canary:stack": "eks-canary/dev", "canary:cluster": "canary-dev"},
		})
		if err != nil {
			return err
		}
		url, err = pt.AwaitString(ctx, p.ApplicationUrl)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://") || !strings.HasSuffix(url, ".elb.us-west-2.amazonaws.com") {
		t.Errorf("applicationUrl %q is not the load balancer's address", url)
	}
	shipped, err := edge.ProxyConfig{Listen: "8080", Resolver: edge.ClusterDNS, Upstream: upstream, UpstreamPort: 80}.Render()
	if err != nil {
		t.Fatal(err)
	}
	pod := "spec.template.spec"
	c0 := pod + ".containers[0]"
	pt.Check(t, res, []pt.Row{
		pt.R(tNamespace, "pub-namespace", "metadata.name", "canary-ingress", "the proxy's platform namespace"),
		pt.R(tNamespace, "pub-namespace", `metadata.labels["pod-security.kubernetes.io/enforce"]`, "restricted", "the ingress namespace enforces restricted"),
		pt.R(tNamespace, "pub-namespace", `metadata.labels["pod-security.kubernetes.io/warn"]`, "restricted", "and warns on restricted"),
		pt.R(tNamespace, "pub-namespace", `metadata.labels["pod-security.kubernetes.io/audit"]`, "restricted", "and audits restricted"),
		pt.R(tConfigMap, "pub-config", `data["nginx.conf"]`, shipped, "the ConfigMap ships the rendered nginx.conf the nginx test runs"),
		pt.R(tConfigMap, "pub-config", "metadata.namespace", "canary-ingress", "the configuration sits beside the proxy"),
		pt.R(tDeployment, "pub-proxy", "spec.replicas", 2.0, "two proxy replicas"),
		pt.R(tDeployment, "pub-proxy", "spec.strategy.rollingUpdate.maxUnavailable", 0.0, "a rollout never lowers capacity"),
		pt.R(tDeployment, "pub-proxy", c0+".image", "public.ecr.aws/nginx/nginx-unprivileged:1.28.0-alpine", "unprivileged nginx from public ECR, pinned"),
		pt.R(tDeployment, "pub-proxy", c0+".command", []string{"nginx", "-p", "/tmp/", "-e", "stderr", "-c", "/etc/nginx/edge/nginx.conf"}, "nginx runs the mounted file"),
		pt.R(tDeployment, "pub-proxy", c0+".readinessProbe.httpGet.path", "/healthz", "readiness is nginx's own /healthz"),
		pt.R(tDeployment, "pub-proxy", c0+".livenessProbe.httpGet.path", "/healthz", "liveness is nginx's own /healthz"),
		pt.R(tDeployment, "pub-proxy", c0+".ports[0].containerPort", 8080.0, "the unprivileged port"),
		pt.R(tDeployment, "pub-proxy", c0+".securityContext.allowPrivilegeEscalation", false, "restricted: no privilege escalation"),
		pt.R(tDeployment, "pub-proxy", c0+".securityContext.readOnlyRootFilesystem", true, "read-only root file system"),
		pt.R(tDeployment, "pub-proxy", c0+".securityContext.capabilities.drop", []string{"ALL"}, "restricted: all capabilities dropped"),
		pt.R(tDeployment, "pub-proxy", pod+".securityContext.runAsNonRoot", true, "restricted: non-root"),
		pt.R(tDeployment, "pub-proxy", pod+".securityContext.seccompProfile.type", "RuntimeDefault", "restricted: seccomp RuntimeDefault"),
		pt.R(tDeployment, "pub-proxy", pod+".automountServiceAccountToken", false, "the proxy has no API access"),
		pt.R(tDeployment, "pub-proxy", pod+".volumes[0].configMap.name", "edge-proxy", "the pods mount the ConfigMap"),
		pt.R(tPDB, "pub-pdb", "spec.minAvailable", 1.0, "a drain keeps one proxy"),
		pt.R(tPDB, "pub-pdb", "spec.selector.matchLabels.app", "edge-proxy", "the budget covers the proxy pods"),
		pt.R(tService, "pub-service", "spec.type", "LoadBalancer", "one public load balancer"),
		pt.R(tService, "pub-service", `metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-type"]`, "nlb", "an NLB"),
		pt.R(tService, "pub-service", `metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"]`,
			"canary:cluster=canary-dev,canary:stack=eks-canary/dev", "the load balancer carries the stack's tags"),
		pt.R(tService, "pub-service", "spec.ports[0].port", 80.0, "HTTP on port 80"),
		pt.R(tService, "pub-service", "spec.ports[0].targetPort", "http", "to nginx's port"),
		pt.R(tService, "pub-service", "spec.selector.app", "edge-proxy", "in front of the proxy"),
	})
	if !strings.Contains(shipped, "set $upstream "+upstream+";") || !strings.Contains(shipped, "proxy_set_header Host $upstream;") ||
		!strings.Contains(shipped, "resolver "+edge.ClusterDNS+" ") {
		t.Errorf("shipped configuration does not forward to %s with it as Host through the cluster DNS:\n%s", upstream, shipped)
	}
	if v := policy.Check(res.Resources); len(v) != 0 {
		t.Errorf("policy violations: %v", v)
	}
}

func TestPublicIngressRefusesABadUpstream(t *testing.T) {
	_, err := pt.Run(func(ctx *pulumi.Context) error {
		_, err := edge.NewPublicIngress(ctx, "pub", &edge.PublicIngressArgs{Upstream: "yelb-ui;evil", UpstreamPort: 80})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "upstream") {
		t.Errorf("error %v, want one naming the upstream", err)
	}
}
