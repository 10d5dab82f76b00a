package pipeline

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/lambdas/contract"
)

const envoyRequestCount = "$.envoy_http_downstream_rq_xx"

// FilterPatterns returns the CloudWatch Logs patterns that select one
// microservice's inbound Envoy request counters: all of them, and the 5xx
// class only.
func FilterPatterns(microservice string) (requests, errors5xx string) {
	base := fmt.Sprintf(`{ $.envoy_http_conn_manager_prefix = "ingress" && $.Version = "%s-*" }`, microservice)
	errs := fmt.Sprintf(`{ $.envoy_http_conn_manager_prefix = "ingress" && $.Version = "%s-*" && $.envoy_response_code_class = "5" }`, microservice)
	return base, errs
}

func (p *MicroservicePipeline) metricFilters(ctx *pulumi.Context, name string, args *MicroservicePipelineArgs) error {
	requests, errors5xx := FilterPatterns(args.Microservice)
	for _, f := range []struct{ suffix, metric, pattern string }{
		{"requests", contract.MetricRequests, requests},
		{"errors-5xx", contract.MetricErrors5xx, errors5xx},
	} {
		if _, err := cloudwatch.NewLogMetricFilter(ctx, name+"-"+f.suffix+"-filter", &cloudwatch.LogMetricFilterArgs{
			Name:         pulumi.String(args.Microservice + "-" + f.suffix),
			LogGroupName: pulumi.String(args.PrometheusLogGroup),
			Pattern:      pulumi.String(f.pattern),
			MetricTransformation: &cloudwatch.LogMetricFilterMetricTransformationArgs{
				Name:      pulumi.String(f.metric),
				Namespace: pulumi.String(contract.MetricsNamespaceAppMesh),
				Value:     pulumi.String(envoyRequestCount),
				Unit:      pulumi.String("Count"),
				Dimensions: pulumi.StringMap{
					"Namespace": pulumi.String("$.Namespace"),
					"Version":   pulumi.String("$.Version"),
				},
			},
		}, pulumi.Parent(p), pulumi.DependsOn([]pulumi.Resource{args.PrometheusLogGroupResource})); err != nil {
			return fmt.Errorf("%s metric filter: %w", f.metric, err)
		}
	}
	return nil
}

// DashboardBody plots the canary's traffic weight against its error rate, as
// the engine reports them, so a rollback can be read off one graph.
func DashboardBody(region, namespace, microservice string) (string, error) {
	metric := func(name string, options map[string]any) []any {
		return []any{contract.MetricsNamespaceEngine, name, "Namespace", namespace, "Microservice", microservice, options}
	}
	// widget is a full-width graph of per-minute values at row y; yAxis may be nil.
	widget := func(y, height int, title string, metrics []any, yAxis map[string]any) map[string]any {
		properties := map[string]any{
			"title":   microservice + ": " + title,
			"region":  region,
			"view":    "timeSeries",
			"period":  60,
			"metrics": metrics,
		}
		if yAxis != nil {
			properties["yAxis"] = yAxis
		}
		return map[string]any{"type": "metric", "x": 0, "y": y, "width": 24, "height": height, "properties": properties}
	}
	body := map[string]any{
		"widgets": []any{
			widget(0, 8, "canary weight vs error rate",
				[]any{
					metric(contract.MetricCanaryWeight, map[string]any{"label": "weight (%)", "yAxis": "left", "stat": "Maximum"}),
					metric(contract.MetricCanaryErrorRate, map[string]any{"label": "error rate (%)", "yAxis": "right", "stat": "Maximum"}),
				},
				map[string]any{
					"left":  map[string]any{"label": "canary weight %", "min": 0, "max": 100},
					"right": map[string]any{"label": "canary error rate %", "min": 0},
				}),
			widget(8, 6, "canary requests", []any{metric(contract.MetricCanaryRequests, map[string]any{"stat": "Sum"})}, nil),
		},
	}
	b, err := json.Marshal(body)
	return string(b), err
}

func (p *MicroservicePipeline) dashboard(ctx *pulumi.Context, name string, args *MicroservicePipelineArgs) (*cloudwatch.Dashboard, error) {
	body, err := DashboardBody(args.Region, args.Namespace, args.Microservice)
	if err != nil {
		return nil, fmt.Errorf("dashboard body: %w", err)
	}
	d, err := cloudwatch.NewDashboard(ctx, name+"-dashboard", &cloudwatch.DashboardArgs{
		DashboardName: pulumi.String(args.Prefix + "-" + args.Microservice + "-canary"),
		DashboardBody: pulumi.String(body),
	}, pulumi.Parent(p))
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return d, nil
}
