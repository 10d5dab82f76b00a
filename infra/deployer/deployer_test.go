package deployer_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/deployer"
	"github.com/eks-canary/platform/infra/deployer/enginerbac"
	"github.com/eks-canary/platform/infra/policy"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/stacks/offline"
)

const (
	archive    = "/build/lambda/lambda.zip"
	clusterArn = "arn:aws:eks:us-west-2:" + offline.Account + ":cluster/canary-dev"
	arnPrefix  = "arn:aws:lambda:us-west-2:" + offline.Account + ":function:"
)

func args(layer string) *deployer.DeployerArgs {
	a := &deployer.DeployerArgs{
		Prefix: "canary-dev", LambdaArchive: archive, ClusterName: pulumi.String("canary-dev"), ClusterArn: pulumi.String(clusterArn),
		Namespace: "yelb", TrafficLayer: layer, NotificationEmail: "ops@example.com", LogRetentionDays: 14, RolloutTimeoutSeconds: 7200,
	}
	switch layer {
	case contract.RouterGatewayAPI:
		a.ServiceDomain = "canary-dev.internal"
	case contract.RouterAppMesh:
		a.AllowedServiceAccounts = []string{contract.AppMeshEnvoyServiceAccount}
	}
	return a
}

func run(t *testing.T, a *deployer.DeployerArgs) *offline.Result {
	t.Helper()
	res := pt.MustRun(t, func(ctx *pulumi.Context) error {
		ns, err := corev1.NewNamespace(ctx, "app", &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("yelb")}})
		if err != nil {
			return err
		}
		a.NamespaceResource = ns
		_, err = deployer.NewDeployer(ctx, "deployer", a)
		return err
	})
	if v := policy.Check(res.Owned()); len(v) != 0 {
		t.Errorf("policy violations: %v", v)
	}
	return res
}

func TestEngineFunctionsAndStateMachine(t *testing.T) {
	for _, layer := range contract.Routers() {
		t.Run(layer, func(t *testing.T) {
			res := run(t, args(layer))
			var rows []pt.Row
			for fn, entry := range map[string]string{"deployer-step": contract.EntryStep, "deployer-rollback-aborted": contract.EntryRollbackAborted} {
				env := "environment.variables."
				rows = append(rows,
					pt.R(pt.TypeLambda, fn, "runtime", "provided.al2023", "the Go custom runtime"),
					pt.R(pt.TypeLambda, fn, "handler", "bootstrap", "the zip's binary"),
					pt.R(pt.TypeLambda, fn, "architectures", []string{"arm64"}, "Graviton"),
					pt.R(pt.TypeLambda, fn, "code", archive, "one zip for both entry points"),
					pt.R(pt.TypeLambda, fn, env+contract.EnvEntry, entry, "the entry point the zip runs"),
					pt.R(pt.TypeLambda, fn, env+contract.EnvNotifyTopicArn, pt.HasPrefix("arn:aws:sns:us-west-2:"), "the notices' topic"),
					pt.R(pt.TypeLambda, fn, env+contract.EnvAppMeshMetricsNamespace, contract.MetricsNamespaceAppMesh, "where the metric filters publish"),
				)
				if layer == contract.RouterGatewayAPI {
					rows = append(rows,
						pt.R(pt.TypeLambda, fn, env+contract.EnvServiceDomain, "canary-dev.internal", "the templates' ${SERVICE_DOMAIN}"),
						pt.R(pt.TypeLambda, fn, env+contract.EnvAllowedServiceAccounts, pt.Absent, "no extra service accounts without App Mesh"))
				} else {
					rows = append(rows,
						pt.R(pt.TypeLambda, fn, env+contract.EnvServiceDomain, pt.Absent, "App Mesh has no VPC Lattice names"),
						pt.R(pt.TypeLambda, fn, env+contract.EnvAllowedServiceAccounts, contract.AppMeshEnvoyServiceAccount, "meshed pods run as Envoy's account"))
				}
			}
			rows = append(rows,
				pt.R(pt.TypeLambda, "deployer-step", "name", "canary-dev-canary-step", "prefixed with clusterName"),
				pt.R(pt.TypeLambda, "deployer-rollback-aborted", "name", "canary-dev-canary-rollback-aborted", "prefixed with clusterName"),
				pt.R(pt.TypeLogGroup, "deployer-step-logs", "name", "/aws/lambda/canary-dev-canary-step", "the step function's log group"),
				pt.R(pt.TypeLogGroup, "deployer-rollback-logs", "name", "/aws/lambda/canary-dev-canary-rollback-aborted", "the rollback function's log group"),
				pt.R(pt.TypeLogGroup, "deployer-state-machine-logs", "name", "/aws/vendedlogs/states/canary-dev-canary-rollout", "the state machine's log group"),
				pt.R(pt.TypeLogGroup, "deployer-state-machine-logs", "retentionInDays", 14, "logRetentionDays"),
				pt.R(pt.TypeStateMachine, "deployer-state-machine", "name", "canary-dev-canary-rollout", "prefixed with clusterName"),
				pt.R(pt.TypeStateMachine, "deployer-state-machine", "type", "STANDARD", "long-running, exactly-once executions"),
				pt.R(pt.TypeStateMachine, "deployer-state-machine", "loggingConfiguration.level", "ALL", "every transition logged"),
				pt.R(pt.TypeStateMachine, "deployer-state-machine", "loggingConfiguration.includeExecutionData", false, "templates stay out of the logs"),
				pt.R(pt.TypeStateMachine, "deployer-state-machine", "loggingConfiguration.logDestination",
					"arn:aws:logs:us-west-2:"+offline.Account+":log-group:/aws/vendedlogs/states/canary-dev-canary-rollout:*", "into its own log group"),
				pt.R(pt.TypeTopic, "deployer-notifications", "name", "canary-dev-canary-notifications", "prefixed with clusterName"),
				pt.R(pt.TypeTopic, "deployer-notifications", "kmsMasterKeyId", "alias/aws/sns", "encrypted at rest"),
				pt.R(pt.TypeSubscription, "deployer-notifications-email", "endpoint", "ops@example.com", "notificationEmail is subscribed"),
				pt.R(pt.TypeSubscription, "deployer-notifications-email", "protocol", "email", "by e-mail"),
				pt.R(pt.TypeEventTarget, "deployer-aborted-target", "arn", arnPrefix+"canary-dev-canary-rollback-aborted", "aborted executions reach the rollback entry point"),
				pt.R(pt.TypeEventTarget, "deployer-aborted-target", "retryPolicy.maximumRetryAttempts", 8, "the event is delivered again when a roll back fails"),
				pt.R(pt.TypePermission, "deployer-aborted-invoke", "principal", "events.amazonaws.com", "EventBridge may invoke it"),
			)
			pt.Check(t, res, rows)

			sm := pt.Find(t, res, pt.TypeStateMachine, "deployer-state-machine")
			want, err := statemachine.Definition(statemachine.Config{FunctionArn: arnPrefix + "canary-dev-canary-step", TimeoutSeconds: 7200})
			if err != nil {
				t.Fatal(err)
			}
			if got := pt.Str(sm.Inputs, "definition"); got != want {
				t.Errorf("%s %q: definition is not the generated one for the step function and rolloutTimeoutSeconds", sm.Type, sm.Name)
			}
			for _, d := range [][2]string{
				{"deployer-step", "deployer-step-logs"}, {"deployer-rollback-aborted", "deployer-rollback-logs"},
			} {
				fn, lg := pt.Find(t, res, pt.TypeLambda, d[0]), pt.Find(t, res, pt.TypeLogGroup, d[1])
				if !slices.Contains(fn.Dependencies, lg.URN) {
					t.Errorf("%s %q is created before its log group %q: Lambda would create one without retention", fn.Type, fn.Name, lg.Name)
				}
			}
			var pattern struct {
				Source []string `json:"source"`
				Detail struct {
					Status          []string `json:"status"`
					StateMachineArn []string `json:"stateMachineArn"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(pt.Str(pt.Find(t, res, pt.TypeEventRule, "deployer-aborted-rule").Inputs, "eventPattern")), &pattern); err != nil {
				t.Fatal(err)
			}
			sort.Strings(pattern.Detail.Status)
			if !slices.Equal(pattern.Detail.Status, []string{"ABORTED", "FAILED", "TIMED_OUT"}) || len(pattern.Detail.StateMachineArn) != 1 ||
				!strings.HasSuffix(pattern.Detail.StateMachineArn[0], ":stateMachine:canary-dev-canary-rollout") {
				t.Errorf("%s %q: eventPattern %+v, want ABORTED, FAILED and TIMED_OUT of this state machine", pt.TypeEventRule, "deployer-aborted-rule", pattern)
			}
		})
	}
}

func TestEngineIAM(t *testing.T) {
	for _, layer := range contract.Routers() {
		t.Run(layer, func(t *testing.T) {
			res := run(t, args(layer))
			step := pt.Statements(t, pt.Str(pt.Find(t, res, pt.TypeRolePolicy, "deployer-step-policy").Inputs, "policy"))
			if s := step["DescribeCluster"]; !slices.Equal(s.Resource, []string{clusterArn}) || !slices.Equal(s.Action, []string{"eks:DescribeCluster"}) {
				t.Errorf("step policy: statement DescribeCluster %+v, want eks:DescribeCluster on the cluster only", s)
			}
			if s := step["WriteOwnLogs"]; !slices.Equal(s.Resource, []string{"arn:aws:logs:us-west-2:" + offline.Account + ":log-group:/aws/lambda/canary-dev-canary-step:*"}) {
				t.Errorf("step policy: statement WriteOwnLogs %+v, want the function's own log group", s)
			}
			if _, lattice := step["ReadLatticeTargetGroups"]; lattice != (layer == contract.RouterGatewayAPI) {
				t.Errorf("step policy: statement ReadLatticeTargetGroups present=%v on %s, want it with the Gateway API only", lattice, layer)
			}
			if _, ok := step["ReadExecutionInput"]; ok {
				t.Error("step policy: statement ReadExecutionInput present; only the rollback role reads executions")
			}
			if s := step["ReadAlarms"]; !slices.Equal(s.Action, []string{"cloudwatch:DescribeAlarms"}) ||
				!slices.Equal(s.Resource, []string{"arn:aws:cloudwatch:us-west-2:" + offline.Account + ":alarm:*"}) {
				t.Errorf("step policy: statement ReadAlarms %+v, want DescribeAlarms on the account's alarms in the region only", s)
			}
			rb := pt.Statements(t, pt.Str(pt.Find(t, res, pt.TypeRolePolicy, "deployer-rollback-policy").Inputs, "policy"))
			if _, ok := rb["ReadAlarms"]; ok {
				t.Error("rollback policy: statement ReadAlarms present; only the step handler judges alarms")
			}
			if s := rb["ReadExecutionInput"]; !slices.Equal(s.Action, []string{"states:DescribeExecution"}) ||
				!slices.Equal(s.Resource, []string{"arn:aws:states:us-west-2:" + offline.Account + ":execution:canary-dev-canary-rollout:*"}) {
				t.Errorf("rollback policy: statement ReadExecutionInput %+v, want DescribeExecution on this state machine's executions", s)
			}
			sm := pt.Statements(t, pt.Str(pt.Find(t, res, pt.TypeRolePolicy, "deployer-state-machine-policy").Inputs, "policy"))
			stepArn := arnPrefix + "canary-dev-canary-step"
			if s := sm["InvokeEngine"]; !slices.Equal(s.Resource, []string{stepArn, stepArn + ":*"}) {
				t.Errorf("state machine policy: statement InvokeEngine %+v, want the step function only", s)
			}
			if s, ok := sm["InvokeHookFunctions"]; ok {
				t.Errorf("state machine policy: statement InvokeHookFunctions %+v present without HookFunctions", s)
			}
			pt.Check(t, res, []pt.Row{
				pt.R(pt.TypeRole, "deployer-step-role", "assumeRolePolicy", pt.Contains(`"Service":"lambda.amazonaws.com"`), "Lambda assumes the step role"),
				pt.R(pt.TypeRole, "deployer-step-role", "assumeRolePolicy", pt.Contains(`"StringEquals":{"aws:SourceAccount":"123456789012"}`), "only for functions of this account"),
				pt.R(pt.TypeRole, "deployer-state-machine-role", "assumeRolePolicy", pt.Contains(`"Service":"states.amazonaws.com"`), "Step Functions assumes its role"),
				pt.R(pt.TypeRole, "deployer-state-machine-role", "assumeRolePolicy", pt.Contains(`"aws:SourceArn":"arn:aws:states:us-west-2:123456789012:stateMachine:canary-dev-canary-rollout"`), "only for the rollout state machine"),
				pt.R(pt.TypeRole, "deployer-state-machine-role", "assumeRolePolicy", pt.InJSON(`Statement[0].Condition.StringEquals["aws:SourceAccount"]`, offline.Account), "in this account"),
				pt.R(pt.TypeRole, "deployer-state-machine-role", "assumeRolePolicy", pt.InJSON("Statement[1]", pt.Absent), "no other statement widens the trust"),
			})
			// Lambda documents aws:SourceArn for functions' resource policies,
			// not for execution roles: both engine roles name the account only.
			for _, role := range []string{"deployer-step-role", "deployer-rollback-role"} {
				pt.Check(t, res, []pt.Row{
					pt.R(pt.TypeRole, role, "assumeRolePolicy", pt.InJSON("Statement[0].Principal.Service", "lambda.amazonaws.com"), "Lambda assumes it"),
					pt.R(pt.TypeRole, role, "assumeRolePolicy", pt.InJSON(`Statement[0].Condition.StringEquals["aws:SourceAccount"]`, offline.Account), "only for functions of this account"),
					pt.R(pt.TypeRole, role, "assumeRolePolicy", pt.InJSON("Statement[0].Condition.ArnLike", pt.Absent), "no source ARN Lambda does not document"),
					pt.R(pt.TypeRole, role, "assumeRolePolicy", pt.InJSON("Statement[1]", pt.Absent), "no other statement widens the trust"),
				})
			}
		})
	}
}

// The engine is never cluster admin: two access entries to one group, bound
// to a Role in the application namespace.
func TestEngineKubernetesAccess(t *testing.T) {
	res := run(t, args(contract.RouterGatewayAPI))
	entries := res.ByType(pt.TypeAccessEntry)
	if len(entries) != 2 {
		t.Fatalf("%d access entries, want one per engine role", len(entries))
	}
	for _, e := range entries {
		pt.Check(t, res, []pt.Row{
			pt.R(pt.TypeAccessEntry, e.Name, "type", "STANDARD", "a standard entry"),
			pt.R(pt.TypeAccessEntry, e.Name, "kubernetesGroups", []string{enginerbac.Group}, "mapped to the deployers group only"),
			pt.R(pt.TypeAccessEntry, e.Name, "clusterName", "canary-dev", "in the stack's cluster"),
		})
	}
	if len(res.ByType(pt.TypeAccessPolicy)) != 0 || len(res.ByType(pt.TypeClusterRoleBd)) != 0 {
		t.Error("the engine gets cluster-wide rights")
	}
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeK8sRole, "deployer-k8s-role", "metadata.namespace", "yelb", "the application namespace only"),
		pt.R(pt.TypeK8sRoleBind, "deployer-k8s-role-binding", "metadata.namespace", "yelb", "bound there"),
		pt.R(pt.TypeK8sRoleBind, "deployer-k8s-role-binding", "subjects[0].kind", "Group", "to the group"),
		pt.R(pt.TypeK8sRoleBind, "deployer-k8s-role-binding", "subjects[0].name", enginerbac.Group, "the access entries map to"),
		pt.R(pt.TypeK8sRoleBind, "deployer-k8s-role-binding", "roleRef.kind", "Role", "a Role, not a ClusterRole"),
	})
	role := pt.Find(t, res, pt.TypeK8sRole, "deployer-k8s-role")
	granted := map[string][]string{}
	rules, _ := role.Inputs["rules"].([]any)
	for _, r := range rules {
		for _, g := range pt.Strs(r, "apiGroups") {
			for _, kind := range pt.Strs(r, "resources") {
				granted[g+"/"+kind] = pt.Strs(r, "verbs")
			}
		}
	}
	manage := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	want := map[string][]string{
		"apps/deployments": manage, "apps/statefulsets": manage, "apps/replicasets": manage,
		"/services": manage, "/configmaps": manage, "/serviceaccounts": {"get", "list"},
		"/pods": {"get", "list", "watch", "delete"}, "/events": {"create", "patch"}, "coordination.k8s.io/leases": manage,
		"appmesh.k8s.aws/virtualnodes": manage, "appmesh.k8s.aws/virtualrouters": manage, "appmesh.k8s.aws/virtualservices": manage,
		"gateway.networking.k8s.io/httproutes": manage, "application-networking.k8s.aws/targetgrouppolicies": manage,
		"batch/jobs": manage,
	}
	for key, verbs := range want {
		if !slices.Equal(granted[key], verbs) {
			t.Errorf("%s %q: verbs on %s = %v, want %v", role.Type, role.Name, key, granted[key], verbs)
		}
	}
	if len(granted) != len(want) {
		t.Errorf("%s %q grants %d resources, want exactly the %d of the contract: %v", role.Type, role.Name, len(granted), len(want), granted)
	}
	if !pt.DependsOn(res, role.URN, pt.Find(t, res, pt.TypeNamespace, "app").URN) {
		t.Errorf("%s %q does not depend on the application namespace", role.Type, role.Name)
	}
}

func TestDeployerRefusesMissingArgs(t *testing.T) {
	a := args(contract.RouterGatewayAPI)
	a.LambdaArchive = ""
	_, err := pt.Run(func(ctx *pulumi.Context) error {
		ns, err := corev1.NewNamespace(ctx, "app", &corev1.NamespaceArgs{})
		if err != nil {
			return err
		}
		a.NamespaceResource = ns
		_, err = deployer.NewDeployer(ctx, "deployer", a)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "LambdaArchive") {
		t.Errorf("error %v, want one naming LambdaArchive", err)
	}
}
