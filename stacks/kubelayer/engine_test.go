package kubelayer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"

	"github.com/eks-canary/platform/infra/deployer/enginerbac"
	"github.com/eks-canary/platform/infra/edge"
	"github.com/eks-canary/platform/infra/kubeinstall"
	"github.com/eks-canary/platform/infra/sample"
	"github.com/eks-canary/platform/infra/traffic"
	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/internal/upstream"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks/config"
	"github.com/eks-canary/platform/stacks/kubelayer"
)

// engineBinEnv names the folder scripts/build-pulumi-engine.sh prints; make
// test sets it.
const engineBinEnv = "CANARY_PULUMI_ENGINE_BIN"

// The stack installs every CRD itself, so the plane starts with none.
var plane = testcluster.Shared{Options: testcluster.Options{NoCRDs: true}}

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

// TestTheRealEngineDeploysAndDestroysTheKubernetesLayer runs the stack's
// Kubernetes layer, for each traffic layer, under the real Pulumi engine and
// the real Kubernetes provider against the local API server: up, a second up
// that changes nothing, one stack key changed, destroy.
func TestTheRealEngineDeploysAndDestroysTheKubernetesLayer(t *testing.T) {
	bin := os.Getenv(engineBinEnv)
	if bin == "" {
		t.Fatalf("%s is not set: run `export %s=$(scripts/build-pulumi-engine.sh)` from the repository root "+
			"(it builds the Pulumi CLI and the Kubernetes provider once into a cache folder and prints it), or run make test", engineBinEnv, engineBinEnv)
	}
	c := plane.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	admitEverything(t, ctx, c.Dynamic)
	provisionLoadBalancers(ctx, c.Dynamic)

	for _, layer := range []string{contract.RouterAppMesh, contract.RouterGatewayAPI} {
		t.Run(layer, func(t *testing.T) { deployAndDestroy(t, ctx, c, bin, layer) })
	}
}

func deployAndDestroy(t *testing.T, ctx context.Context, c *testcluster.Cluster, bin, layer string) {
	root, err := upstream.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	project, values, _, err := config.ReadStackFile(root, "dev")
	if err != nil {
		t.Fatal(err)
	}
	values[project+":"+config.KeyTrafficLayer] = layer
	cfg, err := config.Load("dev", func(k string) (string, bool) {
		v, ok := values[config.FullKey(project, k)]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	charts, err := vendoredCharts()
	if err != nil {
		t.Fatal(err)
	}

	before := snapshot(t, ctx, c)
	stack := newStack(t, ctx, bin, project, program(string(kubeconfig), charts))
	destroyed := false
	t.Cleanup(func() {
		// What a failed step left must not meet the next layer.
		if !destroyed {
			if _, err := stack.Destroy(context.Background()); err != nil {
				t.Logf("destroy after a failure: %v", err)
			}
		}
	})
	conf := auto.ConfigMap{}
	for k, v := range values {
		conf[k] = auto.ConfigValue{Value: v}
	}
	if err := stack.SetAllConfig(ctx, conf); err != nil {
		t.Fatal(err)
	}

	upEvents := make(chan events.EngineEvent)
	upOrder := collectOrder(upEvents)
	up, err := stack.Up(ctx, optup.EventStreams(upEvents))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	checkDeployed(t, ctx, c, cfg, up)
	checkOrder(t, "up", <-upOrder, createOrder(layer))

	var log bytes.Buffer
	if _, err := stack.Up(ctx, optup.ExpectNoChanges(), optup.ProgressStreams(&log)); err != nil {
		t.Fatalf("a second up with nothing changed must change nothing: %v\n%s", err, log.String())
	}

	// One key, one object: a set dbPassword replaces the generated one in
	// the sample's Secret, and nothing else moves. The provider replaces a
	// Secret whose data changes (so workloads that name it roll); a named
	// one is deleted before it is created again.
	if err := stack.SetConfig(ctx, project+":"+config.KeyDBPassword, auto.ConfigValue{Value: "a-password-set-by-the-team", Secret: true}); err != nil {
		t.Fatal(err)
	}
	changes := make(chan events.EngineEvent)
	got := collectSteps(changes)
	if _, err := stack.Up(ctx, optup.EventStreams(changes)); err != nil {
		t.Fatalf("up with dbPassword set: %v", err)
	}
	const secret = "kubernetes:core/v1:Secret sample-db-credentials"
	want := []string{"create-replacement " + secret, "delete-replaced " + secret, "replace " + secret}
	if steps := <-got; !slices.Equal(steps, want) {
		t.Errorf("setting dbPassword changed %q, want only %q", steps, want)
	}
	live, err := c.Clientset.CoreV1().Secrets(cfg.Namespace).Get(ctx, sample.DBCredentialsSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := string(live.Data["password"]); p != "a-password-set-by-the-team" {
		t.Errorf("Secret %s holds password %q, want the configured one", sample.DBCredentialsSecret, p)
	}

	destroyEvents := make(chan events.EngineEvent)
	destroyOrder := collectOrder(destroyEvents)
	if _, err := stack.Destroy(ctx, optdestroy.EventStreams(destroyEvents)); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	destroyed = true
	checkOrder(t, "destroy", <-destroyOrder, deleteOrder(layer))
	after := snapshot(t, ctx, c)
	left, gone := difference(after, before), difference(before, after)
	helmKept, err := helmKeptCRDs(layer)
	if err != nil {
		t.Fatal(err)
	}
	// Helm never deletes what a chart's crds/ folder installed, so that
	// uninstalling a controller cannot delete every object of its kinds;
	// docs/operations.md says how to remove them.
	if !slices.Equal(left, helmKept) {
		t.Errorf("destroy left %d objects, want only the %d CRDs Helm keeps and their APIServices:\n  left: %s\n  want: %s",
			len(left), len(helmKept), strings.Join(left, "\n        "), strings.Join(helmKept, "\n        "))
	}
	if len(gone) > 0 {
		t.Errorf("the stack removed objects it did not create: %s", strings.Join(gone, ", "))
	}
}

// program is the layer as stacks.Deploy composes it, with the local API
// server as its cluster, plain AWS values and the vendored charts.
func program(kubeconfig string, charts kubeinstall.ChartDirs) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := config.Load(ctx.Stack(), config.FromContext(ctx))
		if err != nil {
			return err
		}
		provider, err := kubernetes.NewProvider(ctx, "local-cluster", &kubernetes.ProviderArgs{Kubeconfig: pulumi.String(kubeconfig)})
		if err != nil {
			return err
		}
		inCluster := pulumi.Providers(provider)
		layer, err := kubelayer.Deploy(ctx, cfg, kubelayer.Inputs{
			ClusterName:  pulumi.String(cfg.ClusterName),
			AccountId:    pulumi.String(accountID),
			VpcId:        pulumi.String(vpcID),
			TrafficCloud: plainTraffic{},
			DNSCloud:     plainDNS{},
			Charts:       charts,
			InCluster:    inCluster,
		})
		if err != nil {
			return err
		}
		if err := enginerbac.New(ctx, "deployer", &enginerbac.Args{Namespace: cfg.Namespace, NamespaceResource: layer.Traffic.AppNamespace}, inCluster); err != nil {
			return err
		}
		ctx.Export("applicationUrl", layer.ApplicationURL)
		return nil
	}
}

// newStack is a stack of the inline program on a local state backend, run
// by the CLI in bin/bin with the provider found beside it.
func newStack(t *testing.T, ctx context.Context, bin, project string, prog pulumi.RunFunc) auto.Stack {
	t.Helper()
	cli, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: bin, SkipVersionCheck: true})
	if err != nil {
		t.Fatalf("the Pulumi CLI in %s/bin: %v (rebuild it: scripts/build-pulumi-engine.sh)", bin, err)
	}
	state, home := t.TempDir(), t.TempDir()
	stack, err := auto.UpsertStackInlineSource(ctx, "dev", project, prog,
		auto.Pulumi(cli),
		auto.PulumiHome(home),
		auto.SecretsProvider("passphrase"),
		auto.EnvVars(map[string]string{
			"PULUMI_BACKEND_URL":       "file://" + state,
			"PULUMI_CONFIG_PASSPHRASE": "local state of a test",
			"PULUMI_SKIP_UPDATE_CHECK": "true",
			// The engine finds pulumi-resource-kubernetes on PATH.
			"PATH": filepath.Join(bin, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		}),
	)
	if err != nil {
		t.Fatalf("create stack: %v", err)
	}
	return stack
}

// checkDeployed asserts the layer's objects on the API server after up.
func checkDeployed(t *testing.T, ctx context.Context, c *testcluster.Cluster, cfg config.Config, up auto.UpResult) {
	t.Helper()
	type ns struct {
		name, enforce string
	}
	namespaces := []ns{{cfg.Namespace, traffic.PodSecurityBaseline}, {edge.IngressNamespace, traffic.PodSecurityRestricted}}
	releases := map[string]string{traffic.GatewayControllerNamespace: traffic.GatewayControllerSA, edge.ExternalDNSNamespace: edge.ExternalDNSChart}
	if cfg.TrafficLayer == contract.RouterAppMesh {
		namespaces[0].enforce = traffic.PodSecurityPrivileged
		releases = map[string]string{traffic.AppMeshSystemNamespace: traffic.AppMeshChart}
	} else {
		namespaces = append(namespaces, ns{edge.ExternalDNSNamespace, traffic.PodSecurityRestricted})
	}
	for _, n := range namespaces {
		live, err := c.Clientset.CoreV1().Namespaces().Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("namespace %s: %v", n.name, err)
			continue
		}
		if got := live.Labels["pod-security.kubernetes.io/enforce"]; got != n.enforce {
			t.Errorf("namespace %s enforces Pod Security %q, want %q", n.name, got, n.enforce)
		}
		if got := live.Labels["pod-security.kubernetes.io/warn"]; got != traffic.PodSecurityRestricted {
			t.Errorf("namespace %s warns at Pod Security %q, want %q", n.name, got, traffic.PodSecurityRestricted)
		}
	}
	for namespace, release := range releases {
		list, err := c.Clientset.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + release + ",status=deployed"})
		if err != nil || len(list.Items) != 1 {
			t.Errorf("Helm release %s/%s is not deployed (%d release records, %v)", namespace, release, len(list.Items), err)
		}
	}
	objects := []liveObject{
		{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, cfg.Namespace, enginerbac.Group},
		{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, cfg.Namespace, enginerbac.Group},
		{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, cfg.Namespace, sample.DBCredentialsSecret},
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, edge.IngressNamespace, edge.ProxyName},
	}
	if cfg.TrafficLayer == contract.RouterAppMesh {
		mesh := func(r string) schema.GroupVersionResource {
			return schema.GroupVersionResource{Group: "appmesh.k8s.aws", Version: "v1beta2", Resource: r}
		}
		objects = append(objects,
			liveObject{mesh("meshes"), "", cfg.Namespace},
			liveObject{mesh("virtualgateways"), cfg.Namespace, traffic.IngressGateway},
			liveObject{mesh("gatewayroutes"), cfg.Namespace, cfg.IngressService},
		)
	} else {
		gw := func(r string) schema.GroupVersionResource {
			return schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: r}
		}
		objects = append(objects,
			liveObject{gw("gatewayclasses"), "", traffic.GatewayClass},
			liveObject{gw("gateways"), cfg.Namespace, contract.GatewayName},
		)
	}
	for _, o := range objects {
		if _, err := c.Dynamic.Resource(o.gvr).Namespace(o.namespace).Get(ctx, o.name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s %s/%s after up: %v", o.gvr.Resource, o.namespace, o.name, err)
		}
	}
	url, ok := up.Outputs["applicationUrl"].Value.(string)
	if want := "http://" + edge.ProxyName; !ok || !strings.HasPrefix(url, want) {
		t.Errorf("applicationUrl = %v, want the load balancer's name, %s…", up.Outputs["applicationUrl"].Value, want)
	}
}

// liveObject names one object on the API server.
type liveObject struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
}

// collectSteps gathers the non-trivial steps of one engine run as
// "<op> <type> <name>", sorted, once the stream closes.
func collectSteps(ch <-chan events.EngineEvent) <-chan []string {
	out := make(chan []string, 1)
	go func() {
		var steps []string
		for ev := range ch {
			pre := ev.ResourcePreEvent
			if pre == nil || pre.Metadata.Op == apitype.OpSame || pre.Metadata.Op == apitype.OpRead {
				continue
			}
			steps = append(steps, fmt.Sprintf("%s %s %s", pre.Metadata.Op, pre.Metadata.Type, resourceName(pre.Metadata.URN)))
		}
		sort.Strings(steps)
		out <- steps
	}()
	return out
}

// resourceName is the logical name at the end of a URN.
func resourceName(urn string) string { return urn[strings.LastIndex(urn, "::")+2:] }

// collectOrder records, in the engine's order, when each resource's step
// began ("start <name>") and ended ("done <name>"), once the stream closes.
func collectOrder(ch <-chan events.EngineEvent) <-chan []string {
	out := make(chan []string, 1)
	go func() {
		var order []string
		for ev := range ch {
			if ev.ResourcePreEvent != nil && ev.ResourcePreEvent.Metadata.Op != apitype.OpSame {
				order = append(order, "start "+resourceName(ev.ResourcePreEvent.Metadata.URN))
			}
			if ev.ResOutputsEvent != nil && ev.ResOutputsEvent.Metadata.Op != apitype.OpSame {
				order = append(order, "done "+resourceName(ev.ResOutputsEvent.Metadata.URN))
			}
		}
		out <- order
	}()
	return out
}

// createOrder is what must be in place before what: a CRD before its
// objects, a controller before the objects it reconciles, and the
// DNSEndpoint CRD before the Gateway API Controller, which writes
// DNSEndpoints only if the CRD exists when it starts.
func createOrder(layer string) [][2]string {
	if layer == contract.RouterAppMesh {
		return [][2]string{
			{"traffic-appmesh-controller", "traffic-mesh"},
			{"traffic-mesh", "traffic-app-namespace"},
			{"traffic-app-namespace", "traffic-virtual-gateway"},
			{"traffic-virtual-gateway", "traffic-gateway-route"},
		}
	}
	return [][2]string{
		{"dns-dnsendpoint-crd", "traffic-gateway-controller"},
		{"traffic-gateway-api-crds", "traffic-gateway-controller"},
		{"traffic-gateway-api-crds", "traffic-gateway-class"},
		{"traffic-gateway-controller", "traffic-gateway-class"},
		{"traffic-gateway-controller", "traffic-app-namespace"},
		{"dns-external-dns", "traffic-app-namespace"},
		{"traffic-gateway-class", "traffic-gateway"},
	}
}

// deleteOrder is createOrder's teardown: the objects a controller
// reconciles, and the namespace holding the engine's, go while it runs.
func deleteOrder(layer string) [][2]string {
	if layer == contract.RouterAppMesh {
		return [][2]string{
			{"traffic-app-namespace", "traffic-mesh"},
			{"traffic-mesh", "traffic-appmesh-controller"},
		}
	}
	return [][2]string{
		{"traffic-gateway", "traffic-gateway-controller"},
		{"traffic-app-namespace", "traffic-gateway-controller"},
		{"traffic-app-namespace", "dns-external-dns"},
		{"traffic-gateway-class", "traffic-gateway-api-crds"},
	}
}

// checkOrder fails for each pair whose first step did not end before the
// second began. A ConfigGroup ends with the last of its objects (named
// "<group>:<object>"), since the engine reports no end for a component.
func checkOrder(t *testing.T, run string, order []string, pairs [][2]string) {
	t.Helper()
	for _, p := range pairs {
		done := -1
		for i, step := range order {
			if step == "done "+p[0] || strings.HasPrefix(step, "done "+p[0]+":") {
				done = i
			}
		}
		start := slices.Index(order, "start "+p[1])
		if done < 0 || start < 0 || done > start {
			t.Errorf("%s: %s must be done (at %d) before %s starts (at %d); the steps:\n%s", run, p[0], done, p[1], start, strings.Join(order, "\n"))
		}
	}
}

// snapshot lists every object of every listable kind, namespaced and
// cluster-scoped, as "<kind>.<group> <namespace>/<name>". Events are left
// out: they record what happened and outlive their objects by design.
func snapshot(t *testing.T, ctx context.Context, c *testcluster.Cluster) map[string]bool {
	t.Helper()
	disc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := disc.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		t.Fatalf("discover kinds: %v", err)
	}
	out := map[string]bool{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || r.Name == "events" {
				continue
			}
			items, err := c.Dynamic.Resource(gv.WithResource(r.Name)).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatalf("list %s: %v", r.Name, err)
			}
			for _, item := range items.Items {
				out[fmt.Sprintf("%s.%s %s/%s", r.Kind, gv.Group, item.GetNamespace(), item.GetName())] = true
			}
		}
	}
	return out
}

// difference is a's keys that b lacks, sorted.
func difference(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// vendoredCharts are the charts in testdata/upstream, by the name the
// program installs them under.
func vendoredCharts() (kubeinstall.ChartDirs, error) {
	dir, err := upstream.Dir()
	if err != nil {
		return nil, err
	}
	return kubeinstall.ChartDirs{
		traffic.AppMeshChart:                      upstream.ChartDir(dir, upstream.AppMeshChart),
		path.Base(traffic.GatewayControllerChart): upstream.ChartDir(dir, upstream.GatewayControllerChart),
		edge.ExternalDNSChart:                     upstream.ChartDir(dir, upstream.ExternalDNSChart),
	}, nil
}

// helmKeptCRDs are the CRDs in the crds/ folder of the layer's controller
// chart, which Helm installs and never deletes (ExternalDNS's is skipped:
// the program applies that CRD itself), and the APIService the API server
// registers for each group version they serve, which goes with them.
func helmKeptCRDs(layer string) ([]string, error) {
	chart := traffic.AppMeshChart
	if layer == contract.RouterGatewayAPI {
		chart = path.Base(traffic.GatewayControllerChart)
	}
	dirs, err := vendoredCharts()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dirs[chart], "crds", "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var doc unstructured.Unstructured
			if err := dec.Decode(&doc.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if doc.GetKind() != "CustomResourceDefinition" {
				continue
			}
			out = append(out, "CustomResourceDefinition.apiextensions.k8s.io /"+doc.GetName())
			group, _, _ := unstructured.NestedString(doc.Object, "spec", "group")
			versions, _, _ := unstructured.NestedSlice(doc.Object, "spec", "versions")
			for _, v := range versions {
				if version, ok := v.(map[string]any); ok && version["served"] == true {
					apiService := "APIService.apiregistration.k8s.io /" + fmt.Sprint(version["name"]) + "." + group
					if !slices.Contains(out, apiService) {
						out = append(out, apiService)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
