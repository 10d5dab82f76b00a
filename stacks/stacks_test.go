package stacks_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/policy"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks"
	"github.com/eks-canary/platform/stacks/config"
	"github.com/eks-canary/platform/stacks/offline"
)

// The whole environment under the mocks: what only the composition decides
// (config reaching the components, start-up and teardown order across
// components, the stack outputs, naming and parenting of every resource).
// What one component creates is tested beside it, in infra/<component>.

// Resource types the assertions look up beyond pulumitest's.
const (
	tCluster    = "canary:infra:Cluster"
	tTraffic    = "canary:infra:Traffic"
	tInsights   = "canary:infra:Insights"
	tDeployer   = "canary:infra:Deployer"
	tPipeline   = "canary:infra:MicroservicePipeline"
	tZone       = "aws:route53/zone:Zone"
	tZoneAssoc  = "aws:route53/zoneAssociation:ZoneAssociation"
	tSN         = "aws:vpclattice/serviceNetwork:ServiceNetwork"
	tVpcAssoc   = "aws:vpclattice/serviceNetworkVpcAssociation:ServiceNetworkVpcAssociation"
	tPublic     = "canary:infra:PublicIngress"
	tSample     = "canary:infra:Sample"
	engineEnv   = "environment.variables."
	stepLambda  = "deployer-step"
	proxyConfig = `data["nginx.conf"]`
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
		shared.root, shared.archive, fixtureErr = pt.RepoFixture(append(defaultServices, "orders"))
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
	project, cfg, _, err := config.ReadStackFile("..", "dev")
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
		k = config.FullKey(project, k)
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
		c, err := config.Load(ctx.Stack(), config.FromContext(ctx))
		if err != nil {
			return err
		}
		env, err := stacks.Deploy(ctx, c, opts)
		if err != nil {
			return err
		}
		await := func(o pulumi.Output) (any, bool) {
			v, secret, err := pt.Await(ctx, o)
			if err != nil {
				t.Error(err)
			}
			return v, secret
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

// order is one dependency the composition must create: from waits for to
// (and, on destroy, goes first).
type order struct {
	fromType, from, toType, to string
	why                        string
}

func checkOrder(t *testing.T, res *offline.Result, orders []order) {
	t.Helper()
	for _, o := range orders {
		from, to := pt.Find(t, res, o.fromType, o.from), pt.Find(t, res, o.toType, o.to)
		if !pt.DependsOn(res, from.URN, to.URN) {
			t.Errorf("%s %q does not depend on %s %q: %s", from.Type, from.Name, to.Type, to.Name, o.why)
		}
	}
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
			for typ, n := range map[string]int{tCluster: 1, tTraffic: 1, tInsights: 1, tDeployer: 1, tPipeline: 4, pt.TypeEKS: 1, pt.TypeNodeGroup: 1} {
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
				if strings.HasPrefix(r.Type, "pulumi:providers:") && r.Type != pt.TypeK8sProvider {
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
			for _, s := range res.ByType(pt.TypeService) {
				if pt.MustGet(s.Inputs, "spec.type") == "LoadBalancer" {
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

// The dev configuration reaches every component; x86 nodes change the AMI
// and the build image together.
func TestConfigReachesTheComponents(t *testing.T) {
	res, _ := mustRun(t, nil)
	rows := []pt.Row{
		pt.R(pt.TypeLambda, stepLambda, "code", newFixture(t).archive, "the engine zip PackageLambda built"),
		pt.R(pt.TypeLambda, "deployer-rollback-aborted", "code", newFixture(t).archive, "the same zip for the rollback entry point"),
		pt.R(pt.TypeBucketObject, "yelb-appserver-seed", "source", pt.Contains(filepath.Join("build", "seed", "yelb-appserver.zip")), "sample mode seeds from the zip of microservices/<name>"),
		pt.R(pt.TypeEKS, "cluster-eks", "name", "canary-dev", "clusterName"),
		pt.R(pt.TypeEKS, "cluster-eks", "privateSubnetIds", pt.Len(3), "availabilityZones 3"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "amiType", "AL2023_ARM_64_STANDARD", "t4g.medium is Graviton"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "instanceTypes", []string{"t4g.medium"}, "nodeInstanceType"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "scalingConfig.desiredSize", 3, "nodeCount"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "scalingConfig.minSize", 2, "nodeMinCount"),
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "scalingConfig.maxSize", 5, "nodeMaxCount"),
		pt.R(pt.TypeLogGroup, "cluster-control-plane-logs", "retentionInDays", 14, "logRetentionDays"),
		pt.R(pt.TypeLogGroup, "deployer-step-logs", "retentionInDays", 14, "logRetentionDays"),
		pt.R(pt.TypeLogGroup, "yelb-ui-build-logs", "retentionInDays", 14, "logRetentionDays"),
		pt.R(pt.TypeStateMachine, "deployer-state-machine", "definition", pt.Contains(`"TimeoutSeconds": 7200`), "rolloutTimeoutSeconds"),
		pt.R(pt.TypeGateway, "traffic-gateway", "metadata.namespace", "yelb", "namespace"),
		pt.R(pt.TypeK8sRole, "deployer-k8s-role", "metadata.namespace", "yelb", "namespace"),
		pt.R(tZone, "dns-zone", "name", "canary-dev.internal", "serviceDomain"),
		pt.R(pt.TypeRelease, "dns-external-dns", "values.txtOwnerId", "canary-dev", "clusterName owns the records"),
		pt.R(tSN, "traffic-service-network", "name", "canary-dev-services", "the service network is named after clusterName"),
		pt.R(pt.TypeLambda, stepLambda, engineEnv+contract.EnvServiceDomain, "canary-dev.internal", "the engine renders serviceDomain into templates"),
		pt.R(pt.TypeConfigMap, "public-ingress-config", proxyConfig, pt.Contains("set $upstream yelb-ui.yelb.canary-dev.internal;"), "the public entry serves ingressService's stable name"),
		pt.R(pt.TypeCodePipeline, "yelb-ui-pipeline", "stages[0].actions[0].configuration.BranchName", "main", "branch"),
		pt.R(pt.TypeCodePipeline, "yelb-ui-pipeline", "stages[2].name", "Deploy", "manualApproval false: no approval"),
		pt.R(pt.TypeCodeBuild, "yelb-ui-build", "environment.computeType", "BUILD_GENERAL1_SMALL", "buildComputeType"),
		pt.R(pt.TypeCodeBuild, "yelb-ui-build", "environment.image", "aws/codebuild/amazonlinux2-aarch64-standard:3.0", "arm64 nodes get arm64 builds"),
	}
	for _, svc := range defaultServices {
		rows = append(rows, pt.R(pt.TypeCodeBuild, svc+"-build", "environment.environmentVariables[4].value", contract.RouterGatewayAPI, "TRAFFIC_ROUTER is trafficLayer"),
			pt.R(pt.TypeCFNStack, svc+"-source", "name", "canary-dev-"+svc+"-source", "sample mode seeds every repository"))
	}
	pt.Check(t, res, rows)
	if n := len(res.ByType(pt.TypeSecret)); n != 1 {
		t.Errorf("%d Secrets, want the sample's one", n)
	}
	if s := pt.Find(t, res, pt.TypeSecret, "sample-db-credentials"); s.Parent != pt.Find(t, res, tSample, "sample").URN {
		t.Error("the sample database Secret is not the sample component's")
	}

	x86, _ := mustRun(t, map[string]string{config.KeyInstanceType: "m6i.large", config.KeyBuildComputeType: "BUILD_GENERAL1_MEDIUM"})
	pt.Check(t, x86, []pt.Row{
		pt.R(pt.TypeNodeGroup, "cluster-nodes", "amiType", "AL2023_x86_64_STANDARD", "m6i.large is x86_64"),
		pt.R(pt.TypeCodeBuild, "yelb-ui-build", "environment.image", "aws/codebuild/standard:7.0", "x86_64 nodes get x86_64 builds"),
		pt.R(pt.TypeCodeBuild, "yelb-ui-build", "environment.computeType", "BUILD_GENERAL1_MEDIUM", "buildComputeType"),
		pt.R(pt.TypeCodeBuild, "yelb-ui-build", "environment.environmentVariables[5].value", "linux/amd64", "IMAGE_PLATFORM"),
	})
}

// Start-up and teardown order across components: every Kubernetes object on
// the cluster's provider (so it goes before the nodes), controllers after
// what they use, and objects a controller reconciles before the controller.
func TestOrderAcrossComponents(t *testing.T) {
	res, _ := mustRun(t, nil)
	checkOrder(t, res, []order{
		{pt.TypePodIdentity, "traffic-gateway-controller", pt.TypeAddon, "cluster-pod-identity-agent", "Pod Identity works before the controller starts"},
		{pt.TypeAddon, "insights-observability", pt.TypeAddon, "cluster-pod-identity-agent", "the CloudWatch agent gets its role"},
		{pt.TypeRelease, "traffic-gateway-controller", pt.TypeConfigGroup, "dns-dnsendpoint-crd", "the controller writes DNSEndpoints only if their CRD exists when it starts"},
		{pt.TypeNamespace, "traffic-app-namespace", pt.TypeRelease, "dns-external-dns", "routes' records go while ExternalDNS runs"},
		{pt.TypeK8sRole, "deployer-k8s-role", pt.TypeNamespace, "traffic-app-namespace", "the engine's Role lives in the application namespace"},
		{pt.TypeSecret, "sample-db-credentials", pt.TypeNamespace, "traffic-app-namespace", "the sample's Secret lives there too"},
		{pt.TypeService, "public-ingress-service", pt.TypeNodeGroup, "cluster-nodes", "the NLB goes before the nodes and the VPC"},
		{pt.TypeRelease, "dns-external-dns", pt.TypeNodeGroup, "cluster-nodes", "charts install on running nodes"},
	})

	mesh, _ := mustRun(t, map[string]string{config.KeyTrafficLayer: contract.RouterAppMesh})
	checkOrder(t, mesh, []order{
		{pt.TypeService, "traffic-ingress-service", pt.TypeNodeGroup, "cluster-nodes", "mesh objects go before the nodes"},
		{pt.TypeMetricFilter, "yelb-appserver-errors-5xx-filter", pt.TypeLogGroup, "insights-prometheus-logs", "the metric filters read the Prometheus log group"},
		{pt.TypeK8sRole, "insights-prometheus-discovery", pt.TypeNamespace, "traffic-app-namespace", "the scraper discovers pods in the application namespace"},
	})
}

func TestAppMeshLayerWiring(t *testing.T) {
	res, out := mustRun(t, map[string]string{config.KeyTrafficLayer: contract.RouterAppMesh})
	if n := len(res.ByType(pt.TypeMetricFilter)); n != 2*len(defaultServices) {
		t.Errorf("%d metric filters, want 2 per microservice", n)
	}
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeConfigMap, "public-ingress-config", proxyConfig, pt.Contains("set $upstream ingress-gw.yelb.svc.cluster.local;"), "the public entry forwards to the mesh gateway"),
		pt.R(pt.TypeMetricFilter, "yelb-ui-requests-filter", "logGroupName", "/aws/containerinsights/canary-dev/prometheus", "the pipelines read what the insights agent writes"),
		pt.R(pt.TypeLambda, stepLambda, engineEnv+contract.EnvServiceDomain, pt.Absent, "App Mesh has no VPC Lattice names"),
		pt.R(pt.TypeLambda, stepLambda, engineEnv+contract.EnvAllowedServiceAccounts, contract.AppMeshEnvoyServiceAccount, "meshed pods may run as Envoy's account"),
		pt.R(pt.TypeCodeBuild, "yelb-ui-build", "environment.environmentVariables[4].value", contract.RouterAppMesh, "TRAFFIC_ROUTER"),
	})
	if len(res.ByType(tZone)) != 0 || len(res.ByType(tSN)) != 0 {
		t.Error("the App Mesh stack creates VPC Lattice names")
	}
	if !strings.HasPrefix(out.applicationURL, "http://") {
		t.Errorf("applicationUrl %q", out.applicationURL)
	}
}

func TestGatewayAPILayerWiring(t *testing.T) {
	res, _ := mustRun(t, nil)
	if n := len(res.ByType(pt.TypeMetricFilter)); n != 0 {
		t.Errorf("%d App Mesh metric filters on the Gateway API layer", n)
	}
	if n := len(res.ByType(pt.TypeDeployment)); n != 1 {
		t.Errorf("%d Deployments, want the public entry's proxy only (no Prometheus scraper, no mesh gateway)", n)
	}
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeRelease, "traffic-gateway-controller", "values.defaultServiceNetwork", "canary-dev-services", "the controller maps Gateways to the stack's network"),
		pt.R(pt.TypeLambda, stepLambda, engineEnv+contract.EnvAllowedServiceAccounts, pt.Absent, "no extra service accounts without App Mesh"),
	})
}

func TestPrivatePlatformExistingZoneAndNoSample(t *testing.T) {
	for _, layer := range contract.Routers() {
		res, out := mustRun(t, map[string]string{config.KeyTrafficLayer: layer, config.KeyPublicIngress: "false", config.KeySampleMode: "false"})
		for _, s := range res.ByType(pt.TypeService) {
			if pt.MustGet(s.Inputs, "spec.type") == "LoadBalancer" {
				t.Errorf("%s: publicIngress false still creates load balancer %s", layer, s.Name)
			}
		}
		if out.applicationURL != "" || len(res.ByType(tPublic)) != 0 {
			t.Errorf("%s: private platform has applicationUrl %q", layer, out.applicationURL)
		}
		if len(res.ByType(pt.TypeSecret)) != 0 || len(res.ByType(tSample)) != 0 {
			t.Errorf("%s: sampleMode false still creates Yelb objects", layer)
		}
	}
	res, _ := mustRun(t, map[string]string{config.KeyHostedZoneID: "Z0EXAMPLEPRIVATE", config.KeyServiceDomain: "canary-dev.corp.internal"})
	if len(res.ByType(tZone)) != 0 {
		t.Error("a zone was created although hostedZoneId names one")
	}
	pt.Check(t, res, []pt.Row{
		pt.R(tZoneAssoc, "dns-zone-association", "zoneId", "Z0EXAMPLEPRIVATE", "hostedZoneId is associated with the cluster VPC"),
		pt.R(pt.TypeLambda, stepLambda, engineEnv+contract.EnvServiceDomain, "canary-dev.corp.internal", "serviceDomain reaches the engine"),
	})
	if _, _, err := runStack(t, map[string]string{config.KeyHostedZoneID: "Z0EXAMPLEPRIVATE", config.KeyServiceDomain: "other.internal"}); err == nil ||
		!strings.Contains(err.Error(), "serviceDomain other.internal") {
		t.Errorf("a service domain outside the named zone gave %v", err)
	}
}

func TestUnseededRepositoriesAndExtraMicroservice(t *testing.T) {
	res, out := mustRun(t, map[string]string{config.KeySampleMode: "false", config.KeyMicroservices: `["orders"]`})
	if len(res.ByType(pt.TypeCFNStack)) != 0 || len(res.ByType(tPipeline)) != 1 {
		t.Fatalf("%d seeded stacks, %d pipelines", len(res.ByType(pt.TypeCFNStack)), len(res.ByType(tPipeline)))
	}
	repo := pt.Find(t, res, pt.TypeCodeCommit, "orders-source")
	if repo.Inputs["repositoryName"] != "orders" || out.cloneURLs["orders"] != "https://git-codecommit.us-west-2.amazonaws.com/v1/repos/orders" {
		t.Errorf("repository %v clone %v", repo.Inputs, out.cloneURLs)
	}
}

// TestHookFunctionsAreTheOnlyOnesInvoked: the state machine may invoke
// exactly the hook functions of the stack configuration, and the engine is
// told the same list.
func TestHookFunctionsAreTheOnlyOnesInvoked(t *testing.T) {
	exact := "arn:aws:lambda:us-west-2:" + offline.Account + ":function:acceptance"
	prefix := "arn:aws:lambda:us-west-2:" + offline.Account + ":function:canary-hook-*"
	res, _ := mustRun(t, map[string]string{config.KeyHookFunctions: `["` + exact + `", "` + prefix + `"]`})
	sm := pt.Statements(t, pt.Str(pt.Find(t, res, pt.TypeRolePolicy, "deployer-state-machine-policy").Inputs, "policy"))
	s := sm["InvokeHookFunctions"]
	if !slices.Equal(s.Action, []string{"lambda:InvokeFunction"}) || !slices.Equal(s.Resource, []string{exact, exact + ":*", prefix}) {
		t.Errorf("state machine policy: statement InvokeHookFunctions %+v, want exactly the configured functions", s)
	}
	step := pt.Find(t, res, pt.TypeLambda, "deployer-step")
	if got := pt.Str(step.Inputs, `environment.variables["`+contract.EnvHookFunctions+`"]`); got != exact+","+prefix {
		t.Errorf("engine %s = %q, want the configured functions", contract.EnvHookFunctions, got)
	}
	if _, _, err := runStack(t, map[string]string{config.KeyHookFunctions: `["acceptance"]`}); err == nil || !strings.Contains(err.Error(), "config hookFunctions") {
		t.Errorf("a function name instead of an ARN: %v", err)
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
