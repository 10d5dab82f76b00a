package cluster_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/cluster"
	"github.com/eks-canary/platform/infra/policy"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/stacks/offline"
)

func args() *cluster.ClusterArgs {
	return &cluster.ClusterArgs{
		ClusterName: "canary-dev", AvailabilityZones: 3, InstanceType: "t4g.medium", AMIType: "AL2023_ARM_64_STANDARD",
		NodeCount: 3, NodeMinCount: 2, NodeMaxCount: 5, LogRetentionDays: 14,
		Tags: pulumi.StringMap{"canary:stack": pulumi.String("eks-canary/dev")},
	}
}

func run(t *testing.T, a *cluster.ClusterArgs) (*offline.Result, *cluster.Cluster, string) {
	t.Helper()
	var c *cluster.Cluster
	var issuer string
	res := pt.MustRun(t, func(ctx *pulumi.Context) error {
		var err error
		if c, err = cluster.NewCluster(ctx, "cluster", a); err != nil {
			return err
		}
		issuer, err = pt.AwaitString(ctx, c.OidcIssuer)
		return err
	})
	return res, c, issuer
}

func TestClusterNodesAndAccess(t *testing.T) {
	a := args()
	a.KubernetesVersion = "1.33"
	res, _, issuer := run(t, a)
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeEKS, "cluster-eks", "name", "canary-dev", "the EKS cluster's name is clusterName"),
		pt.R(pt.TypeEKS, "cluster-eks", "version", "1.33", "kubernetesVersion reaches EKS"),
		pt.R(pt.TypeEKS, "cluster-eks", "authenticationMode", "API", "access entries, not the aws-auth ConfigMap"),
		pt.R(pt.TypeEKS, "cluster-eks", "skipDefaultNodeGroup", true, "the managed node group replaces pulumi-eks's default one"),
		pt.R(pt.TypeEKS, "cluster-eks", "createOidcProvider", true, "IRSA needs the OIDC provider"),
		pt.R(pt.TypeEKS, "cluster-eks", "nodeAssociatePublicIpAddress", false, "nodes get no public address"),
		pt.R(pt.TypeEKS, "cluster-eks", "endpointPrivateAccess", true, "nodes reach the API inside the VPC"),
		pt.R(pt.TypeEKS, "cluster-eks", "enabledClusterLogTypes", []string{"audit", "authenticator"}, "control plane audit logs"),
		pt.R(pt.TypeEKS, "cluster-eks", "privateSubnetIds", pt.Len(3), "one private subnet per zone"),
		pt.R(pt.TypeEKS, "cluster-eks", "publicSubnetIds", pt.Len(3), "one public subnet per zone"),
		pt.R(pt.TypeEKS, "cluster-eks", "accessEntries", pt.Absent, "the cluster grants no access entries itself; the engine's are namespaced"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "amiType", "AL2023_ARM_64_STANDARD", "the AMI matches the instance type"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "instanceTypes", []string{"t4g.medium"}, "nodeInstanceType"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "diskSize", 40, "room for images"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "scalingConfig.desiredSize", 3, "nodeCount"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "scalingConfig.minSize", 2, "nodeMinCount"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "scalingConfig.maxSize", 5, "nodeMaxCount"),
		pt.R(pt.TypeRole, "cluster-node-role", "assumeRolePolicy", pt.Contains(`"Service":"ec2.amazonaws.com"`), "nodes assume the node role"),
		pt.R(pt.TypeRole, "cluster-node-role", "assumeRolePolicy", pt.InJSON("Statement[0].Condition", pt.Absent), "AWS documents no source keys for instance profiles: a condition would keep nodes from joining"),
		pt.R(pt.TypeAddon, "cluster-pod-identity-agent", "addonName", "eks-pod-identity-agent", "Pod Identity for the controllers"),
		pt.R(pt.TypeAddon, "cluster-pod-identity-agent", "clusterName", "canary-dev", "the agent runs in this cluster"),
		pt.R(pt.TypeK8sProvider, "cluster-k8s", "kubeconfig", pt.Contains("get-token"), "the provider signs in with aws eks get-token"),
		pt.R(pt.TypeK8sProvider, "cluster-k8s", "enableServerSideApply", true, "server-side apply, as the engine"),
		pt.R(pt.TypeK8sProvider, "cluster-k8s", "deleteUnreachable", true, "a destroy finishes when the cluster is already gone"),
		pt.R(pt.TypeLogGroup, "cluster-control-plane-logs", "name", "/aws/eks/canary-dev/cluster", "the group EKS writes control plane logs to"),
		pt.R(pt.TypeLogGroup, "cluster-control-plane-logs", "retentionInDays", 14, "logRetentionDays"),
		pt.R("aws:ec2/vpc:Vpc", "cluster-vpc", "cidrBlock", "10.0.0.0/16", "the VPC's range"),
		pt.R("aws:ec2/natGateway:NatGateway", "cluster-nat", "connectivityType", pt.Absent, "one public NAT gateway"),
	})
	for _, p := range cluster.NodePolicies {
		short := p[strings.LastIndex(p, "/")+1:]
		pt.Check(t, res, []pt.Row{pt.R(pt.TypeAttachment, "cluster-node-"+short, "policyArn", p, "the node role's managed policies")})
	}
	if !strings.HasPrefix(issuer, "oidc.eks.us-west-2.amazonaws.com/id/") {
		t.Errorf("OidcIssuer = %q, want the issuer without https://", issuer)
	}

	eks := pt.Find(t, res, pt.TypeEKS, "cluster-eks")
	ng := pt.Find(t, res, pt.TypeNodeGroup, "cluster-nodes")
	agent := pt.Find(t, res, pt.TypeAddon, "cluster-pod-identity-agent")
	prov := pt.Find(t, res, pt.TypeK8sProvider, "cluster-k8s")
	logs := pt.Find(t, res, pt.TypeLogGroup, "cluster-control-plane-logs")
	for _, d := range []struct {
		from, to policy.Resource
		why      string
	}{
		{agent, ng, "the agent runs on the nodes"},
		{prov, ng, "every Kubernetes object is deleted before the nodes (load balancers first)"},
		{prov, agent, "Pod Identity works before any controller starts"},
		{eks, logs, "the log group exists, with its retention, before EKS writes to it"},
	} {
		if !pt.DependsOn(res, d.from.URN, d.to.URN) {
			t.Errorf("%s %q does not depend on %s %q: %s", d.from.Type, d.from.Name, d.to.Type, d.to.Name, d.why)
		}
	}
	if pt.MustGet(ng.Inputs, "cluster") != eks.URN {
		t.Errorf("%s %q: cluster = %v, want the eks component %s", ng.Type, ng.Name, ng.Inputs["cluster"], eks.URN)
	}

	// Nodes sit in the private subnets; public subnets carry the ELB tag.
	private := map[string]bool{}
	cidrs := map[string]bool{}
	for _, s := range res.ByType(pt.TypeSubnet) {
		cidr := pt.Str(s.Inputs, "cidrBlock")
		if cidrs[cidr] {
			t.Errorf("subnet %q: cidrBlock %s used twice", s.Name, cidr)
		}
		cidrs[cidr] = true
		if strings.Contains(s.Name, "public") {
			pt.Check(t, res, []pt.Row{
				pt.R(pt.TypeSubnet, s.Name, `tags["kubernetes.io/role/elb"]`, "1", "public load balancers go in public subnets"),
				pt.R(pt.TypeSubnet, s.Name, "mapPublicIpOnLaunch", true, "a public subnet"),
			})
			continue
		}
		pt.Check(t, res, []pt.Row{
			pt.R(pt.TypeSubnet, s.Name, `tags["kubernetes.io/role/internal-elb"]`, "1", "internal load balancers go in private subnets"),
			pt.R(pt.TypeSubnet, s.Name, "mapPublicIpOnLaunch", pt.Absent, "a private subnet"),
		})
		private[s.ID] = true
	}
	if len(cidrs) != 6 || len(private) != 3 {
		t.Fatalf("want 3 public and 3 private subnets, got %v", cidrs)
	}
	for _, id := range pt.Strs(ng.Inputs, "subnetIds") {
		if !private[id] {
			t.Errorf("%s %q: subnetIds has %s, which is not a private subnet", ng.Type, ng.Name, id)
		}
	}
	if v := policy.Check(res.Owned()); len(v) != 0 {
		t.Errorf("policy violations: %v", v)
	}
}

func TestClusterTwoZonesAndX86(t *testing.T) {
	a := args()
	a.AvailabilityZones, a.InstanceType, a.AMIType = 2, "m6i.large", "AL2023_x86_64_STANDARD"
	res, _, _ := run(t, a)
	if n := len(res.ByType(pt.TypeSubnet)); n != 4 {
		t.Errorf("%d subnets over two zones, want 4", n)
	}
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "amiType", "AL2023_x86_64_STANDARD", "x86_64 nodes get the x86_64 AMI"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "instanceTypes", []string{"m6i.large"}, "nodeInstanceType"),
		pt.R(pt.TypeEKS, "cluster-eks", "version", pt.Absent, "no kubernetesVersion: the EKS default"),
	})
}

func TestClusterRefusesBadArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*cluster.ClusterArgs)
		want string
	}{
		{"one zone", func(a *cluster.ClusterArgs) { a.AvailabilityZones = 1 }, "AvailabilityZones 1 must be 2 or 3"},
		{"no AMI type", func(a *cluster.ClusterArgs) { a.AMIType = "" }, "AMIType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := args()
			tc.edit(a)
			res, err := pt.Run(func(ctx *pulumi.Context) error {
				_, err := cluster.NewCluster(ctx, "cluster", a)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if n := len(res.Owned()); n != 0 {
				t.Errorf("%d resources registered despite the error", n)
			}
		})
	}
}
