package edge_test

import (
	"encoding/json"

	"slices"
	"strings"
	"testing"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/eks-canary/platform/infra/edge"
	"github.com/eks-canary/platform/infra/policy"
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

// get walks map keys and list indexes through recorded inputs.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// row is one expected property: the resource, the path into its inputs,
// the value, and what the property is for.
type row struct {
	typ, name string
	path      []any
	want      any
	what      string
}

func checkRows(t *testing.T, res *offline.Result, rows []row) {
	t.Helper()
	for _, r := range rows {
		x, ok := res.Find(r.typ, r.name)
		if !ok {
			t.Errorf("%s: no %s %q", r.what, r.typ, r.name)
			continue
		}
		if got := get(x.Inputs, r.path...); !equal(got, r.want) {
			t.Errorf("%s: %s %s %v = %#v, want %#v", r.what, r.typ, r.name, r.path, got, r.want)
		}
	}
}

func equal(got, want any) bool {
	if w, ok := want.([]string); ok {
		l, _ := got.([]any)
		if len(l) != len(w) {
			return false
		}
		for i := range w {
			if l[i] != w[i] {
				return false
			}
		}
		return true
	}
	return got == want
}

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
	checkRows(t, res, []row{
		{tZone, "dns-zone", []any{"name"}, domain, "the zone is the stack's service domain"},
		{tZone, "dns-zone", []any{"vpcs", 0, "vpcId"}, "vpc-0abc", "the zone is private to the cluster VPC"},
		{tZone, "dns-zone", []any{"vpcs", 0, "vpcRegion"}, "us-west-2", "the VPC association names the region"},
		{tZone, "dns-zone", []any{"forceDestroy"}, true, "destroy removes records ExternalDNS left"},
		{tNamespace, "dns-namespace", []any{"metadata", "name"}, "external-dns", "ExternalDNS runs in its platform namespace"},
		{tNamespace, "dns-namespace", []any{"metadata", "labels", "pod-security.kubernetes.io/enforce"}, "restricted", "the ExternalDNS namespace enforces restricted"},
		{tRelease, "dns-external-dns", []any{"chart"}, "external-dns", "the ExternalDNS chart"},
		{tRelease, "dns-external-dns", []any{"version"}, "1.21.1", "the pinned chart version"},
		{tRelease, "dns-external-dns", []any{"repositoryOpts", "repo"}, "https://kubernetes-sigs.github.io/external-dns/", "the chart repository"},
		{tRelease, "dns-external-dns", []any{"namespace"}, "external-dns", "the release namespace"},
		{tRelease, "dns-external-dns", []any{"skipCrds"}, true, "the program, not Helm, owns the DNSEndpoint CRD"},
		{tRelease, "dns-external-dns", []any{"values", "sources"}, []string{"crd"}, "only DNSEndpoints are a source"},
		{tRelease, "dns-external-dns", []any{"values", "provider", "name"}, "aws", "Route 53 is the provider"},
		{tRelease, "dns-external-dns", []any{"values", "policy"}, "sync", "records follow their DNSEndpoints, deletes included"},
		{tRelease, "dns-external-dns", []any{"values", "txtOwnerId"}, "canary-dev", "the TXT owner id is the stack's"},
		{tRelease, "dns-external-dns", []any{"values", "txtPrefix"}, "extdns-%{record_type}.", "TXT records never share a CNAME's name"},
		{tRelease, "dns-external-dns", []any{"values", "domainFilters"}, []string{domain}, "only the stack domain"},
		{tRelease, "dns-external-dns", []any{"values", "serviceAccount", "name"}, "external-dns", "the service account Pod Identity names"},
		{tRelease, "dns-external-dns", []any{"values", "extraArgs"}, []string{
			"--crd-source-apiversion=externaldns.k8s.io/v1alpha1", "--crd-source-kind=DNSEndpoint", "--aws-zone-type=private", "--zone-id-filter=" + zone.ID,
		}, "private zones only, this zone only"},
		{tRelease, "dns-external-dns", []any{"values", "env", 0, "value"}, "us-west-2", "the region reaches the AWS SDK"},
		{tPodIdentity, "dns-external-dns", []any{"namespace"}, "external-dns", "Pod Identity for ExternalDNS's namespace"},
		{tPodIdentity, "dns-external-dns", []any{"serviceAccount"}, "external-dns", "Pod Identity for ExternalDNS's service account"},
		{tPodIdentity, "dns-external-dns", []any{"clusterName"}, "canary-dev", "Pod Identity in the stack's cluster"},
	})
	crd, ok := res.Find(tConfigGroup, "dns-dnsendpoint-crd")
	if !ok || !strings.Contains(get(crd.Inputs, "yaml").(string), "name: dnsendpoints.externaldns.k8s.io") {
		t.Error("the DNSEndpoint CRD is not applied")
	}
	rel, _ := res.Find(tRelease, "dns-external-dns")
	for _, dep := range []policy.Resource{crd, zone, must(t, res, tPodIdentity, "dns-external-dns"), must(t, res, tRolePolicy, "dns-external-dns")} {
		if !slices.Contains(rel.Dependencies, dep.URN) {
			t.Errorf("ExternalDNS does not wait for %s %s", dep.Type, dep.Name)
		}
	}
	if trust := get(must(t, res, tRole, "dns-external-dns").Inputs, "assumeRolePolicy").(string); !strings.Contains(trust, "pods.eks.amazonaws.com") {
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
	if err := json.Unmarshal([]byte(get(must(t, res, tRolePolicy, "dns-external-dns").Inputs, "policy").(string)), &doc); err != nil {
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
	checkRows(t, res, []row{
		{tAssociation, "dns-zone-association", []any{"zoneId"}, "Z0EXAMPLEPRIVATE", "the existing zone is associated"},
		{tAssociation, "dns-zone-association", []any{"vpcId"}, "vpc-0abc", "with the cluster VPC"},
		{tRelease, "dns-external-dns", []any{"values", "domainFilters"}, []string{"canary-dev.corp.internal"}, "the domain filter is the service domain, not the whole zone"},
		{tRelease, "dns-external-dns", []any{"values", "extraArgs", 3}, "--zone-id-filter=Z0EXAMPLEPRIVATE", "ExternalDNS writes to the named zone only"},
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
	res, err := offline.Run("eks-canary", "dev", map[string]string{"aws:region": "us-west-2"}, func(ctx *pulumi.Context) error {
		agent, err := awseks.NewAddon(ctx, "pod-identity-agent", &awseks.AddonArgs{ClusterName: pulumi.String("canary-dev"), AddonName: pulumi.String("eks-pod-identity-agent")})
		if err != nil {
			return err
		}
		dns, err := edge.NewServiceDNS(ctx, "dns", &edge.ServiceDNSArgs{
			Domain: d, HostedZoneID: zoneID, Region: "us-west-2", OwnerID: "canary-dev",
			ClusterName: pulumi.String("canary-dev"), VpcId: pulumi.String("vpc-0abc"), PodIdentityAgent: agent,
		})
		if err != nil {
			return err
		}
		v, err := internals.UnsafeAwaitOutput(ctx.Context(), dns.ZoneArn)
		if err != nil {
			return err
		}
		zoneArn, _ = v.Value.(string)
		return nil
	})
	return res, zoneArn, err
}

func must(t *testing.T, res *offline.Result, typ, name string) policy.Resource {
	t.Helper()
	r, ok := res.Find(typ, name)
	if !ok {
		t.Fatalf("no %s %q", typ, name)
	}
	return r
}

func TestPublicIngressProxyAndLoadBalancer(t *testing.T) {
	const upstream = "yelb-ui.yelb." + domain
	var url string
	res, err := offline.Run("eks-canary", "dev", map[string]string{"aws:region": "us-west-2"}, func(ctx *pulumi.Context) error {
		p, err := edge.NewPublicIngress(ctx, "pub", &edge.PublicIngressArgs{
			Upstream: upstream, UpstreamPort: 80, Tags: map[string]string{"canary:stack": "eks-canary/dev", "canary:cluster": "canary-dev"},
		})
		if err != nil {
			return err
		}
		v, err := internals.UnsafeAwaitOutput(ctx.Context(), p.ApplicationUrl)
		if err != nil {
			return err
		}
		url, _ = v.Value.(string)
		return nil
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
	pod := []any{"spec", "template", "spec"}
	c0 := append(append([]any{}, pod...), "containers", 0)
	at := func(base []any, more ...any) []any { return append(append([]any{}, base...), more...) }
	checkRows(t, res, []row{
		{tNamespace, "pub-namespace", []any{"metadata", "name"}, "canary-ingress", "the proxy's platform namespace"},
		{tNamespace, "pub-namespace", []any{"metadata", "labels", "pod-security.kubernetes.io/enforce"}, "restricted", "the ingress namespace enforces restricted"},
		{tNamespace, "pub-namespace", []any{"metadata", "labels", "pod-security.kubernetes.io/warn"}, "restricted", "and warns on restricted"},
		{tNamespace, "pub-namespace", []any{"metadata", "labels", "pod-security.kubernetes.io/audit"}, "restricted", "and audits restricted"},
		{tConfigMap, "pub-config", []any{"data", "nginx.conf"}, shipped, "the ConfigMap ships the rendered nginx.conf the nginx test runs"},
		{tConfigMap, "pub-config", []any{"metadata", "namespace"}, "canary-ingress", "the configuration sits beside the proxy"},
		{tDeployment, "pub-proxy", []any{"spec", "replicas"}, 2.0, "two proxy replicas"},
		{tDeployment, "pub-proxy", []any{"spec", "strategy", "rollingUpdate", "maxUnavailable"}, 0.0, "a rollout never lowers capacity"},
		{tDeployment, "pub-proxy", at(c0, "image"), "public.ecr.aws/nginx/nginx-unprivileged:1.28.0-alpine", "unprivileged nginx from public ECR, pinned"},
		{tDeployment, "pub-proxy", at(c0, "command"), []string{"nginx", "-p", "/tmp/", "-e", "stderr", "-c", "/etc/nginx/edge/nginx.conf"}, "nginx runs the mounted file"},
		{tDeployment, "pub-proxy", at(c0, "readinessProbe", "httpGet", "path"), "/healthz", "readiness is nginx's own /healthz"},
		{tDeployment, "pub-proxy", at(c0, "livenessProbe", "httpGet", "path"), "/healthz", "liveness is nginx's own /healthz"},
		{tDeployment, "pub-proxy", at(c0, "ports", 0, "containerPort"), 8080.0, "the unprivileged port"},
		{tDeployment, "pub-proxy", at(c0, "securityContext", "allowPrivilegeEscalation"), false, "restricted: no privilege escalation"},
		{tDeployment, "pub-proxy", at(c0, "securityContext", "readOnlyRootFilesystem"), true, "read-only root file system"},
		{tDeployment, "pub-proxy", at(c0, "securityContext", "capabilities", "drop"), []string{"ALL"}, "restricted: all capabilities dropped"},
		{tDeployment, "pub-proxy", at(pod, "securityContext", "runAsNonRoot"), true, "restricted: non-root"},
		{tDeployment, "pub-proxy", at(pod, "securityContext", "seccompProfile", "type"), "RuntimeDefault", "restricted: seccomp RuntimeDefault"},
		{tDeployment, "pub-proxy", at(pod, "automountServiceAccountToken"), false, "the proxy has no API access"},
		{tDeployment, "pub-proxy", at(pod, "volumes", 0, "configMap", "name"), "edge-proxy", "the pods mount the ConfigMap"},
		{tPDB, "pub-pdb", []any{"spec", "minAvailable"}, 1.0, "a drain keeps one proxy"},
		{tPDB, "pub-pdb", []any{"spec", "selector", "matchLabels", "app"}, "edge-proxy", "the budget covers the proxy pods"},
		{tService, "pub-service", []any{"spec", "type"}, "LoadBalancer", "one public load balancer"},
		{tService, "pub-service", []any{"metadata", "annotations", "service.beta.kubernetes.io/aws-load-balancer-type"}, "nlb", "an NLB"},
		{tService, "pub-service", []any{"metadata", "annotations", "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"},
			"canary:cluster=canary-dev,canary:stack=eks-canary/dev", "the load balancer carries the stack's tags"},
		{tService, "pub-service", []any{"spec", "ports", 0, "port"}, 80.0, "HTTP on port 80"},
		{tService, "pub-service", []any{"spec", "ports", 0, "targetPort"}, "http", "to nginx's port"},
		{tService, "pub-service", []any{"spec", "selector", "app"}, "edge-proxy", "in front of the proxy"},
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
	_, err := offline.Run("eks-canary", "dev", map[string]string{"aws:region": "us-west-2"}, func(ctx *pulumi.Context) error {
		_, err := edge.NewPublicIngress(ctx, "pub", &edge.PublicIngressArgs{Upstream: "yelb-ui;evil", UpstreamPort: 80})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "upstream") {
		t.Errorf("error %v, want one naming the upstream", err)
	}
}
