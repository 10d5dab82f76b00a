package stacks_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"sigs.k8s.io/yaml"

	"github.com/eks-canary/platform/infra/insights"
	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/infra/traffic"
	"github.com/eks-canary/platform/internal/bundle"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks"
	"github.com/eks-canary/platform/stacks/config"
	"github.com/eks-canary/platform/stacks/offline"
)

// Resource types the assertions look up.
const (
	tCluster       = "canary:infra:Cluster"
	tTraffic       = "canary:infra:Traffic"
	tInsights      = "canary:infra:Insights"
	tDeployer      = "canary:infra:Deployer"
	tPipeline      = "canary:infra:MicroservicePipeline"
	tEKS           = "eks:index:Cluster"
	tNodeGroup     = "eks:index:ManagedNodeGroup"
	tSubnet        = "aws:ec2/subnet:Subnet"
	tRole          = "aws:iam/role:Role"
	tRolePolicy    = "aws:iam/rolePolicy:RolePolicy"
	tLambda        = "aws:lambda/function:Function"
	tLogGroup      = "aws:cloudwatch/logGroup:LogGroup"
	tMetricFilter  = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
	tRelease       = "kubernetes:helm.sh/v3:Release"
	tNamespace     = "kubernetes:core/v1:Namespace"
	tService       = "kubernetes:core/v1:Service"
	tMesh          = "kubernetes:appmesh.k8s.aws/v1beta2:Mesh"
	tVirtualGW     = "kubernetes:appmesh.k8s.aws/v1beta2:VirtualGateway"
	tGatewayRoute  = "kubernetes:appmesh.k8s.aws/v1beta2:GatewayRoute"
	tGateway       = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
	tAddon         = "aws:eks/addon:Addon"
	tK8sProvider   = "pulumi:providers:kubernetes"
	tCodeBuild     = "aws:codebuild/project:Project"
	tCodePipeline  = "aws:codepipeline/pipeline:Pipeline"
	tCFNStack      = "aws:cloudformation/stack:Stack"
	tCodeCommit    = "aws:codecommit/repository:Repository"
	tAccessEntry   = "aws:eks/accessEntry:AccessEntry"
	tK8sRole       = "kubernetes:rbac.authorization.k8s.io/v1:Role"
	tK8sRoleBind   = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
	tConfigMap     = "kubernetes:core/v1:ConfigMap"
	tPodIdentity   = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
	tSGRule        = "aws:ec2/securityGroupRule:SecurityGroupRule"
	tConfigGroup   = "kubernetes:yaml/v2:ConfigGroup"
	tStateMachine  = "aws:sfn/stateMachine:StateMachine"
	tEventRule     = "aws:cloudwatch/eventRule:EventRule"
	tEventTarget   = "aws:cloudwatch/eventTarget:EventTarget"
	tPermission    = "aws:lambda/permission:Permission"
	tDashboard     = "aws:cloudwatch/dashboard:Dashboard"
	tECR           = "aws:ecr/repository:Repository"
	tBucket        = "aws:s3/bucketV2:BucketV2"
	tAccessPolicy  = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
	tClusterRoleBd = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
)

var defaultServices = []string{"yelb-ui", "yelb-appserver", "yelb-db", "redis-server"}

// outputs are the awaited stack outputs of one run.
type outputs struct {
	applicationURL   string
	cloneURLs        map[string]string
	pipelineNames    []string
	stateMachineArn  string
	kubeconfigSecret bool
	kubeconfig       string
}

// fixture is a repository root with sample sources and an engine zip, so
// runs do not depend on other packages being built.
type fixture struct {
	root    string
	archive string
}

var (
	fixtureOnce sync.Once
	shared      fixture
	fixtureErr  error
)

func newFixture(t *testing.T) fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		root, err := os.MkdirTemp("", "canary-stack-*")
		if err != nil {
			fixtureErr = err
			return
		}
		for _, svc := range append(defaultServices, "orders") {
			for file, body := range map[string]string{
				"specfiles/build.yml": "version: 0.2\n",
				"Dockerfile":          "FROM scratch\n",
			} {
				p := filepath.Join(root, "microservices", svc, file)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					fixtureErr = err
					return
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					fixtureErr = err
					return
				}
			}
		}
		bin := filepath.Join(root, "bootstrap")
		if err := os.WriteFile(bin, []byte("\x7fELF"), 0o755); err != nil {
			fixtureErr = err
			return
		}
		archive := filepath.Join(root, "build", "lambda", "lambda.zip")
		if err := bundle.WriteZip(archive, []bundle.Entry{{Name: "bootstrap", Mode: 0o755, Path: bin}}); err != nil {
			fixtureErr = err
			return
		}
		shared = fixture{root: root, archive: archive}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.root != "" {
		os.RemoveAll(shared.root)
	}
	os.Exit(code)
}

// devConfig is the committed dev stack's configuration.
func devConfig(t *testing.T) (string, map[string]string) {
	t.Helper()
	project, cfg, _, err := offline.StackConfig("..", "dev")
	if err != nil {
		t.Fatal(err)
	}
	return project, cfg
}

// runStack evaluates the program offline with the dev configuration plus
// overrides (keys without the project prefix, except aws:region).
func runStack(t *testing.T, overrides map[string]string) (*offline.Result, outputs, error) {
	t.Helper()
	fx := newFixture(t)
	project, cfg := devConfig(t)
	for k, v := range overrides {
		if !strings.Contains(k, ":") {
			k = project + ":" + k
		}
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	opts := stacks.Options{
		RepoRoot:      fx.root,
		PackageLambda: func(context.Context) (string, error) { return fx.archive, nil },
	}
	var out outputs
	res, err := offline.Run(project, "dev", cfg, func(ctx *pulumi.Context) error {
		c, err := config.Load(ctx.Stack(), stacks.Lookup(ctx))
		if err != nil {
			return err
		}
		env, err := stacks.Deploy(ctx, c, opts)
		if err != nil {
			return err
		}
		await := func(o pulumi.Output) (any, bool) {
			r, err := internals.UnsafeAwaitOutput(ctx.Context(), o)
			if err != nil {
				t.Errorf("await: %v", err)
			}
			return r.Value, r.Secret
		}
		v, _ := await(env.ApplicationUrl)
		out.applicationURL, _ = v.(string)
		v, _ = await(env.StateMachineArn)
		out.stateMachineArn, _ = v.(string)
		v, out.kubeconfigSecret = await(env.Kubeconfig)
		out.kubeconfig, _ = v.(string)
		v, _ = await(env.CloneUrls.ToStringMapOutput())
		out.cloneURLs, _ = v.(map[string]string)
		v, _ = await(env.PipelineNames.ToStringArrayOutput())
		out.pipelineNames, _ = v.([]string)
		return nil
	})
	return res, out, err
}

func mustRun(t *testing.T, overrides map[string]string) (*offline.Result, outputs) {
	t.Helper()
	res, out, err := runStack(t, overrides)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	return res, out
}

func find(t *testing.T, r *offline.Result, typ, name string) policy.Resource {
	t.Helper()
	res, ok := r.Find(typ, name)
	if !ok {
		var names []string
		for _, x := range r.ByType(typ) {
			names = append(names, x.Name)
		}
		t.Fatalf("no %s named %q (have %v)", typ, name, names)
	}
	return res
}

// get walks a path of map keys and list indexes through recorded inputs.
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

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, str(e))
	}
	return out
}

// dependsOn reports whether from depends on to, directly or through other
// dependencies, parents or its provider.
func dependsOn(r *offline.Result, from, to string) bool {
	byURN := map[string]policy.Resource{}
	for _, x := range r.Resources {
		byURN[x.URN] = x
	}
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(u string) bool {
		if u == to {
			return true
		}
		if seen[u] {
			return false
		}
		seen[u] = true
		x := byURN[u]
		next := append([]string(nil), x.Dependencies...)
		if x.Provider != "" {
			next = append(next, providerURN(x.Provider))
		}
		for _, d := range next {
			if walk(d) {
				return true
			}
		}
		return false
	}
	return walk(from)
}

func providerURN(ref string) string {
	i := strings.LastIndex(ref, "::")
	if i < 0 {
		return ref
	}
	return ref[:i]
}

type statement struct {
	Sid       string
	Action    []string
	Resource  []string
	Condition map[string]map[string]any
}

func statements(t *testing.T, doc string) map[string]statement {
	t.Helper()
	var d struct{ Statement []statement }
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("policy document: %v\n%s", err, doc)
	}
	out := map[string]statement{}
	for _, s := range d.Statement {
		out[s.Sid] = s
	}
	return out
}

func TestDevStackBothLayers(t *testing.T) {
	for _, layer := range []string{contract.RouterAppMesh, contract.RouterGatewayAPI} {
		t.Run(layer, func(t *testing.T) {
			res, out := mustRun(t, map[string]string{config.KeyTrafficLayer: layer})
			owned := res.Owned()
			t.Logf("%s: %d resources registered", layer, len(owned))

			if v := policy.Check(owned); len(v) > 0 {
				t.Errorf("policy violations: %v", v)
			}
			for typ, n := range map[string]int{tCluster: 1, tTraffic: 1, tInsights: 1, tDeployer: 1, tPipeline: 4, tEKS: 1, tNodeGroup: 1} {
				if got := len(res.ByType(typ)); got != n {
					t.Errorf("%d %s, want %d", got, typ, n)
				}
			}

			// Every resource but the top-level components and providers has a
			// parent, and children of a component carry its name as prefix.
			components := map[string]policy.Resource{}
			for _, r := range owned {
				if strings.HasPrefix(r.Type, "canary:infra:") {
					components[r.URN] = r
				}
			}
			stack := ""
			for _, c := range components {
				if _, nested := components[c.Parent]; !nested {
					if stack != "" && stack != c.Parent {
						t.Errorf("components under two parents: %s and %s", stack, c.Parent)
					}
					stack = c.Parent
				}
			}
			for _, r := range owned {
				if strings.HasPrefix(r.Type, "pulumi:providers:") && r.Type != tK8sProvider {
					continue // default providers
				}
				p, ok := components[r.Parent]
				if !ok {
					if r.Parent == stack && strings.HasPrefix(r.Type, "canary:infra:") {
						continue
					}
					t.Errorf("%s %q is not inside a component (parent %q)", r.Type, r.Name, r.Parent)
					continue
				}
				if !strings.HasPrefix(r.Name, p.Name+"-") {
					t.Errorf("%s %q inside %q is not prefixed with the component name", r.Type, r.Name, p.Name)
				}
			}

			if !strings.HasPrefix(out.stateMachineArn, "arn:aws:states:us-west-2:"+offline.Account+":stateMachine:canary-dev-canary-rollout") {
				t.Errorf("stateMachineArn = %q", out.stateMachineArn)
			}
			if len(out.cloneURLs) != 4 || len(out.pipelineNames) != 4 {
				t.Errorf("cloneUrls %v, pipelineNames %v: want one per microservice", out.cloneURLs, out.pipelineNames)
			}
			for _, svc := range defaultServices {
				if want := "https://git-codecommit.us-west-2.amazonaws.com/v1/repos/" + svc; out.cloneURLs[svc] != want {
					t.Errorf("clone URL of %s = %q, want %q", svc, out.cloneURLs[svc], want)
				}
				if !slices.Contains(out.pipelineNames, "canary-dev-"+svc) {
					t.Errorf("no pipeline canary-dev-%s in %v", svc, out.pipelineNames)
				}
			}
			if !out.kubeconfigSecret || !strings.Contains(out.kubeconfig, "get-token") {
				t.Errorf("kubeconfig secret=%v, content %.80q", out.kubeconfigSecret, out.kubeconfig)
			}
			lbs := 0
			for _, s := range res.ByType(tService) {
				if get(s.Inputs, "spec", "type") == "LoadBalancer" {
					lbs++
				}
			}
			switch layer {
			case contract.RouterAppMesh:
				if lbs != 1 || !strings.HasPrefix(out.applicationURL, "http://") || !strings.Contains(out.applicationURL, ".elb.us-west-2.amazonaws.com") {
					t.Errorf("app mesh: %d LoadBalancer services, applicationUrl %q; want one stable ingress", lbs, out.applicationURL)
				}
			case contract.RouterGatewayAPI:
				if lbs != 1 || !strings.HasPrefix(out.applicationURL, "http://") || !strings.Contains(out.applicationURL, ".elb.us-west-2.amazonaws.com") {
					t.Errorf("gateway api: %d LoadBalancer services, applicationUrl %q; want the public entry's one", lbs, out.applicationURL)
				}
			}
		})
	}
}

func TestClusterComponent(t *testing.T) {
	res, _ := mustRun(t, nil)
	eks := find(t, res, tEKS, "cluster-eks")
	for k, want := range map[string]any{
		"name": "canary-dev", "authenticationMode": "API", "skipDefaultNodeGroup": true, "createOidcProvider": true,
		"nodeAssociatePublicIpAddress": false, "endpointPrivateAccess": true,
	} {
		if got := eks.Inputs[k]; got != want {
			t.Errorf("eks.%s = %v, want %v", k, got, want)
		}
	}
	if len(get(eks.Inputs, "privateSubnetIds").([]any)) != 3 || len(get(eks.Inputs, "publicSubnetIds").([]any)) != 3 {
		t.Errorf("eks subnets: %v / %v", eks.Inputs["privateSubnetIds"], eks.Inputs["publicSubnetIds"])
	}
	if _, ok := eks.Inputs["accessEntries"]; ok {
		t.Error("the cluster component grants access entries itself; the engine's are namespaced")
	}

	ng := find(t, res, tNodeGroup, "cluster-nodes")
	if ng.Inputs["amiType"] != "AL2023_ARM_64_STANDARD" || !slices.Equal(strs(ng.Inputs["instanceTypes"]), []string{"t4g.medium"}) {
		t.Errorf("node group ami %v types %v", ng.Inputs["amiType"], ng.Inputs["instanceTypes"])
	}
	if get(ng.Inputs, "scalingConfig", "desiredSize") != 3.0 || get(ng.Inputs, "scalingConfig", "minSize") != 2.0 || get(ng.Inputs, "scalingConfig", "maxSize") != 5.0 {
		t.Errorf("scaling %v", ng.Inputs["scalingConfig"])
	}
	if get(ng.Inputs, "cluster") != eks.URN {
		t.Errorf("node group cluster = %v, want the eks component %s", ng.Inputs["cluster"], eks.URN)
	}

	// Nodes sit in the private subnets; public subnets carry the ELB tag.
	private := map[string]bool{}
	cidrs := map[string]bool{}
	for _, s := range res.ByType(tSubnet) {
		cidr := str(s.Inputs["cidrBlock"])
		if cidrs[cidr] {
			t.Errorf("CIDR %s used twice", cidr)
		}
		cidrs[cidr] = true
		tags, _ := s.Inputs["tags"].(map[string]any)
		isPublic := strings.Contains(s.Name, "public")
		if isPublic && (tags["kubernetes.io/role/elb"] != "1" || s.Inputs["mapPublicIpOnLaunch"] != true) {
			t.Errorf("public subnet %s: tags %v", s.Name, tags)
		}
		if !isPublic {
			if tags["kubernetes.io/role/internal-elb"] != "1" || s.Inputs["mapPublicIpOnLaunch"] == true {
				t.Errorf("private subnet %s: tags %v", s.Name, tags)
			}
			private[s.ID] = true
		}
	}
	if len(cidrs) != 6 || len(private) != 3 {
		t.Fatalf("want 3 public and 3 private subnets, got %v", cidrs)
	}
	for _, id := range strs(ng.Inputs["subnetIds"]) {
		if !private[id] {
			t.Errorf("node group subnet %s is not private", id)
		}
	}

	agent := find(t, res, tAddon, "cluster-pod-identity-agent")
	if agent.Inputs["addonName"] != "eks-pod-identity-agent" || !dependsOn(res, agent.URN, ng.URN) {
		t.Errorf("pod identity agent %v, after nodes: %v", agent.Inputs["addonName"], dependsOn(res, agent.URN, ng.URN))
	}
	prov := find(t, res, tK8sProvider, "cluster-k8s")
	if !strings.Contains(str(prov.Inputs["kubeconfig"]), "get-token") {
		t.Errorf("kubernetes provider kubeconfig = %.60q", prov.Inputs["kubeconfig"])
	}
	if !slices.Contains(prov.Dependencies, ng.URN) {
		t.Error("the kubernetes provider does not depend on the node group: destroy could remove nodes before load balancers")
	}
	logs := find(t, res, tLogGroup, "cluster-control-plane-logs")
	if logs.Inputs["name"] != "/aws/eks/canary-dev/cluster" || !slices.Contains(eks.Dependencies, logs.URN) {
		t.Errorf("control plane logs %v, before the cluster: %v", logs.Inputs["name"], slices.Contains(eks.Dependencies, logs.URN))
	}
}

func TestX86NodesChangeAMIAndBuildImage(t *testing.T) {
	res, _ := mustRun(t, map[string]string{config.KeyInstanceType: "m6i.large", config.KeyBuildComputeType: "BUILD_GENERAL1_MEDIUM"})
	ng := find(t, res, tNodeGroup, "cluster-nodes")
	if ng.Inputs["amiType"] != "AL2023_x86_64_STANDARD" {
		t.Errorf("amiType %v", ng.Inputs["amiType"])
	}
	build := find(t, res, tCodeBuild, "yelb-ui-build")
	if get(build.Inputs, "environment", "image") != "aws/codebuild/standard:7.0" || get(build.Inputs, "environment", "type") != "LINUX_CONTAINER" ||
		get(build.Inputs, "environment", "computeType") != "BUILD_GENERAL1_MEDIUM" ||
		get(build.Inputs, "environment", "environmentVariables", 5, "name") != "IMAGE_PLATFORM" ||
		get(build.Inputs, "environment", "environmentVariables", 5, "value") != "linux/amd64" {
		t.Errorf("build environment %v", build.Inputs["environment"])
	}
}

func TestAppMeshLayer(t *testing.T) {
	res, _ := mustRun(t, map[string]string{config.KeyTrafficLayer: contract.RouterAppMesh})
	rel := find(t, res, tRelease, "traffic-appmesh-controller")
	if rel.Inputs["chart"] != "appmesh-controller" || rel.Inputs["version"] != "1.13.3" ||
		get(rel.Inputs, "repositoryOpts", "repo") != "https://aws.github.io/eks-charts" || rel.Inputs["namespace"] != "appmesh-system" {
		t.Errorf("release %v %v %v %v", rel.Inputs["chart"], rel.Inputs["version"], rel.Inputs["repositoryOpts"], rel.Inputs["namespace"])
	}
	role := find(t, res, tRole, "traffic-appmesh-controller")
	roleArn := "arn:aws:iam::" + offline.Account + ":role/" + role.ID
	if get(rel.Inputs, "values", "region") != "us-west-2" ||
		get(rel.Inputs, "values", "serviceAccount", "annotations", "eks.amazonaws.com/role-arn") != roleArn {
		t.Errorf("release values %v", rel.Inputs["values"])
	}
	trust := str(role.Inputs["assumeRolePolicy"])
	if !strings.Contains(trust, "sts:AssumeRoleWithWebIdentity") || !strings.Contains(trust, `:sub":"system:serviceaccount:appmesh-system:appmesh-controller"`) ||
		!strings.Contains(trust, `:aud":"sts.amazonaws.com"`) || !strings.Contains(trust, "oidc-provider/oidc.eks.us-west-2.amazonaws.com") {
		t.Errorf("controller trust policy %s", trust)
	}
	upstream, err := os.ReadFile("../infra/traffic/policies/appmesh-controller-iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := str(find(t, res, tRolePolicy, "traffic-appmesh-controller").Inputs["policy"]); got != string(upstream) {
		t.Error("controller policy differs from the upstream least-privilege document")
	}

	ns := find(t, res, tNamespace, "traffic-app-namespace")
	labels, _ := get(ns.Inputs, "metadata", "labels").(map[string]any)
	if labels["mesh"] != "yelb" || labels["appmesh.k8s.aws/sidecarInjectorWebhook"] != "enabled" {
		t.Errorf("namespace labels %v", labels)
	}
	mesh := find(t, res, tMesh, "traffic-mesh")
	if mesh.Inputs["kind"] != "Mesh" || get(mesh.Inputs, "metadata", "name") != "yelb" ||
		get(mesh.Inputs, "spec", "namespaceSelector", "matchLabels", "mesh") != "yelb" {
		t.Errorf("mesh %v", mesh.Inputs)
	}
	route := find(t, res, tGatewayRoute, "traffic-gateway-route")
	if get(route.Inputs, "spec", "httpRoute", "action", "target", "virtualService", "virtualServiceRef", "name") != "yelb-ui" {
		t.Errorf("gateway route %v", route.Inputs["spec"])
	}
	sa := find(t, res, "kubernetes:core/v1:ServiceAccount", "traffic-envoy-sa")
	if get(sa.Inputs, "metadata", "name") != deployerEnvoySA || get(sa.Inputs, "metadata", "namespace") != "yelb" {
		t.Errorf("envoy service account %v", sa.Inputs["metadata"])
	}

	// Teardown order: mesh objects and the namespace go before the
	// controller; the load balancer before the nodes.
	for typ, name := range map[string]string{tMesh: "traffic-mesh", tVirtualGW: "traffic-virtual-gateway", tGatewayRoute: "traffic-gateway-route"} {
		if !dependsOn(res, find(t, res, typ, name).URN, rel.URN) {
			t.Errorf("%s does not depend on the controller release", name)
		}
	}
	if !dependsOn(res, ns.URN, rel.URN) || !dependsOn(res, ns.URN, mesh.URN) {
		t.Error("the application namespace must depend on the controller and the mesh")
	}
	svc := find(t, res, tService, "traffic-ingress-service")
	if !dependsOn(res, providerURN(svc.Provider), find(t, res, tNodeGroup, "cluster-nodes").URN) {
		t.Error("the ingress load balancer's provider does not depend on the nodes")
	}

	// Envoy metrics reach the pipelines' metric filters.
	lg := find(t, res, tLogGroup, "insights-prometheus-logs")
	if lg.Inputs["name"] != "/aws/containerinsights/canary-dev/prometheus" || lg.Inputs["retentionInDays"] != 14.0 {
		t.Errorf("prometheus log group %v", lg.Inputs)
	}
	var scrape string
	for _, cm := range res.ByType(tConfigMap) {
		if s := str(get(cm.Inputs, "data", "prometheus.yaml")); s != "" {
			scrape = s
		}
	}
	for _, want := range []string{"regex: ^envoy$", "__meta_kubernetes_pod_label_app, __meta_kubernetes_pod_label_version", "target_label: Version", `names: ["yelb"]`, "/stats/prometheus"} {
		if !strings.Contains(scrape, want) {
			t.Errorf("scrape config lacks %q", want)
		}
	}
	filters := res.ByType(tMetricFilter)
	if len(filters) != 8 {
		t.Fatalf("%d metric filters, want 2 per microservice", len(filters))
	}
	f := find(t, res, tMetricFilter, "yelb-appserver-errors-5xx-filter")
	if f.Inputs["logGroupName"] != "/aws/containerinsights/canary-dev/prometheus" ||
		f.Inputs["pattern"] != `{ $.envoy_http_conn_manager_prefix = "ingress" && $.Version = "yelb-appserver-*" && $.envoy_response_code_class = "5" }` ||
		get(f.Inputs, "metricTransformation", "name") != "Errors5xx" || get(f.Inputs, "metricTransformation", "namespace") != "CanaryDelivery/AppMesh" ||
		get(f.Inputs, "metricTransformation", "value") != "$.envoy_http_downstream_rq_xx" ||
		get(f.Inputs, "metricTransformation", "dimensions", "Version") != "$.Version" {
		t.Errorf("errors filter %v", f.Inputs)
	}
	if !slices.Contains(f.Dependencies, lg.URN) {
		t.Error("metric filter created before its log group")
	}
	if len(res.ByType(tConfigGroup)) != 0 || len(res.ByType(tSGRule)) != 0 {
		t.Error("app mesh stack carries Gateway API resources")
	}
}

const deployerEnvoySA = "appmesh-envoy"

func TestGatewayAPILayer(t *testing.T) {
	res, _ := mustRun(t, map[string]string{config.KeyTrafficLayer: contract.RouterGatewayAPI})
	rel := find(t, res, tRelease, "traffic-gateway-controller")
	if rel.Inputs["chart"] != "oci://public.ecr.aws/aws-application-networking-k8s/aws-gateway-controller-chart" || rel.Inputs["version"] != "v2.1.3" ||
		rel.Inputs["namespace"] != "aws-application-networking-system" {
		t.Errorf("release %v %v %v", rel.Inputs["chart"], rel.Inputs["version"], rel.Inputs["namespace"])
	}
	if get(rel.Inputs, "values", "awsAccountId") != offline.Account || get(rel.Inputs, "values", "clusterName") != "canary-dev" ||
		!strings.HasPrefix(str(get(rel.Inputs, "values", "clusterVpcId")), "vpc-") {
		t.Errorf("release values %v", rel.Inputs["values"])
	}
	role := find(t, res, tRole, "traffic-gateway-controller")
	if trust := str(role.Inputs["assumeRolePolicy"]); !strings.Contains(trust, "pods.eks.amazonaws.com") || !strings.Contains(trust, "sts:TagSession") {
		t.Errorf("controller trust %s", trust)
	}
	pia := find(t, res, tPodIdentity, "traffic-gateway-controller")
	if pia.Inputs["serviceAccount"] != "gateway-api-controller" || pia.Inputs["namespace"] != "aws-application-networking-system" ||
		!dependsOn(res, pia.URN, find(t, res, tAddon, "cluster-pod-identity-agent").URN) {
		t.Errorf("pod identity association %v", pia.Inputs)
	}
	crds := find(t, res, tConfigGroup, "traffic-gateway-api-crds")
	for _, want := range []string{"name: httproutes.gateway.networking.k8s.io", "name: gateways.gateway.networking.k8s.io", "name: gatewayclasses.gateway.networking.k8s.io"} {
		if !strings.Contains(str(crds.Inputs["yaml"]), want) {
			t.Errorf("gateway api CRDs lack %q", want)
		}
	}
	if !dependsOn(res, rel.URN, crds.URN) {
		t.Error("controller installed before the Gateway API CRDs")
	}
	gw := find(t, res, tGateway, "traffic-gateway")
	if gw.Inputs["kind"] != "Gateway" || get(gw.Inputs, "metadata", "name") != "canary-gateway" || get(gw.Inputs, "metadata", "namespace") != "yelb" ||
		get(gw.Inputs, "spec", "gatewayClassName") != "amazon-vpc-lattice" || get(gw.Inputs, "spec", "listeners", 0, "name") != "http" ||
		get(gw.Inputs, "spec", "listeners", 0, "port") != 80.0 {
		t.Errorf("gateway %v", gw.Inputs)
	}
	appNs := find(t, res, tNamespace, "traffic-app-namespace")
	if !dependsOn(res, gw.URN, rel.URN) || !dependsOn(res, appNs.URN, rel.URN) {
		t.Error("the Gateway and the namespace must be deleted before the controller")
	}
	if !dependsOn(res, appNs.URN, find(t, res, "aws:vpclattice/serviceNetworkVpcAssociation:ServiceNetworkVpcAssociation", "traffic-vpc-association").URN) {
		t.Error("the namespace (with the engine's routes) must be deleted before the service network's VPC association")
	}
	rule := find(t, res, tSGRule, "traffic-lattice-ingress")
	if rule.Inputs["type"] != "ingress" || !slices.Equal(strs(rule.Inputs["prefixListIds"]), []string{"pl-0721453c7ac4ec009"}) ||
		!strings.HasPrefix(str(rule.Inputs["securityGroupId"]), "sg-") {
		t.Errorf("lattice ingress rule %v", rule.Inputs)
	}
	if !slices.Contains(res.Invokes, "aws:ec2/getManagedPrefixList:getManagedPrefixList") {
		t.Error("the VPC Lattice prefix list was not looked up")
	}
	if len(res.ByType(tMetricFilter)) != 0 {
		t.Error("gateway api stack carries the App Mesh metric filters")
	}
	for _, cm := range res.ByType(tConfigMap) {
		if get(cm.Inputs, "data", "prometheus.yaml") != nil {
			t.Errorf("gateway api stack carries the App Mesh scrape configuration %s", cm.Name)
		}
	}
	if str(get(find(t, res, tCodeBuild, "yelb-ui-build").Inputs, "environment", "environmentVariables", 4, "value")) != "gatewayapi" {
		t.Error("TRAFFIC_ROUTER is not gatewayapi")
	}
}

func TestInsights(t *testing.T) {
	res, _ := mustRun(t, nil)
	addon := find(t, res, tAddon, "insights-observability")
	if addon.Inputs["addonName"] != "amazon-cloudwatch-observability" || get(addon.Inputs, "podIdentityAssociations", 0, "serviceAccount") != "cloudwatch-agent" {
		t.Errorf("observability add-on %v", addon.Inputs)
	}
	if !dependsOn(res, addon.URN, find(t, res, tAddon, "cluster-pod-identity-agent").URN) {
		t.Error("observability add-on does not wait for the pod identity agent")
	}
	for _, g := range []string{"application", "dataplane", "host", "performance"} {
		lg := find(t, res, tLogGroup, "insights-"+g+"-logs")
		if lg.Inputs["name"] != "/aws/containerinsights/canary-dev/"+g || !slices.Contains(addon.Dependencies, lg.URN) {
			t.Errorf("log group %s: %v, before the add-on: %v", g, lg.Inputs["name"], slices.Contains(addon.Dependencies, lg.URN))
		}
	}
}

func TestDeployer(t *testing.T) {
	for _, layer := range []string{contract.RouterAppMesh, contract.RouterGatewayAPI} {
		t.Run(layer, func(t *testing.T) {
			fx := newFixture(t)
			res, _ := mustRun(t, map[string]string{config.KeyTrafficLayer: layer, config.KeyEmail: "ops@example.com"})
			step := find(t, res, tLambda, "deployer-step")
			rollback := find(t, res, tLambda, "deployer-rollback-aborted")
			for entry, fn := range map[string]policy.Resource{contract.EntryStep: step, contract.EntryRollbackAborted: rollback} {
				if fn.Inputs["runtime"] != "provided.al2023" || fn.Inputs["handler"] != "bootstrap" || !slices.Equal(strs(fn.Inputs["architectures"]), []string{"arm64"}) ||
					fn.Inputs["code"] != fx.archive {
					t.Errorf("%s function %v %v %v %v", entry, fn.Inputs["runtime"], fn.Inputs["handler"], fn.Inputs["architectures"], fn.Inputs["code"])
				}
				env, _ := get(fn.Inputs, "environment", "variables").(map[string]any)
				if env["CANARY_ENTRY"] != entry || !strings.HasPrefix(str(env["NOTIFY_TOPIC_ARN"]), "arn:aws:sns:") || env["APPMESH_METRICS_NAMESPACE"] != "CanaryDelivery/AppMesh" {
					t.Errorf("%s environment %v", entry, env)
				}
			}
			stepLogs := find(t, res, tLogGroup, "deployer-step-logs")
			if stepLogs.Inputs["name"] != "/aws/lambda/canary-dev-canary-step" || !slices.Contains(step.Dependencies, stepLogs.URN) {
				t.Errorf("step log group %v created first: %v", stepLogs.Inputs["name"], slices.Contains(step.Dependencies, stepLogs.URN))
			}

			stepPolicy := statements(t, str(find(t, res, tRolePolicy, "deployer-step-policy").Inputs["policy"]))
			clusterArn := "arn:aws:eks:us-west-2:" + offline.Account + ":cluster/canary-dev"
			if s := stepPolicy["DescribeCluster"]; !slices.Equal(s.Resource, []string{clusterArn}) || !slices.Equal(s.Action, []string{"eks:DescribeCluster"}) {
				t.Errorf("DescribeCluster statement %+v", s)
			}
			if s := stepPolicy["WriteOwnLogs"]; !slices.Equal(s.Resource, []string{"arn:aws:logs:us-west-2:" + offline.Account + ":log-group:/aws/lambda/canary-dev-canary-step:*"}) {
				t.Errorf("log statement %+v", s)
			}
			_, lattice := stepPolicy["ReadLatticeTargetGroups"]
			if lattice != (layer == contract.RouterGatewayAPI) {
				t.Errorf("vpc-lattice read statement present=%v on %s", lattice, layer)
			}
			if _, ok := stepPolicy["ReadExecutionInput"]; ok {
				t.Error("the step role may read executions; only the rollback role needs it")
			}
			rbPolicy := statements(t, str(find(t, res, tRolePolicy, "deployer-rollback-policy").Inputs["policy"]))
			if s := rbPolicy["ReadExecutionInput"]; !slices.Equal(s.Action, []string{"states:DescribeExecution"}) ||
				!slices.Equal(s.Resource, []string{"arn:aws:states:us-west-2:" + offline.Account + ":execution:canary-dev-canary-rollout:*"}) {
				t.Errorf("rollback execution statement %+v", s)
			}
			smPolicy := statements(t, str(find(t, res, tRolePolicy, "deployer-state-machine-policy").Inputs["policy"]))
			stepArn := "arn:aws:lambda:us-west-2:" + offline.Account + ":function:canary-dev-canary-step"
			if s := smPolicy["InvokeEngine"]; !slices.Equal(s.Resource, []string{stepArn, stepArn + ":*"}) {
				t.Errorf("state machine invoke statement %+v", s)
			}
			if s, ok := smPolicy["InvokeHookFunctions"]; ok {
				t.Errorf("without %s the state machine may invoke hook functions: %+v", config.KeyHookFunctions, s)
			}
			if env, _ := get(step.Inputs, "environment", "variables").(map[string]any); env[contract.EnvHookFunctions] != nil {
				t.Errorf("without %s the engine is told of hook functions: %v", config.KeyHookFunctions, env[contract.EnvHookFunctions])
			}

			sm := find(t, res, tStateMachine, "deployer-state-machine")
			if !strings.Contains(str(sm.Inputs["definition"]), stepArn) {
				t.Error("state machine definition does not call the step function")
			}
			if get(sm.Inputs, "loggingConfiguration", "level") != "ALL" || get(sm.Inputs, "loggingConfiguration", "includeExecutionData") != false ||
				get(sm.Inputs, "loggingConfiguration", "logDestination") != "arn:aws:logs:us-west-2:"+offline.Account+":log-group:/aws/vendedlogs/states/canary-dev-canary-rollout:*" {
				t.Errorf("state machine logging %v", sm.Inputs["loggingConfiguration"])
			}
			var pattern struct {
				Source []string `json:"source"`
				Detail struct {
					Status          []string `json:"status"`
					StateMachineArn []string `json:"stateMachineArn"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(str(find(t, res, tEventRule, "deployer-aborted-rule").Inputs["eventPattern"])), &pattern); err != nil {
				t.Fatal(err)
			}
			sort.Strings(pattern.Detail.Status)
			if !slices.Equal(pattern.Detail.Status, []string{"ABORTED", "FAILED", "TIMED_OUT"}) || len(pattern.Detail.StateMachineArn) != 1 ||
				!strings.HasSuffix(pattern.Detail.StateMachineArn[0], ":stateMachine:canary-dev-canary-rollout") {
				t.Errorf("aborted rule pattern %+v", pattern)
			}
			if target := find(t, res, tEventTarget, "deployer-aborted-target"); target.Inputs["arn"] != "arn:aws:lambda:us-west-2:"+offline.Account+":function:canary-dev-canary-rollback-aborted" {
				t.Errorf("aborted rule target %v", target.Inputs["arn"])
			}
			if perm := find(t, res, tPermission, "deployer-aborted-invoke"); perm.Inputs["principal"] != "events.amazonaws.com" {
				t.Errorf("permission %v", perm.Inputs)
			}
			if sub, ok := res.Find("aws:sns/topicSubscription:TopicSubscription", "deployer-notifications-email"); !ok || sub.Inputs["endpoint"] != "ops@example.com" {
				t.Error("no e-mail subscription for notificationEmail")
			}

			entries := res.ByType(tAccessEntry)
			if len(entries) != 2 {
				t.Fatalf("%d access entries, want one per engine role", len(entries))
			}
			for _, e := range entries {
				if e.Inputs["type"] != "STANDARD" || !slices.Equal(strs(e.Inputs["kubernetesGroups"]), []string{"canary-deployers"}) {
					t.Errorf("access entry %s %v", e.Name, e.Inputs)
				}
			}
			if len(res.ByType(tAccessPolicy)) != 0 || len(res.ByType(tClusterRoleBd)) != 0 {
				t.Error("the engine gets cluster-wide rights")
			}
			role := find(t, res, tK8sRole, "deployer-k8s-role")
			if get(role.Inputs, "metadata", "namespace") != "yelb" {
				t.Errorf("engine role namespace %v", get(role.Inputs, "metadata", "namespace"))
			}
			granted := map[string][]string{}
			for _, r := range role.Inputs["rules"].([]any) {
				for _, g := range strs(get(r, "apiGroups")) {
					for _, res := range strs(get(r, "resources")) {
						granted[g+"/"+res] = strs(get(r, "verbs"))
					}
				}
			}
			// Pods: delete only, for a stateful roll back to replace a pod stuck on the bad revision.
			manage := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
			for key, verbs := range map[string][]string{
				"apps/deployments": manage, "apps/statefulsets": manage, "apps/replicasets": manage,
				"/services": manage, "/configmaps": manage, "/serviceaccounts": {"get", "list"},
				"/pods": {"get", "list", "watch", "delete"}, "/events": {"create", "patch"}, "coordination.k8s.io/leases": manage,
				"appmesh.k8s.aws/virtualnodes": manage, "appmesh.k8s.aws/virtualrouters": manage, "appmesh.k8s.aws/virtualservices": manage,
				"gateway.networking.k8s.io/httproutes": manage, "application-networking.k8s.aws/targetgrouppolicies": manage,
				"batch/jobs": manage,
			} {
				if !slices.Equal(granted[key], verbs) {
					t.Errorf("engine verbs on %s = %v, want %v", key, granted[key], verbs)
				}
			}
			if len(granted) != 15 {
				t.Errorf("engine role grants %d resources, want exactly the 15 of the contract: %v", len(granted), granted)
			}
			binding := find(t, res, tK8sRoleBind, "deployer-k8s-role-binding")
			if get(binding.Inputs, "subjects", 0, "kind") != "Group" || get(binding.Inputs, "subjects", 0, "name") != "canary-deployers" ||
				get(binding.Inputs, "roleRef", "kind") != "Role" {
				t.Errorf("engine role binding %v", binding.Inputs)
			}
		})
	}
}

// TestHookFunctionsAreTheOnlyOnesInvoked: the state machine may invoke
// exactly the hook functions of the stack configuration, and the engine is
// told the same list.
func TestHookFunctionsAreTheOnlyOnesInvoked(t *testing.T) {
	exact := "arn:aws:lambda:us-west-2:" + offline.Account + ":function:acceptance"
	prefix := "arn:aws:lambda:us-west-2:" + offline.Account + ":function:canary-hook-*"
	res, _ := mustRun(t, map[string]string{config.KeyHookFunctions: `["` + exact + `", "` + prefix + `"]`})
	smPolicy := statements(t, str(find(t, res, tRolePolicy, "deployer-state-machine-policy").Inputs["policy"]))
	s := smPolicy["InvokeHookFunctions"]
	if !slices.Equal(s.Action, []string{"lambda:InvokeFunction"}) || !slices.Equal(s.Resource, []string{exact, exact + ":*", prefix}) {
		t.Errorf("hook functions statement %+v", s)
	}
	step := find(t, res, tLambda, "deployer-step")
	if env, _ := get(step.Inputs, "environment", "variables").(map[string]any); env[contract.EnvHookFunctions] != exact+","+prefix {
		t.Errorf("engine %s = %v", contract.EnvHookFunctions, env[contract.EnvHookFunctions])
	}
	if _, _, err := runStack(t, map[string]string{config.KeyHookFunctions: `["acceptance"]`}); err == nil || !strings.Contains(err.Error(), "config hookFunctions") {
		t.Errorf("a function name instead of an ARN: %v", err)
	}
}

func TestPipelines(t *testing.T) {
	res, _ := mustRun(t, map[string]string{config.KeyManualApproval: "true"})
	build := find(t, res, tCodeBuild, "yelb-appserver-build")
	env := map[string]string{}
	for _, v := range get(build.Inputs, "environment", "environmentVariables").([]any) {
		env[str(get(v, "name"))] = str(get(v, "value"))
	}
	want := map[string]string{
		"DOCKER_REGISTRY_URI":  offline.Account + ".dkr.ecr.us-west-2.amazonaws.com/yelb-appserver",
		"AWS_ACCOUNT_ID":       offline.Account,
		"EKS_CLUSTER_NAME":     "canary-dev",
		"KUBERNETES_NAMESPACE": "yelb",
		"TRAFFIC_ROUTER":       "gatewayapi",
		"IMAGE_PLATFORM":       "linux/arm64",
	}
	if len(env) != len(want) {
		t.Errorf("build environment %v, want %v", env, want)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("build env %s = %q, want %q", k, env[k], v)
		}
	}
	if get(build.Inputs, "environment", "privilegedMode") != true || get(build.Inputs, "source", "buildspec") != "specfiles/build.yml" ||
		get(build.Inputs, "environment", "image") != "aws/codebuild/amazonlinux2-aarch64-standard:3.0" || get(build.Inputs, "environment", "type") != "ARM_CONTAINER" {
		t.Errorf("build project %v", build.Inputs)
	}

	pl := find(t, res, tCodePipeline, "yelb-appserver-pipeline")
	var stages []string
	for _, s := range pl.Inputs["stages"].([]any) {
		stages = append(stages, str(get(s, "name")))
	}
	if !slices.Equal(stages, []string{"Source", "Build", "Approve", "Deploy"}) || pl.Inputs["pipelineType"] != "V2" {
		t.Errorf("stages %v type %v", stages, pl.Inputs["pipelineType"])
	}
	deploy := get(pl.Inputs, "stages", 3, "actions", 0)
	if get(deploy, "provider") != "StepFunctions" || get(deploy, "configuration", "InputType") != "FilePath" ||
		get(deploy, "configuration", "Input") != "deploy.json" ||
		!strings.HasSuffix(str(get(deploy, "configuration", "StateMachineArn")), ":stateMachine:canary-dev-canary-rollout") {
		t.Errorf("deploy action %v", deploy)
	}
	source := get(pl.Inputs, "stages", 0, "actions", 0, "configuration")
	if get(source, "BranchName") != "main" || get(source, "PollForSourceChanges") != "false" || get(source, "RepositoryName") != "yelb-appserver" {
		t.Errorf("source action %v", source)
	}

	ecr := find(t, res, tECR, "yelb-appserver-images")
	if ecr.Inputs["forceDelete"] != true || get(ecr.Inputs, "imageScanningConfiguration", "scanOnPush") != true || ecr.Inputs["name"] != "yelb-appserver" {
		t.Errorf("image repository %v", ecr.Inputs)
	}
	if b := find(t, res, tBucket, "yelb-appserver-artifacts"); b.Inputs["forceDestroy"] != true {
		t.Error("artifact bucket would block an unattended destroy")
	}
	stack := find(t, res, tCFNStack, "yelb-appserver-source")
	var tpl struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal([]byte(str(stack.Inputs["templateBody"])), &tpl); err != nil {
		t.Fatal(err)
	}
	repo := tpl.Resources["Repository"]
	if repo.Type != "AWS::CodeCommit::Repository" || get(repo.Properties, "Code", "BranchName") != "main" ||
		get(repo.Properties, "Code", "S3", "Key") != "seed/yelb-appserver.zip" ||
		get(repo.Properties, "Code", "S3", "Bucket") != find(t, res, tBucket, "yelb-appserver-artifacts").ID {
		t.Errorf("seeded repository template %+v", repo)
	}
	seed := find(t, res, "aws:s3/bucketObjectv2:BucketObjectv2", "yelb-appserver-seed")
	if !slices.Contains(stack.Dependencies, seed.URN) || !strings.HasSuffix(str(seed.Inputs["source"]), filepath.Join("build", "seed", "yelb-appserver.zip")) {
		t.Errorf("seed object %v, before the stack: %v", seed.Inputs["source"], slices.Contains(stack.Dependencies, seed.URN))
	}

	var pattern struct {
		Resources []string `json:"resources"`
		Detail    struct {
			Event         []string `json:"event"`
			ReferenceName []string `json:"referenceName"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(str(find(t, res, tEventRule, "yelb-appserver-push-rule").Inputs["eventPattern"])), &pattern); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pattern.Detail.Event, []string{"referenceCreated", "referenceUpdated"}) || !slices.Equal(pattern.Detail.ReferenceName, []string{"main"}) ||
		!slices.Equal(pattern.Resources, []string{"arn:aws:codecommit:us-west-2:" + offline.Account + ":yelb-appserver"}) {
		t.Errorf("push rule %+v", pattern)
	}

	body := str(find(t, res, tDashboard, "yelb-appserver-dashboard").Inputs["dashboardBody"])
	for _, want := range []string{`"CanaryDelivery","CanaryWeight","Namespace","yelb","Microservice","yelb-appserver"`, `"CanaryDelivery","CanaryErrorRate"`, `"yAxis":"right"`} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
}

func TestUnseededRepositoriesAndExtraMicroservice(t *testing.T) {
	res, out := mustRun(t, map[string]string{config.KeySampleMode: "false", config.KeyMicroservices: `["orders"]`})
	if len(res.ByType(tCFNStack)) != 0 || len(res.ByType(tPipeline)) != 1 {
		t.Fatalf("%d seeded stacks, %d pipelines", len(res.ByType(tCFNStack)), len(res.ByType(tPipeline)))
	}
	repo := find(t, res, tCodeCommit, "orders-source")
	if repo.Inputs["repositoryName"] != "orders" || out.cloneURLs["orders"] != "https://git-codecommit.us-west-2.amazonaws.com/v1/repos/orders" {
		t.Errorf("repository %v clone %v", repo.Inputs, out.cloneURLs)
	}
}

func TestConfigErrorsStopTheProgram(t *testing.T) {
	fx := newFixture(t)
	project, cfg := devConfig(t)
	cfg[project+":trafficLayer"] = "istio"
	res, err := offline.Run(project, "dev", cfg, stacks.Program(stacks.Options{
		RepoRoot:      fx.root,
		PackageLambda: func(context.Context) (string, error) { return fx.archive, nil },
	}))
	if err == nil || !strings.Contains(err.Error(), "trafficLayer") || !strings.Contains(err.Error(), `"istio"`) || !strings.Contains(err.Error(), "appmesh, gatewayapi") {
		t.Fatalf("want an error naming trafficLayer, the value and the allowed values, got %v", err)
	}
	if len(res.Owned()) != 0 {
		t.Errorf("%d resources registered despite invalid configuration", len(res.Owned()))
	}
}

func TestMissingSampleSourceIsReported(t *testing.T) {
	_, _, err := runStack(t, map[string]string{config.KeyMicroservices: `["payments"]`})
	if err == nil || !strings.Contains(err.Error(), filepath.Join("microservices", "payments", "specfiles", "build.yml")) || !strings.Contains(err.Error(), "sampleMode") {
		t.Fatalf("want an error naming the missing sample and the fix, got %v", err)
	}
}

// The policy rules read recorded inputs by their Pulumi names; resources
// that break them, registered next to the real stack, must be reported.
func TestPolicyChecksSeeRegisteredInputs(t *testing.T) {
	fx := newFixture(t)
	project, cfg := devConfig(t)
	res, err := offline.Run(project, "dev", cfg, func(ctx *pulumi.Context) error {
		if err := stacks.Program(stacks.Options{
			RepoRoot:      fx.root,
			PackageLambda: func(context.Context) (string, error) { return fx.archive, nil },
		})(ctx); err != nil {
			return err
		}
		role, err := iam.NewRole(ctx, "bad-role", &iam.RoleArgs{AssumeRolePolicy: pulumi.String(`{}`)})
		if err != nil {
			return err
		}
		if _, err := iam.NewRolePolicyAttachment(ctx, "bad-attachment", &iam.RolePolicyAttachmentArgs{
			Role: role.Name, PolicyArn: pulumi.String("arn:aws:iam::aws:policy/AmazonS3FullAccess"),
		}); err != nil {
			return err
		}
		if _, err := iam.NewRolePolicy(ctx, "bad-policy", &iam.RolePolicyArgs{
			Role: role.ID(), Policy: pulumi.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`),
		}); err != nil {
			return err
		}
		if _, err := cloudwatch.NewLogGroup(ctx, "bad-logs", &cloudwatch.LogGroupArgs{}); err != nil {
			return err
		}
		_, err = rbacv1.NewClusterRoleBinding(ctx, "bad-binding", &rbacv1.ClusterRoleBindingArgs{
			RoleRef: &rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String("cluster-admin")},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range policy.Check(res.Owned()) {
		got = append(got, v.Rule+"/"+v.Name)
	}
	want := []string{
		policy.RuleFullAccess + "/bad-attachment",
		policy.RuleWildcardIAM + "/bad-policy",
		policy.RuleClusterAdmin + "/bad-binding",
		policy.RuleLogRetention + "/bad-logs",
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("violations %v, want %v", got, want)
	}
}

// The scrape relabels pod labels app and version into Version the way
// Prometheus does: source labels joined by the separator, the anchored
// regex, the replacement expanded.
func TestPrometheusRelabelsVersion(t *testing.T) {
	var cfg struct {
		ScrapeConfigs []struct {
			RelabelConfigs []struct {
				SourceLabels []string `json:"source_labels"`
				Separator    string   `json:"separator"`
				Regex        string   `json:"regex"`
				Replacement  string   `json:"replacement"`
				TargetLabel  string   `json:"target_label"`
				Action       string   `json:"action"`
			} `json:"relabel_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(insights.PrometheusConfig("yelb")), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.ScrapeConfigs) != 1 {
		t.Fatalf("%d scrape configs", len(cfg.ScrapeConfigs))
	}
	relabel := func(labels map[string]string) (string, bool) {
		for _, rc := range cfg.ScrapeConfigs[0].RelabelConfigs {
			if rc.TargetLabel != insights.VersionLabel {
				continue
			}
			var values []string
			for _, l := range rc.SourceLabels {
				values = append(values, labels[l])
			}
			re := regexp.MustCompile("^(?:" + rc.Regex + ")$")
			joined := strings.Join(values, rc.Separator)
			m := re.FindStringSubmatchIndex(joined)
			if m == nil {
				return "", false
			}
			return string(re.ExpandString(nil, rc.Replacement, joined, m)), true
		}
		t.Fatal("no relabel targets Version")
		return "", false
	}
	got, ok := relabel(map[string]string{"__meta_kubernetes_pod_label_app": "yelb-appserver", "__meta_kubernetes_pod_label_version": "3"})
	if !ok || got != "yelb-appserver-3" {
		t.Errorf("Version = %q (%v), want yelb-appserver-3", got, ok)
	}
	if got, ok := relabel(map[string]string{"__meta_kubernetes_pod_label_app": "ingress-gw"}); ok {
		t.Errorf("a pod without a version label got Version %q", got)
	}

	agent, err := insights.AgentConfig("canary-dev", "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Logs struct {
			MetricsCollected struct {
				Prometheus struct {
					LogGroupName string `json:"log_group_name"`
					EMF          struct {
						Declarations []struct {
							SourceLabels []string   `json:"source_labels"`
							LabelMatcher string     `json:"label_matcher"`
							Dimensions   [][]string `json:"dimensions"`
						} `json:"metric_declaration"`
					} `json:"emf_processor"`
				} `json:"prometheus"`
			} `json:"metrics_collected"`
		} `json:"logs"`
	}
	if err := json.Unmarshal([]byte(agent), &a); err != nil {
		t.Fatal(err)
	}
	p := a.Logs.MetricsCollected.Prometheus
	if p.LogGroupName != "/aws/containerinsights/canary-dev/prometheus" || len(p.EMF.Declarations) != 1 ||
		!slices.Contains(p.EMF.Declarations[0].Dimensions[0], "Version") ||
		!regexp.MustCompile(p.EMF.Declarations[0].LabelMatcher).MatchString("envoy;ingress") ||
		regexp.MustCompile(p.EMF.Declarations[0].LabelMatcher).MatchString("envoy;egress") {
		t.Errorf("agent configuration %+v", p)
	}
}

const (
	tZone       = "aws:route53/zone:Zone"
	tZoneAssoc  = "aws:route53/zoneAssociation:ZoneAssociation"
	tSN         = "aws:vpclattice/serviceNetwork:ServiceNetwork"
	tSecret     = "kubernetes:core/v1:Secret"
	tDeployment = "kubernetes:apps/v1:Deployment"
)

// The default layer end to end: a private zone for the stack domain, the
// engine told that domain, a service network of the stack's own, the
// controller pointed at it, and the public entry forwarding to the ingress
// microservice's stable name.
func TestGatewayAPIStableNamesAndPublicEntry(t *testing.T) {
	res, out := mustRun(t, nil)
	zone := find(t, res, tZone, "dns-zone")
	if zone.Inputs["name"] != "canary-dev.internal" || get(zone.Inputs, "vpcs", 0, "vpcId") == nil {
		t.Errorf("hosted zone %v", zone.Inputs)
	}
	dnsRelease := find(t, res, tRelease, "dns-external-dns")
	if get(dnsRelease.Inputs, "values", "txtOwnerId") != "canary-dev" || !slices.Equal(strs(get(dnsRelease.Inputs, "values", "domainFilters")), []string{"canary-dev.internal"}) {
		t.Errorf("external-dns values %v", dnsRelease.Inputs["values"])
	}
	sn := find(t, res, tSN, "traffic-service-network")
	if sn.Inputs["name"] != "canary-dev-services" {
		t.Errorf("service network %q, want canary-dev-services (per stack)", sn.Inputs["name"])
	}
	ctrl := find(t, res, tRelease, "traffic-gateway-controller")
	if get(ctrl.Inputs, "values", "defaultServiceNetwork") != "canary-dev-services" || get(ctrl.Inputs, "values", "enableServiceNetworkOverride") != true ||
		get(ctrl.Inputs, "values", "installExternalDNSCRD") != false {
		t.Errorf("controller values %v: the Gateway %s must map to the stack's network", ctrl.Inputs["values"], contract.GatewayName)
	}
	for _, dep := range []policy.Resource{find(t, res, tConfigGroup, "dns-dnsendpoint-crd"), sn, find(t, res, "aws:vpclattice/serviceNetworkVpcAssociation:ServiceNetworkVpcAssociation", "traffic-vpc-association")} {
		if !dependsOn(res, ctrl.URN, dep.URN) {
			t.Errorf("the Gateway API Controller starts before %s", dep.Name)
		}
	}
	appNs := find(t, res, tNamespace, "traffic-app-namespace")
	if !dependsOn(res, appNs.URN, dnsRelease.URN) {
		t.Error("the application namespace (DNSEndpoints) must be deleted before ExternalDNS")
	}
	labels, _ := get(appNs.Inputs, "metadata", "labels").(map[string]any)
	if labels["pod-security.kubernetes.io/enforce"] != "baseline" || labels["pod-security.kubernetes.io/warn"] != "restricted" || labels["pod-security.kubernetes.io/audit"] != "restricted" {
		t.Errorf("application namespace Pod Security labels %v", labels)
	}
	env, _ := get(find(t, res, tLambda, "deployer-step").Inputs, "environment", "variables").(map[string]any)
	if env[contract.EnvServiceDomain] != "canary-dev.internal" {
		t.Errorf("engine %s = %v", contract.EnvServiceDomain, env[contract.EnvServiceDomain])
	}
	conf := str(get(find(t, res, tConfigMap, "public-ingress-config").Inputs, "data", "nginx.conf"))
	if !strings.Contains(conf, "set $upstream yelb-ui.yelb.canary-dev.internal;") {
		t.Errorf("the proxy does not forward to yelb-ui's stable name:\n%s", conf)
	}
	if out.applicationURL == "" {
		t.Error("applicationUrl is empty")
	}
	if len(res.ByType(tSecret)) != 1 || find(t, res, tSecret, "sample-db-credentials").Parent != find(t, res, "canary:infra:Sample", "sample").URN {
		t.Error("the sample database Secret is not the sample component's")
	}
}

func TestAppMeshPublicEntryAndPodSecurity(t *testing.T) {
	res, out := mustRun(t, map[string]string{config.KeyTrafficLayer: contract.RouterAppMesh})
	if len(res.ByType(tZone)) != 0 || len(res.ByType(tSN)) != 0 {
		t.Error("app mesh stack creates VPC Lattice names")
	}
	if get(find(t, res, tService, "traffic-ingress-service").Inputs, "spec", "type") != "ClusterIP" {
		t.Error("the mesh gateway keeps a load balancer of its own: one public load balancer per stack")
	}
	conf := str(get(find(t, res, tConfigMap, "public-ingress-config").Inputs, "data", "nginx.conf"))
	if !strings.Contains(conf, "set $upstream ingress-gw.yelb.svc.cluster.local;") {
		t.Errorf("the proxy does not forward to the mesh gateway:\n%s", conf)
	}
	if !strings.HasPrefix(out.applicationURL, "http://") {
		t.Errorf("applicationUrl %q", out.applicationURL)
	}
	labels, _ := get(find(t, res, tNamespace, "traffic-app-namespace").Inputs, "metadata", "labels").(map[string]any)
	if labels["pod-security.kubernetes.io/enforce"] != "privileged" || labels["pod-security.kubernetes.io/warn"] != "restricted" {
		t.Errorf("app mesh namespace Pod Security labels %v", labels)
	}
	env, _ := get(find(t, res, tLambda, "deployer-step").Inputs, "environment", "variables").(map[string]any)
	if _, ok := env[contract.EnvServiceDomain]; ok {
		t.Error("app mesh engine told a VPC Lattice service domain")
	}
}

func TestPrivatePlatformExistingZoneAndNoSample(t *testing.T) {
	for _, layer := range contract.Routers() {
		res, out := mustRun(t, map[string]string{config.KeyTrafficLayer: layer, config.KeyPublicIngress: "false", config.KeySampleMode: "false"})
		for _, s := range res.ByType(tService) {
			if get(s.Inputs, "spec", "type") == "LoadBalancer" {
				t.Errorf("%s: publicIngress false still creates load balancer %s", layer, s.Name)
			}
		}
		if out.applicationURL != "" || len(res.ByType("canary:infra:PublicIngress")) != 0 {
			t.Errorf("%s: private platform has applicationUrl %q", layer, out.applicationURL)
		}
		if len(res.ByType(tSecret)) != 0 || len(res.ByType("canary:infra:Sample")) != 0 {
			t.Errorf("%s: sampleMode false still creates Yelb objects", layer)
		}
	}
	res, _ := mustRun(t, map[string]string{config.KeyHostedZoneID: "Z0EXAMPLEPRIVATE", config.KeyServiceDomain: "canary-dev.corp.internal"})
	if len(res.ByType(tZone)) != 0 {
		t.Error("a zone was created although hostedZoneId names one")
	}
	if a := find(t, res, tZoneAssoc, "dns-zone-association"); a.Inputs["zoneId"] != "Z0EXAMPLEPRIVATE" {
		t.Errorf("zone association %v", a.Inputs)
	}
	env, _ := get(find(t, res, tLambda, "deployer-step").Inputs, "environment", "variables").(map[string]any)
	if env[contract.EnvServiceDomain] != "canary-dev.corp.internal" {
		t.Errorf("engine service domain %v", env[contract.EnvServiceDomain])
	}
	if _, _, err := runStack(t, map[string]string{config.KeyHostedZoneID: "Z0EXAMPLEPRIVATE", config.KeyServiceDomain: "other.internal"}); err == nil ||
		!strings.Contains(err.Error(), "serviceDomain other.internal") {
		t.Errorf("a service domain outside the named zone gave %v", err)
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
