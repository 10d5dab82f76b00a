// Package deployer creates the shared canary engine: the Go Lambda (two entry
// points from one zip), the Step Functions state machine that sequences a
// rollout, the EventBridge rule that rolls back aborted, timed-out and failed
// executions, the notification topic, and the engine's Kubernetes access,
// which is namespaced RBAC through EKS access entries and never cluster-admin.
package deployer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sfn"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/awsiam"
	"github.com/eks-canary/platform/infra/deployer/enginerbac"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/hooks"
	"github.com/eks-canary/platform/lambdas/statemachine"
)

const (
	lambdaRuntime = "provided.al2023"
	// Seconds: the state machine's Tasks outlast the step function
	// (contract.TaskTimeout), and the engine refuses plans that do not fit.
	stepTimeout     = int(contract.StepLambdaTimeout / time.Second)
	rollbackTimeout = int(contract.RollbackLambdaTimeout / time.Second)
)

// DeployerArgs configures the engine.
type DeployerArgs struct {
	// Prefix starts every physical name (functions, state machine, topic),
	// so log group names are known before the resources exist.
	Prefix string
	// LambdaArchive is the engine zip (see bundle.BuildLambda).
	LambdaArchive         string
	ClusterName           pulumi.StringInput
	ClusterArn            pulumi.StringInput
	Namespace             string
	NamespaceResource     pulumi.Resource // the application namespace object
	TrafficLayer          string          // one of contract.Routers()
	ServiceDomain         string          // the stack's private DNS domain; templates' ${SERVICE_DOMAIN}
	NotificationEmail     string          // empty: no subscription
	LogRetentionDays      int
	RolloutTimeoutSeconds int
	Tags                  pulumi.StringMap

	// The template policy the engine enforces beyond its defaults:
	// ServiceAccounts pods may run as besides default (App Mesh's), Service
	// types besides ClusterIP. Empty: none.
	AllowedServiceAccounts []string
	AllowedServiceTypes    []string
	// HookFunctions are the Lambda functions rollout hooks may invoke
	// (ARNs or prefixes ending in '*'): the state machine may invoke
	// exactly these and the engine refuses others. Empty: none.
	HookFunctions []string
	// HookAllowedCIDRs are the private networks webhooks may reach
	// (contract.EnvHookAllowedCIDRs). Empty: public addresses only.
	HookAllowedCIDRs []string
	// PrometheusQueryURL is where analysis.provider "prometheus" reads
	// (contract.EnvPrometheusURL). For an Amazon Managed Service for
	// Prometheus workspace of the cluster's account, the step role may
	// query that workspace and no other. Empty: no Prometheus.
	PrometheusQueryURL string
	// PrometheusWorkspace is a workspace the stack creates, queried in
	// place of PrometheusQueryURL; the step role may query it and no
	// other.
	PrometheusWorkspace *PrometheusWorkspace
}

// PrometheusWorkspace is an Amazon Managed Service for Prometheus
// workspace: its query endpoint (prometheusEndpoint) and ARN.
type PrometheusWorkspace struct {
	QueryURL, Arn pulumi.StringInput
}

// Deployer is the installed engine.
type Deployer struct {
	pulumi.ResourceState

	StateMachineArn      pulumi.StringOutput `pulumi:"stateMachineArn"`
	StateMachineName     pulumi.StringOutput `pulumi:"stateMachineName"`
	StepFunctionArn      pulumi.StringOutput `pulumi:"stepFunctionArn"`
	RollbackFunctionArn  pulumi.StringOutput `pulumi:"rollbackFunctionArn"`
	NotificationTopicArn pulumi.StringOutput `pulumi:"notificationTopicArn"`
}

// NewDeployer creates the engine.
func NewDeployer(ctx *pulumi.Context, name string, args *DeployerArgs, opts ...pulumi.ResourceOption) (*Deployer, error) {
	if args == nil || args.Prefix == "" || args.LambdaArchive == "" || args.ClusterName == nil || args.ClusterArn == nil ||
		args.Namespace == "" || args.NamespaceResource == nil {
		return nil, fmt.Errorf("deployer %s: Prefix, LambdaArchive, ClusterName, ClusterArn, Namespace and NamespaceResource are required", name)
	}
	if args.RolloutTimeoutSeconds <= 0 || args.LogRetentionDays <= 0 {
		return nil, fmt.Errorf("deployer %s: RolloutTimeoutSeconds and LogRetentionDays must be positive", name)
	}
	if args.PrometheusQueryURL != "" {
		if _, _, _, err := contract.PrometheusWorkspace(args.PrometheusQueryURL); err != nil {
			return nil, fmt.Errorf("deployer %s: %w", name, err)
		}
	}
	if ws := args.PrometheusWorkspace; ws != nil && (ws.QueryURL == nil || ws.Arn == nil || args.PrometheusQueryURL != "") {
		return nil, fmt.Errorf("deployer %s: PrometheusWorkspace needs QueryURL and Arn, and excludes PrometheusQueryURL", name)
	}
	d := &Deployer{}
	if err := ctx.RegisterComponentResource("canary:infra:Deployer", name, d, opts...); err != nil {
		return nil, err
	}
	if err := d.build(ctx, name, args); err != nil {
		return nil, fmt.Errorf("deployer %s: %w", name, err)
	}
	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{
		"stateMachineArn":      d.StateMachineArn,
		"stateMachineName":     d.StateMachineName,
		"stepFunctionArn":      d.StepFunctionArn,
		"rollbackFunctionArn":  d.RollbackFunctionArn,
		"notificationTopicArn": d.NotificationTopicArn,
	}); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Deployer) logGroup(ctx *pulumi.Context, name, group string, args *DeployerArgs) (*cloudwatch.LogGroup, error) {
	lg, err := cloudwatch.NewLogGroup(ctx, name, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(group),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            args.Tags,
	}, pulumi.Parent(d))
	if err != nil {
		return nil, fmt.Errorf("log group %s: %w", group, err)
	}
	return lg, nil
}

// engineStatements is what both entry points may do: find the cluster,
// read canary metrics, notify, write their own logs and, with the Gateway
// API layer, read VPC Lattice target groups.
func engineStatements(args *DeployerArgs, topic pulumi.StringInput, logGroupArn pulumi.StringOutput) []awsiam.Statement {
	st := []awsiam.Statement{
		{Sid: "DescribeCluster", Actions: []string{"eks:DescribeCluster"}, Resources: []pulumi.StringInput{args.ClusterArn}},
		// GetMetricData has no resource-level permissions.
		{Sid: "ReadMetrics", Actions: []string{"cloudwatch:GetMetricData"}, Resources: []pulumi.StringInput{awsiam.Any}},
		{Sid: "Notify", Actions: []string{"sns:Publish"}, Resources: []pulumi.StringInput{topic}},
		{Sid: "WriteOwnLogs", Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
			Resources: []pulumi.StringInput{pulumi.Sprintf("%s:*", logGroupArn)}},
	}
	if args.TrafficLayer == contract.RouterGatewayAPI {
		st = append(st, awsiam.Statement{Sid: "ReadLatticeTargetGroups",
			Actions:   []string{"vpc-lattice:ListTargetGroups", "vpc-lattice:ListTagsForResource"},
			Resources: []pulumi.StringInput{awsiam.Any}})
	}
	return st
}

// alarmArns is every CloudWatch alarm in the cluster's partition, region
// and account, taken from the cluster's ARN.
func alarmArns(clusterArn pulumi.StringInput) pulumi.StringOutput {
	return inClusterAccount(clusterArn, func(partition, region, account string) string {
		return fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:*", partition, region, account)
	})
}

// workspaceArn is the Amazon Managed Service for Prometheus workspace id
// in region, of the cluster's account.
func workspaceArn(clusterArn pulumi.StringInput, region, id string) pulumi.StringOutput {
	return inClusterAccount(clusterArn, func(partition, _, account string) string {
		return fmt.Sprintf("arn:%s:aps:%s:%s:workspace/%s", partition, region, account, id)
	})
}

// inClusterAccount builds an ARN from the partition, region and account of
// the cluster's.
func inClusterAccount(clusterArn pulumi.StringInput, arn func(partition, region, account string) string) pulumi.StringOutput {
	return clusterArn.ToStringOutput().ApplyT(func(cluster string) (string, error) {
		parts := strings.SplitN(cluster, ":", 6)
		if len(parts) != 6 || parts[0] != "arn" || parts[2] != "eks" || parts[3] == "" || parts[4] == "" {
			return "", fmt.Errorf("cluster ARN %q is not arn:<partition>:eks:<region>:<account>:cluster/<name>", cluster)
		}
		return arn(parts[1], parts[3], parts[4]), nil
	}).(pulumi.StringOutput)
}

// stepStatements are what only the step handler does: judge alarm gates
// and query Prometheus. DescribeAlarms authorises per alarm ARN; the names
// come from each deploy.json, so the engine may read the alarms of its own
// account and region and nothing else.
func stepStatements(args *DeployerArgs) []awsiam.Statement {
	statements := []awsiam.Statement{{
		Sid: "ReadAlarms", Actions: []string{"cloudwatch:DescribeAlarms"}, Resources: []pulumi.StringInput{alarmArns(args.ClusterArn)},
	}}
	var workspace pulumi.StringInput
	if region, id, ok, _ := contract.PrometheusWorkspace(args.PrometheusQueryURL); ok {
		workspace = workspaceArn(args.ClusterArn, region, id)
	}
	if args.PrometheusWorkspace != nil {
		workspace = args.PrometheusWorkspace.Arn
	}
	if workspace != nil {
		statements = append(statements, awsiam.Statement{
			Sid: "QueryPrometheus", Actions: []string{"aps:QueryMetrics"}, Resources: []pulumi.StringInput{workspace},
		})
	}
	return statements
}

func (d *Deployer) build(ctx *pulumi.Context, name string, args *DeployerArgs) error {
	stepName := args.Prefix + "-canary-step"
	rollbackName := args.Prefix + "-canary-rollback-aborted"
	machineName := args.Prefix + "-canary-rollout"

	// Log groups first: a function or state machine that starts before its
	// group exists would create one without retention.
	stepLogs, err := d.logGroup(ctx, name+"-step-logs", "/aws/lambda/"+stepName, args)
	if err != nil {
		return err
	}
	rollbackLogs, err := d.logGroup(ctx, name+"-rollback-logs", "/aws/lambda/"+rollbackName, args)
	if err != nil {
		return err
	}
	machineLogs, err := d.logGroup(ctx, name+"-state-machine-logs", "/aws/vendedlogs/states/"+machineName, args)
	if err != nil {
		return err
	}

	topic, err := sns.NewTopic(ctx, name+"-notifications", &sns.TopicArgs{
		Name:           pulumi.String(args.Prefix + "-canary-notifications"),
		KmsMasterKeyId: pulumi.String("alias/aws/sns"),
		Tags:           args.Tags,
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("notification topic: %w", err)
	}
	if args.NotificationEmail != "" {
		if _, err := sns.NewTopicSubscription(ctx, name+"-notifications-email", &sns.TopicSubscriptionArgs{
			Topic:    topic.Arn,
			Protocol: pulumi.String("email"),
			Endpoint: pulumi.String(args.NotificationEmail),
		}, pulumi.Parent(d)); err != nil {
			return fmt.Errorf("e-mail subscription: %w", err)
		}
	}

	env := awsiam.LookupEnvironment(ctx, pulumi.Parent(d))
	// Lambda documents aws:SourceArn for functions' resource policies, not
	// for the execution role it assumes: the account is the condition here.
	lambdaTrust := awsiam.ServiceTrust("lambda.amazonaws.com", env.AccountSource())
	stepRole, err := iam.NewRole(ctx, name+"-step-role", &iam.RoleArgs{
		AssumeRolePolicy: lambdaTrust,
		Description:      pulumi.String("Canary engine step handler"),
		Tags:             args.Tags,
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("step role: %w", err)
	}
	stepPolicy, err := iam.NewRolePolicy(ctx, name+"-step-policy", &iam.RolePolicyArgs{
		Role:   stepRole.ID(),
		Policy: awsiam.Document(append(engineStatements(args, topic.Arn, stepLogs.Arn), stepStatements(args)...)...),
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("step policy: %w", err)
	}
	rollbackRole, err := iam.NewRole(ctx, name+"-rollback-role", &iam.RoleArgs{
		AssumeRolePolicy: lambdaTrust,
		Description:      pulumi.String("Canary engine roll back of aborted executions"),
		Tags:             args.Tags,
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("rollback role: %w", err)
	}

	environment := func(entry string) *lambda.FunctionEnvironmentArgs {
		vars := pulumi.StringMap{
			contract.EnvEntry:                   pulumi.String(entry),
			contract.EnvNotifyTopicArn:          topic.Arn,
			contract.EnvAppMeshMetricsNamespace: pulumi.String(contract.MetricsNamespaceAppMesh),
			contract.EnvLogLevel:                pulumi.String("info"),
			contract.EnvRolloutTimeout:          pulumi.String(strconv.Itoa(args.RolloutTimeoutSeconds)),
		}
		if args.TrafficLayer != "" {
			vars[contract.EnvTrafficLayer] = pulumi.String(args.TrafficLayer)
		}
		if args.ServiceDomain != "" {
			vars[contract.EnvServiceDomain] = pulumi.String(args.ServiceDomain)
		}
		if len(args.AllowedServiceAccounts) > 0 {
			vars[contract.EnvAllowedServiceAccounts] = pulumi.String(strings.Join(args.AllowedServiceAccounts, ","))
		}
		if len(args.AllowedServiceTypes) > 0 {
			vars[contract.EnvAllowedServiceTypes] = pulumi.String(strings.Join(args.AllowedServiceTypes, ","))
		}
		if len(args.HookFunctions) > 0 {
			vars[contract.EnvHookFunctions] = pulumi.String(strings.Join(args.HookFunctions, ","))
		}
		if len(args.HookAllowedCIDRs) > 0 {
			vars[contract.EnvHookAllowedCIDRs] = pulumi.String(strings.Join(args.HookAllowedCIDRs, ","))
		}
		if args.PrometheusQueryURL != "" {
			vars[contract.EnvPrometheusURL] = pulumi.String(args.PrometheusQueryURL)
		}
		if args.PrometheusWorkspace != nil {
			vars[contract.EnvPrometheusURL] = args.PrometheusWorkspace.QueryURL
		}
		return &lambda.FunctionEnvironmentArgs{Variables: vars}
	}
	code := pulumi.NewFileArchive(args.LambdaArchive)
	stepFn, err := lambda.NewFunction(ctx, name+"-step", &lambda.FunctionArgs{
		Name:          pulumi.String(stepName),
		Description:   pulumi.String("Canary engine: one rollout action per call from the state machine"),
		Runtime:       pulumi.String(lambdaRuntime),
		Architectures: pulumi.StringArray{pulumi.String("arm64")},
		Handler:       pulumi.String("bootstrap"),
		Code:          code,
		Role:          stepRole.Arn,
		Timeout:       pulumi.Int(stepTimeout),
		MemorySize:    pulumi.Int(512),
		Environment:   environment(contract.EntryStep),
		Tags:          args.Tags,
	}, pulumi.Parent(d), pulumi.DependsOn([]pulumi.Resource{stepLogs, stepPolicy}))
	if err != nil {
		return fmt.Errorf("step function: %w", err)
	}

	machineRole, err := iam.NewRole(ctx, name+"-state-machine-role", &iam.RoleArgs{
		// Only this state machine, named ahead: the machine needs the role.
		AssumeRolePolicy: awsiam.ServiceTrust("states.amazonaws.com", env.ResourceSource("states", "stateMachine:"+machineName)),
		Description:      pulumi.String("Canary rollout state machine"),
		Tags:             args.Tags,
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("state machine role: %w", err)
	}
	machineStatements := []awsiam.Statement{
		{Sid: "InvokeEngine", Actions: []string{"lambda:InvokeFunction"},
			Resources: []pulumi.StringInput{stepFn.Arn, pulumi.Sprintf("%s:*", stepFn.Arn)}},
	}
	if len(args.HookFunctions) > 0 {
		// Lambda rollout hooks: exactly the functions the stack allows.
		var resources []pulumi.StringInput
		for _, r := range hooks.PolicyResources(args.HookFunctions) {
			resources = append(resources, pulumi.String(r))
		}
		machineStatements = append(machineStatements, awsiam.Statement{Sid: "InvokeHookFunctions", Actions: []string{"lambda:InvokeFunction"}, Resources: resources})
	}
	machinePolicy, err := iam.NewRolePolicy(ctx, name+"-state-machine-policy", &iam.RolePolicyArgs{
		Role: machineRole.ID(),
		Policy: awsiam.Document(append(machineStatements,
			// Log delivery APIs have no resource-level permissions.
			awsiam.Statement{Sid: "DeliverLogs", Actions: []string{
				"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
				"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
			}, Resources: []pulumi.StringInput{awsiam.Any}},
		)...),
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("state machine policy: %w", err)
	}
	definition := stepFn.Arn.ApplyT(func(arn string) (string, error) {
		return statemachine.Definition(statemachine.Config{FunctionArn: arn, TimeoutSeconds: args.RolloutTimeoutSeconds})
	}).(pulumi.StringOutput)
	machine, err := sfn.NewStateMachine(ctx, name+"-state-machine", &sfn.StateMachineArgs{
		Name:       pulumi.String(machineName),
		Type:       pulumi.String("STANDARD"),
		RoleArn:    machineRole.Arn,
		Definition: definition,
		LoggingConfiguration: &sfn.StateMachineLoggingConfigurationArgs{
			Level:                pulumi.String("ALL"),
			IncludeExecutionData: pulumi.Bool(false),
			LogDestination:       pulumi.Sprintf("%s:*", machineLogs.Arn),
		},
		Tags: args.Tags,
	}, pulumi.Parent(d), pulumi.DependsOn([]pulumi.Resource{machinePolicy, machineLogs}))
	if err != nil {
		return fmt.Errorf("state machine: %w", err)
	}

	executions := machine.Arn.ApplyT(func(arn string) (string, error) {
		if !strings.Contains(arn, ":stateMachine:") {
			return "", fmt.Errorf("unexpected state machine ARN %q", arn)
		}
		return strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":*", nil
	}).(pulumi.StringOutput)
	rollbackPolicy, err := iam.NewRolePolicy(ctx, name+"-rollback-policy", &iam.RolePolicyArgs{
		Role: rollbackRole.ID(),
		Policy: awsiam.Document(append(engineStatements(args, topic.Arn, rollbackLogs.Arn),
			awsiam.Statement{Sid: "ReadExecutionInput", Actions: []string{"states:DescribeExecution"},
				Resources: []pulumi.StringInput{executions}})...),
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("rollback policy: %w", err)
	}
	rollbackFn, err := lambda.NewFunction(ctx, name+"-rollback-aborted", &lambda.FunctionArgs{
		Name:          pulumi.String(rollbackName),
		Description:   pulumi.String("Canary engine: roll back rollouts whose execution aborted, timed out or failed"),
		Runtime:       pulumi.String(lambdaRuntime),
		Architectures: pulumi.StringArray{pulumi.String("arm64")},
		Handler:       pulumi.String("bootstrap"),
		Code:          code,
		Role:          rollbackRole.Arn,
		Timeout:       pulumi.Int(rollbackTimeout),
		MemorySize:    pulumi.Int(512),
		Environment:   environment(contract.EntryRollbackAborted),
		Tags:          args.Tags,
	}, pulumi.Parent(d), pulumi.DependsOn([]pulumi.Resource{rollbackLogs, rollbackPolicy}))
	if err != nil {
		return fmt.Errorf("rollback function: %w", err)
	}

	pattern := machine.Arn.ApplyT(func(arn string) (string, error) {
		b, err := json.Marshal(map[string]any{
			"source":      []string{"aws.states"},
			"detail-type": []string{"Step Functions Execution Status Change"},
			"detail": map[string]any{
				"status":          []string{"ABORTED", "TIMED_OUT", "FAILED"},
				"stateMachineArn": []string{arn},
			},
		})
		return string(b), err
	}).(pulumi.StringOutput)
	rule, err := cloudwatch.NewEventRule(ctx, name+"-aborted-rule", &cloudwatch.EventRuleArgs{
		Name:         pulumi.String(args.Prefix + "-canary-aborted"),
		Description:  pulumi.String("Roll back rollouts whose execution did not finish"),
		EventPattern: pattern,
		Tags:         args.Tags,
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("aborted rule: %w", err)
	}
	permission, err := lambda.NewPermission(ctx, name+"-aborted-invoke", &lambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  rollbackFn.Name,
		Principal: pulumi.String("events.amazonaws.com"),
		SourceArn: rule.Arn,
	}, pulumi.Parent(d))
	if err != nil {
		return fmt.Errorf("aborted rule permission: %w", err)
	}
	if _, err := cloudwatch.NewEventTarget(ctx, name+"-aborted-target", &cloudwatch.EventTargetArgs{
		Rule: rule.Name,
		Arn:  rollbackFn.Arn,
		RetryPolicy: &cloudwatch.EventTargetRetryPolicyArgs{
			MaximumEventAgeInSeconds: pulumi.Int(3600),
			MaximumRetryAttempts:     pulumi.Int(8),
		},
	}, pulumi.Parent(d), pulumi.DependsOn([]pulumi.Resource{permission})); err != nil {
		return fmt.Errorf("aborted rule target: %w", err)
	}

	for _, e := range []struct {
		suffix string
		role   *iam.Role
	}{{"step", stepRole}, {"rollback", rollbackRole}} {
		// No access policy: the group below is all the engine gets.
		if _, err := awseks.NewAccessEntry(ctx, name+"-"+e.suffix+"-access", &awseks.AccessEntryArgs{
			ClusterName:      args.ClusterName,
			PrincipalArn:     e.role.Arn,
			Type:             pulumi.String("STANDARD"),
			KubernetesGroups: pulumi.StringArray{pulumi.String(enginerbac.Group)},
			Tags:             args.Tags,
		}, pulumi.Parent(d)); err != nil {
			return fmt.Errorf("%s access entry: %w", e.suffix, err)
		}
	}
	if err := enginerbac.New(ctx, name, &enginerbac.Args{Namespace: args.Namespace, NamespaceResource: args.NamespaceResource}, pulumi.Parent(d)); err != nil {
		return err
	}

	d.StateMachineArn = machine.Arn
	d.StateMachineName = machine.Name
	d.StepFunctionArn = stepFn.Arn
	d.RollbackFunctionArn = rollbackFn.Arn
	d.NotificationTopicArn = topic.Arn
	return nil
}
