package contract

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eks-canary/platform/internal/upstream"
)

// distinctive are the contract values no other code has a reason to spell
// out. Generic ones (EntryStep's "step", GatewayListener's "http",
// ProviderPrometheus, a key of the CloudWatch agent's configuration too)
// are left out: they occur as ordinary words.
var distinctive = []string{
	RouterAppMesh, RouterGatewayAPI,
	EnvEntry, EnvNotifyTopicArn, EnvAppMeshMetricsNamespace, EnvServiceDomain,
	EntryRollbackAborted,
	MetricsNamespaceAppMesh, MetricsNamespaceEngine, MetricRequests, MetricErrors5xx,
	MetricCanaryWeight, MetricCanaryRequests, MetricCanaryErrorRate,
	GatewayName, AppMeshEnvoyServiceAccount,
	NamespaceAppMeshController, NamespaceGatewayController, NamespaceCloudWatch, NamespaceExternalDNS, NamespaceIngress,
	EnvAllowedServiceAccounts, EnvAllowedServiceTypes, EnvHookFunctions, ConfigHookFunctions,
	EnvHookAllowedCIDRs, ConfigHookAllowedCIDRs, EnvTrafficLayer, EnvRolloutTimeout, ConfigRolloutTimeout,
	EnvPrometheusURL, ConfigPrometheusQueryURL, PromRequests, PromDuration,
}

// TestNoContractLiteralOutsideContract parses every Go file of the
// environment program and the engine and fails on a string literal equal
// to a contract value: both sides must import the name instead.
func TestNoContractLiteralOutsideContract(t *testing.T) {
	root := repoRoot(t)
	want := map[string]bool{}
	for _, v := range distinctive {
		want[v] = true
	}
	checked := 0
	for _, dir := range []string{"infra", "stacks", "lambdas", "scripts", "internal", "main.go"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || path == filepath.Join(root, "lambdas", "contract")) {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			checked++
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(file, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				if v, err := strconv.Unquote(lit.Value); err == nil && want[v] {
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s:%d: literal %s is a contract value: use the lambdas/contract constant", rel, fset.Position(lit.Pos()).Line, lit.Value)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d Go files under %s: the walk missed the tree", checked, root)
	}
}

func TestRoutersAreDistinctAndDefaultFirst(t *testing.T) {
	rs := Routers()
	if len(rs) == 0 || rs[0] != RouterGatewayAPI {
		t.Fatalf("Routers() = %v: VPC Lattice (%q) is the default and comes first", rs, RouterGatewayAPI)
	}
	seen := map[string]bool{}
	for _, r := range rs {
		if seen[r] {
			t.Fatalf("router %q listed twice", r)
		}
		seen[r] = true
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := upstream.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestPrometheusWorkspace(t *testing.T) {
	for _, tc := range []struct {
		address, region, workspace string
		ok                         bool
		err                        string
	}{
		{"http://prometheus.monitoring:9090", "", "", false, ""},
		{"https://aps-workspaces.us-east-2.amazonaws.com/workspaces/ws-1a2b/", "us-east-2", "ws-1a2b", true, ""},
		{"https://aps-workspaces.us-east-2.amazonaws.com/workspaces/ws-1a2b", "us-east-2", "ws-1a2b", true, ""},
		{"http://aps-workspaces.us-east-2.amazonaws.com/workspaces/ws-1", "", "", false, "is https://aps-workspaces.us-east-2.amazonaws.com/workspaces/ID/"},
		{"https://aps-workspaces.us-east-2.amazonaws.com/workspaces/ws-1/../ws-2", "", "", false, "workspaces/ID/"},
		{"https://aps-workspaces.us-east-2.amazonaws.com.evil.example/workspaces/ws-1", "", "", false, ""},
		{"https://user:pw@prometheus:9090", "", "", false, "is not an http(s) base URL"},
		{"prometheus:9090", "", "", false, "is not an http(s) base URL"},
		{"", "", "", false, "is not an http(s) base URL"},
	} {
		region, workspace, ok, err := PrometheusWorkspace(tc.address)
		if region != tc.region || workspace != tc.workspace || ok != tc.ok || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("PrometheusWorkspace(%q) = %q, %q, %v, %v; want %q, %q, %v, error containing %q",
				tc.address, region, workspace, ok, err, tc.region, tc.workspace, tc.ok, tc.err)
		}
	}
}

// The Yelb app server, a module of its own, names its Prometheus series as
// the engine queries them.
func TestAppServerSeriesAreTheQueriedOnes(t *testing.T) {
	path := filepath.Join(repoRoot(t), "microservices", "yelb-appserver", "internal", "httpapi", "metrics.go")
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	ast.Inspect(file, func(n ast.Node) bool {
		if spec, ok := n.(*ast.ValueSpec); ok && len(spec.Values) == len(spec.Names) {
			for i, name := range spec.Names {
				if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					got[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
		return true
	})
	for name, want := range map[string]string{"MetricRequests": PromRequests, "MetricDuration": PromDuration, "LabelCode": PromLabelCode} {
		if got[name] != want {
			t.Errorf("%s: %s = %q, want %q (lambdas/contract)", path, name, got[name], want)
		}
	}
}
