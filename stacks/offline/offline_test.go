package offline

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/mocks.golden.json from the mocks")

// mockCase is one resource the program could register, with inputs shaped
// as the program gives them.
type mockCase struct {
	typ, name string
	inputs    map[string]any
	component bool // a remote component, as pulumi-eks registers them
}

// mockCases cover every type the mocks answer specially, with and without
// the inputs that name the physical resource, and types they pass through.
var mockCases = []mockCase{
	{typ: "eks:index:Cluster", name: "cluster", inputs: map[string]any{"name": "canary-dev", "vpcId": "vpc-0123"}, component: true},
	{typ: "eks:index:Cluster", name: "unnamed-cluster", component: true},
	{typ: "eks:index:ManagedNodeGroup", name: "nodes", inputs: map[string]any{"clusterName": "canary-dev"}, component: true},
	{typ: "aws:eks/cluster:Cluster", name: "plain-cluster"},
	{typ: "aws:iam/openIdConnectProvider:OpenIdConnectProvider", name: "oidc", inputs: map[string]any{"url": "https://oidc.example.com/id/ABC"}},
	{typ: "aws:iam/role:Role", name: "named-role", inputs: map[string]any{"name": "deployer"}},
	{typ: "aws:iam/role:Role", name: "role"},
	{typ: "aws:lambda/function:Function", name: "engine", inputs: map[string]any{"name": "canary-engine"}},
	{typ: "aws:sfn/stateMachine:StateMachine", name: "rollout"},
	{typ: "aws:sns/topic:Topic", name: "notifications", inputs: map[string]any{"name": "canary-notifications"}},
	{typ: "aws:cloudwatch/logGroup:LogGroup", name: "logs", inputs: map[string]any{"name": "/aws/lambda/canary-engine"}},
	{typ: "aws:cloudwatch/eventRule:EventRule", name: "rule"},
	{typ: "aws:ecr/repository:Repository", name: "images", inputs: map[string]any{"name": "yelb-ui"}},
	{typ: "aws:codebuild/project:Project", name: "build"},
	{typ: "aws:codepipeline/pipeline:Pipeline", name: "pipeline", inputs: map[string]any{"name": "canary-dev-yelb-ui"}},
	{typ: "aws:codecommit/repository:Repository", name: "source", inputs: map[string]any{"repositoryName": "yelb-ui"}},
	{typ: "aws:codecommit/repository:Repository", name: "unnamed-source"},
	{typ: "aws:cloudformation/stack:Stack", name: "seed", inputs: map[string]any{"name": "seed-yelb-ui", "templateBody": `{
		"Resources": {"Repo": {"Type": "AWS::CodeCommit::Repository", "Properties": {"RepositoryName": "yelb-ui"}},
			"Other": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b"}}},
		"Outputs": {"Name": {}, "Arn": {}, "CloneUrlHttp": {}, "Unknown": {}}}`}},
	{typ: "aws:s3/bucketV2:BucketV2", name: "Artifacts"},
	{typ: "aws:s3/bucketV2:BucketV2", name: "named-bucket", inputs: map[string]any{"bucket": "Canary-Artifacts"}},
	{typ: "aws:cloudwatch/dashboard:Dashboard", name: "dashboard", inputs: map[string]any{"dashboardName": "canary-dev"}},
	{typ: "aws:ec2/vpc:Vpc", name: "vpc"},
	{typ: "aws:ec2/subnet:Subnet", name: "subnet"},
	{typ: "aws:vpclattice/serviceNetwork:ServiceNetwork", name: "lattice"},
	{typ: "aws:route53/zone:Zone", name: "zone", inputs: map[string]any{"name": "svc.internal"}},
	{typ: "aws:route53/zoneAssociation:ZoneAssociation", name: "association", inputs: map[string]any{"zoneId": "Z0EXAMPLEPRIVATE", "vpcId": "vpc-0123"}},
	{typ: "aws:eks/addon:Addon", name: "cni", inputs: map[string]any{"addonName": "vpc-cni"}},
	{typ: "aws:amp/workspace:Workspace", name: "prometheus-workspace", inputs: map[string]any{"alias": "canary-dev"}},
	{typ: "aws:amp/scraper:Scraper", name: "prometheus-collector", inputs: map[string]any{"alias": "canary-dev"}},
	{typ: "aws:iam/rolePolicy:RolePolicy", name: "policy", inputs: map[string]any{"policy": "{}"}},
	{typ: "kubernetes:core/v1:Service", name: "lb", inputs: map[string]any{"metadata": map[string]any{"name": "ui"}, "spec": map[string]any{"type": "LoadBalancer"}}},
	{typ: "kubernetes:core/v1:Service", name: "cluster-ip", inputs: map[string]any{"spec": map[string]any{"type": "ClusterIP"}}},
	{typ: "kubernetes:core/v1:Namespace", name: "ns"},
	{typ: "kubernetes:apps/v1:Deployment", name: "deploy", inputs: map[string]any{"metadata": map[string]any{"namespace": "yelb", "name": ""}}},
	{typ: "kubernetes:helm.sh/v3:Release", name: "chart", inputs: map[string]any{"chart": "aws-load-balancer-controller"}},
	{typ: "kubernetes:yaml/v2:ConfigGroup", name: "crds", inputs: map[string]any{"files": []any{"crds.yaml"}}},
}

// mockInvokes are the invokes the program makes, and some the mocks refuse.
var mockInvokes = []struct {
	token string
	args  map[string]any
}{
	{"aws:index/getCallerIdentity:getCallerIdentity", nil},
	{"aws:index/getPartition:getPartition", nil},
	{"aws:index/getRegion:getRegion", nil},
	{"aws:index/getAvailabilityZones:getAvailabilityZones", map[string]any{"state": "available"}},
	{"aws:route53/getZone:getZone", map[string]any{"zoneId": "Z0EXAMPLEPRIVATE"}},
	{"aws:route53/getZone:getZone", map[string]any{"zoneId": "Z0EXAMPLEPUBLIC"}},
	{"aws:route53/getZone:getZone", map[string]any{"zoneId": "Z0MISSING"}},
	{"aws:ec2/getManagedPrefixList:getManagedPrefixList", map[string]any{"name": "com.amazonaws.us-west-2.vpc-lattice"}},
	{"aws:index/getAmi:getAmi", nil},
}

type mockState struct{ pulumi.CustomResourceState }

type componentState struct{ pulumi.ResourceState }

type providerState struct{ pulumi.ProviderResourceState }

// golden is what the mocks answered, in a stable order.
type golden struct {
	Resources []goldenResource `json:"resources"`
	Invokes   []goldenInvoke   `json:"invokes"`
}

type goldenResource struct {
	URN       string         `json:"urn"`
	ID        string         `json:"id"`
	Simulated bool           `json:"simulated,omitempty"`
	Outputs   map[string]any `json:"outputs"`
}

type goldenInvoke struct {
	Token   string         `json:"token"`
	Args    map[string]any `json:"args,omitempty"`
	Outputs map[string]any `json:"outputs,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// TestMockOutputs holds every answer of the mocks to testdata: what the
// program and its tests read must not change by accident.
func TestMockOutputs(t *testing.T) {
	res, err := Run("eks-canary", "dev", map[string]string{"aws:region": "us-west-2"}, func(ctx *pulumi.Context) error {
		var parent componentState
		if err := ctx.RegisterComponentResource("canary:infra:Sample", "sample", &parent); err != nil {
			return err
		}
		var provider providerState
		if err := ctx.RegisterResource("pulumi:providers:kubernetes", "k8s", pulumi.Map{}, &provider, pulumi.Parent(&parent)); err != nil {
			return err
		}
		for _, c := range mockCases {
			props := pulumi.ToMap(c.inputs)
			if c.component {
				var r componentState
				if err := ctx.RegisterRemoteComponentResource(c.typ, c.name, props, &r); err != nil {
					return err
				}
				continue
			}
			var r mockState
			if err := ctx.RegisterResource(c.typ, c.name, props, &r, pulumi.Parent(&parent)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got golden
	for _, r := range res.Resources {
		got.Resources = append(got.Resources, goldenResource{URN: r.URN, ID: r.ID, Simulated: res.Simulated[r.URN], Outputs: res.Outputs[r.URN]})
	}
	sort.Slice(got.Resources, func(i, j int) bool { return got.Resources[i].URN < got.Resources[j].URN })
	registered := map[string]bool{}
	for _, r := range res.Resources {
		registered[r.Type] = true
	}
	for typ := range answers {
		if !registered[typ] {
			t.Errorf("answers has %s, which no case registers: add one to mockCases", typ)
		}
	}
	for _, p := range byPrefix {
		if !slices.ContainsFunc(res.Resources, func(r policy.Resource) bool { return strings.HasPrefix(r.Type, p.prefix) }) {
			t.Errorf("byPrefix has %s, which no case registers: add one to mockCases", p.prefix)
		}
	}
	if n, want := len(got.Resources), len(mockCases)+2+2*2; n != want {
		t.Errorf("%d resources recorded, want %d (the cases, their parent and provider, two stand-ins per cluster)", n, want)
	}

	m := &mocks{project: "eks-canary", stack: "dev", region: "us-west-2"}
	for _, c := range mockInvokes {
		out, err := m.Call(pulumi.MockCallArgs{Token: c.token, Args: resource.NewPropertyMapFromMap(c.args)})
		inv := goldenInvoke{Token: c.token, Args: c.args, Outputs: plainMap(out)}
		if err != nil {
			inv.Error = err.Error()
		}
		got.Invokes = append(got.Invokes, inv)
	}

	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "mocks.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./stacks/offline -run TestMockOutputs -update writes it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("the mocks answer differently from %s; if the change is meant, rewrite it with go test ./stacks/offline -run TestMockOutputs -update\n%s", path, firstDifference(string(want), string(b)))
	}
}

// firstDifference shows the first line where got leaves want.
func firstDifference(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want %s\n  got  %s", i+1, w, g)
		}
	}
	return "(same lines)"
}
