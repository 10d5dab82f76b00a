// Command engine is the canary engine's Lambda bootstrap (provided.al2023).
// CANARY_ENTRY selects the entry point:
//
//	step              one Task of the rollout state machine
//	rollback-aborted  an EventBridge "Step Functions Execution Status Change"
//	                  for an aborted, timed-out or failed execution; when its
//	                  own retries give up it records phase Failed, holds the
//	                  lock and notifies, and returns the error so that the
//	                  event is delivered again
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"k8s.io/client-go/rest"

	"github.com/eks-canary/platform/lambdas/analysis/cloudwatch"
	"github.com/eks-canary/platform/lambdas/analysis/prometheus"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/hooks"
	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/notify"
	"github.com/eks-canary/platform/lambdas/router/routers"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/template"
)

func main() {
	var level slog.Level
	if err := level.UnmarshalText([]byte(envOr(contract.EnvLogLevel, "INFO"))); err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	policy, err := template.ParsePolicy(os.Getenv(contract.EnvAllowedServiceAccounts), os.Getenv(contract.EnvAllowedServiceTypes))
	if err != nil {
		log.Error("read the template policy", "error", err)
		os.Exit(1)
	}
	// A deploy.json without router gets the stack's traffic layer.
	if err := spec.SetDefaultRouter(envOr(contract.EnvTrafficLayer, contract.Routers()[0])); err != nil {
		log.Error("read the traffic layer", "error", err, "variable", contract.EnvTrafficLayer)
		os.Exit(1)
	}
	hookFunctions, err := hooks.ParseFunctions(os.Getenv(contract.EnvHookFunctions))
	if err != nil {
		log.Error("read the allowed hook functions", "error", err)
		os.Exit(1)
	}
	hookCIDRs, err := hooks.ParseCIDRs(os.Getenv(contract.EnvHookAllowedCIDRs))
	if err != nil {
		log.Error("read the allowed webhook networks", "error", err, "variable", contract.EnvHookAllowedCIDRs)
		os.Exit(1)
	}
	timeout, err := rolloutTimeout(os.Getenv(contract.EnvRolloutTimeout))
	if err != nil {
		log.Error("read the rollout timeout", "error", err)
		os.Exit(1)
	}
	eng := &engine.Engine{
		Connector: &engine.RESTConnector{Source: func(ctx context.Context, cluster string) (*rest.Config, error) {
			return kube.ForEKS(ctx, awsCfg, cluster)
		}},
		Routers:       routers.All(),
		Metrics:       cloudwatch.New(awsCfg, os.Getenv(contract.EnvAppMeshMetricsNamespace)),
		Alarms:        cloudwatch.NewAlarmSource(awsCfg),
		Log:           log,
		ServiceDomain: os.Getenv(contract.EnvServiceDomain),
		Policy:        policy,
		HookFunctions: hookFunctions,
		// Webhooks use hooks.Client: checked addresses, no redirects, no proxy.
		HookAllowedCIDRs: hookCIDRs,
		// Every execution comes from a microservice's pipeline.
		PipelineExecutions: true,
		RolloutTimeout:     timeout,
	}
	if address := os.Getenv(contract.EnvPrometheusURL); address != "" {
		p, err := prometheus.ForEndpoint(address, func() (aws.CredentialsProvider, error) { return awsCfg.Credentials, nil })
		if err != nil {
			log.Error("read the Prometheus query endpoint", "error", err, "variable", contract.EnvPrometheusURL)
			os.Exit(1)
		}
		eng.Prometheus = p
	}
	if topic := os.Getenv(contract.EnvNotifyTopicArn); topic != "" {
		eng.Notifier = notify.SNS{Client: sns.NewFromConfig(awsCfg), TopicArn: topic}
	} else {
		eng.Notifier = notify.Log{Logger: log}
	}

	switch entry := os.Getenv(contract.EnvEntry); entry {
	case contract.EntryStep:
		lambda.Start(stepHandler(eng))
	case contract.EntryRollbackAborted:
		lambda.Start(rollbackHandler(eng, sfn.NewFromConfig(awsCfg)))
	default:
		log.Error(contract.EnvEntry+" must be "+contract.EntryStep+" or "+contract.EntryRollbackAborted, contract.EnvEntry, entry)
		os.Exit(1)
	}
}

// stepHandler reports errors with the names the state machine's Retry and
// Catch match on.
func stepHandler(eng *engine.Engine) func(context.Context, engine.Event) (json.RawMessage, error) {
	return func(ctx context.Context, ev engine.Event) (json.RawMessage, error) {
		out, err := eng.Handle(ctx, ev)
		if err != nil {
			return nil, messages.InvokeResponse_Error{Type: engine.ErrorName(err), Message: err.Error()}
		}
		return out, nil
	}
}

// ExecutionDescriber reads an execution's input when the event omits it.
type ExecutionDescriber interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

func rollbackHandler(eng *engine.Engine, executions ExecutionDescriber) func(context.Context, events.CloudWatchEvent) error {
	return func(ctx context.Context, ev events.CloudWatchEvent) error {
		var ended engine.ExecutionEnded
		if err := json.Unmarshal(ev.Detail, &ended); err != nil {
			return fmt.Errorf("decode %s event: %w", ev.DetailType, err)
		}
		// EventBridge leaves the input out when it is too large.
		if ended.Input == "" {
			out, err := executions.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(ended.ExecutionArn)})
			if err != nil {
				return fmt.Errorf("read the input of execution %s: %w", ended.ExecutionArn, err)
			}
			ended.Input = aws.ToString(out.Input)
		}
		return eng.RollBackEnded(ctx, ended)
	}
}

// rolloutTimeout reads the state machine's TimeoutSeconds; unset means the
// stack's default.
func rolloutTimeout(v string) (time.Duration, error) {
	if v == "" {
		return contract.DefaultRolloutTimeout, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a whole number of seconds above 0 (the stack's %s)", contract.EnvRolloutTimeout, v, contract.ConfigRolloutTimeout)
	}
	return time.Duration(n) * time.Second, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
