package deployer_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/deployer"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks/offline"
)

// TestPrometheusEndpointReachesTheStepHandler: prometheusQueryUrl becomes
// the engine's endpoint; for a workspace, the step role may query that
// workspace and no other, and the roll back role nothing.
func TestPrometheusEndpointReachesTheStepHandler(t *testing.T) {
	env := "environment.variables." + contract.EnvPrometheusURL
	workspace := "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0a1b2c/"
	a := args(contract.RouterGatewayAPI)
	a.PrometheusQueryURL = workspace
	res := run(t, a)
	pt.Check(t, res, []pt.Row{pt.R(pt.TypeLambda, "deployer-step", env, workspace, "the workspace's query endpoint")})
	step := pt.Statements(t, pt.Str(pt.Find(t, res, pt.TypeRolePolicy, "deployer-step-policy").Inputs, "policy"))
	if s := step["QueryPrometheus"]; !slices.Equal(s.Action, []string{"aps:QueryMetrics"}) ||
		!slices.Equal(s.Resource, []string{"arn:aws:aps:eu-west-1:" + offline.Account + ":workspace/ws-0a1b2c"}) {
		t.Errorf("step policy: statement QueryPrometheus %+v, want aps:QueryMetrics on workspace ws-0a1b2c only", s)
	}
	rb := pt.Statements(t, pt.Str(pt.Find(t, res, pt.TypeRolePolicy, "deployer-rollback-policy").Inputs, "policy"))
	if _, ok := rb["QueryPrometheus"]; ok {
		t.Error("rollback policy: statement QueryPrometheus present; only the step handler analyses")
	}

	own := args(contract.RouterGatewayAPI)
	own.PrometheusQueryURL = "http://prometheus.monitoring:9090"
	res = run(t, own)
	pt.Check(t, res, []pt.Row{pt.R(pt.TypeLambda, "deployer-step", env, own.PrometheusQueryURL, "a self-run Prometheus")})
	if _, ok := pt.Statements(t, pt.Str(pt.Find(t, res, pt.TypeRolePolicy, "deployer-step-policy").Inputs, "policy"))["QueryPrometheus"]; ok {
		t.Error("step policy: statement QueryPrometheus present for a self-run Prometheus")
	}
	pt.Check(t, run(t, args(contract.RouterGatewayAPI)), []pt.Row{pt.R(pt.TypeLambda, "deployer-step", env, pt.Absent, "no endpoint without prometheusQueryUrl")})
}

// A workspace the stack creates is what the engine queries, and the only
// one the step role may query.
func TestCreatedWorkspaceReachesTheStepHandler(t *testing.T) {
	const endpoint = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-9f8e/"
	arn := "arn:aws:aps:us-west-2:" + offline.Account + ":workspace/ws-9f8e"
	a := args(contract.RouterGatewayAPI)
	a.PrometheusWorkspace = &deployer.PrometheusWorkspace{QueryURL: pulumi.String(endpoint), Arn: pulumi.String(arn)}
	res := run(t, a)
	pt.Check(t, res, []pt.Row{pt.R(pt.TypeLambda, "deployer-step", "environment.variables."+contract.EnvPrometheusURL, endpoint, "the created workspace's endpoint")})
	step := pt.Statements(t, pt.Str(pt.Find(t, res, pt.TypeRolePolicy, "deployer-step-policy").Inputs, "policy"))
	if s := step["QueryPrometheus"]; !slices.Equal(s.Action, []string{"aps:QueryMetrics"}) || !slices.Equal(s.Resource, []string{arn}) {
		t.Errorf("step policy: statement QueryPrometheus %+v, want aps:QueryMetrics on %s only", s, arn)
	}

	both := args(contract.RouterGatewayAPI)
	both.PrometheusWorkspace = a.PrometheusWorkspace
	both.PrometheusQueryURL = "http://prometheus.monitoring:9090"
	if _, err := pt.Run(func(ctx *pulumi.Context) error {
		ns, err := corev1.NewNamespace(ctx, "app", &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("yelb")}})
		if err != nil {
			return err
		}
		both.NamespaceResource = ns
		_, err = deployer.NewDeployer(ctx, "deployer", both)
		return err
	}); err == nil || !strings.Contains(err.Error(), "excludes PrometheusQueryURL") {
		t.Errorf("a workspace and a query URL: err %v, want a refusal", err)
	}
}
