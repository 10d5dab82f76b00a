package insights

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/lambdas/analysis/prometheus/scrape"
)

// Prometheus agent names.
const (
	PrometheusAgent = "cwagent-prometheus"
	// AgentImage is the CloudWatch agent release the scraper runs.
	AgentImage = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300062.0b1304"
	// VersionLabel is the label the scrape adds to every Envoy series:
	// "<microservice>-<version>" from the labels the engine writes on every
	// version's pods (naming.LabelMicroservice, naming.LabelVersion) over
	// the template's, so no template can pass its pods off as another
	// version; one filter pattern selects one microservice and the
	// dimension separates versions.
	VersionLabel = "Version"
)

// PrometheusLogGroupName is where the agent writes Envoy's metrics as EMF.
func PrometheusLogGroupName(clusterName string) string {
	return containerInsight + clusterName + "/prometheus"
}

// PrometheusConfig is the scrape configuration: Envoy containers of the
// application namespace only, on the admin port's Prometheus endpoint.
func PrometheusConfig(namespace string) string {
	return fmt.Sprintf(`global:
  scrape_interval: 30s
  scrape_timeout: 10s
scrape_configs:
  - job_name: kubernetes-pod-appmesh-envoy
    sample_limit: 10000
    metrics_path: /stats/prometheus
    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [%q]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_container_name]
        action: keep
        regex: ^envoy$
      - source_labels: [__address__]
        action: replace
        regex: ([^:]+)(?::\d+)?
        replacement: ${1}:9901
        target_label: __address__
      - source_labels: [__meta_kubernetes_namespace]
        action: replace
        target_label: Namespace
      - source_labels: [__meta_kubernetes_pod_name]
        action: replace
        target_label: pod_name
      - source_labels: [__meta_kubernetes_pod_container_name]
        action: replace
        target_label: container_name
      - source_labels: [__meta_kubernetes_pod_controller_name]
        action: replace
        target_label: pod_controller_name
%s`, namespace, scrape.VersionRule(VersionLabel))
}

// AgentConfig is the CloudWatch agent's configuration: EMF to the
// Prometheus log group, with a metric declaration for Envoy's inbound
// request counters per version.
func AgentConfig(clusterName, region string) (string, error) {
	cfg := map[string]any{
		"agent": map[string]any{"region": region},
		"logs": map[string]any{
			"metrics_collected": map[string]any{
				"prometheus": map[string]any{
					"cluster_name":           clusterName,
					"log_group_name":         PrometheusLogGroupName(clusterName),
					"prometheus_config_path": "/etc/prometheusconfig/prometheus.yaml",
					"emf_processor": map[string]any{
						"metric_declaration_dedup": true,
						"metric_namespace":         "ContainerInsights/Prometheus",
						"metric_unit":              map[string]string{"envoy_http_downstream_rq_xx": "Count", "envoy_http_downstream_rq_total": "Count"},
						"metric_declaration": []map[string]any{{
							"source_labels":    []string{"container_name", "envoy_http_conn_manager_prefix"},
							"label_matcher":    "^envoy;ingress$",
							"dimensions":       [][]string{{"ClusterName", "Namespace", VersionLabel}},
							"metric_selectors": []string{"^envoy_http_downstream_rq_(total|xx)$"},
						}},
					},
				},
			},
			"force_flush_interval": 5,
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	return string(b), err
}

func (in *Insights) installPrometheus(ctx *pulumi.Context, name string, args *InsightsArgs, addon *awseks.Addon) error {
	if args.Namespace == "" || args.NamespaceResource == nil {
		return fmt.Errorf("prometheus: Namespace and NamespaceResource are required")
	}
	logGroupName := PrometheusLogGroupName(args.ClusterName)
	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-prometheus-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(logGroupName),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            args.Tags,
	}, pulumi.Parent(in))
	if err != nil {
		return fmt.Errorf("prometheus log group: %w", err)
	}
	in.PrometheusLogGroup = logGroup.Name
	in.PrometheusLogGroupName = logGroupName
	in.PrometheusLogGroupResource = logGroup

	role, policy, err := podIdentityRole(ctx, name+"-prometheus", "CloudWatch agent for Prometheus", args.Tags, in)
	if err != nil {
		return err
	}
	association, err := awseks.NewPodIdentityAssociation(ctx, name+"-prometheus", &awseks.PodIdentityAssociationArgs{
		ClusterName:    args.ClusterNameOut,
		Namespace:      pulumi.String(AgentNamespace),
		ServiceAccount: pulumi.String(PrometheusAgent),
		RoleArn:        role.Arn,
		Tags:           args.Tags,
	}, pulumi.Parent(in), pulumi.DependsOn([]pulumi.Resource{args.PodIdentityAgent, policy}))
	if err != nil {
		return fmt.Errorf("prometheus pod identity: %w", err)
	}

	// The add-on owns the amazon-cloudwatch namespace.
	inAgentNs := []pulumi.ResourceOption{pulumi.Parent(in), pulumi.DependsOn([]pulumi.Resource{addon})}
	sa, err := corev1.NewServiceAccount(ctx, name+"-prometheus-sa", &corev1.ServiceAccountArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(PrometheusAgent), Namespace: pulumi.String(AgentNamespace)},
	}, inAgentNs...)
	if err != nil {
		return fmt.Errorf("prometheus service account: %w", err)
	}
	// Pod discovery in the application namespace only: a namespaced Role,
	// not a ClusterRole.
	appNs := []pulumi.ResourceOption{pulumi.Parent(in), pulumi.DependsOn([]pulumi.Resource{args.NamespaceResource})}
	readPods, err := rbacv1.NewRole(ctx, name+"-prometheus-discovery", &rbacv1.RoleArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(PrometheusAgent), Namespace: pulumi.String(args.Namespace)},
		Rules: rbacv1.PolicyRuleArray{rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.StringArray{pulumi.String("")},
			Resources: pulumi.StringArray{pulumi.String("pods")},
			Verbs:     pulumi.StringArray{pulumi.String("get"), pulumi.String("list"), pulumi.String("watch")},
		}},
	}, appNs...)
	if err != nil {
		return fmt.Errorf("prometheus discovery role: %w", err)
	}
	binding, err := rbacv1.NewRoleBinding(ctx, name+"-prometheus-discovery", &rbacv1.RoleBindingArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(PrometheusAgent), Namespace: pulumi.String(args.Namespace)},
		RoleRef: &rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: readPods.Metadata.Name().Elem(),
		},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{
			Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(PrometheusAgent), Namespace: pulumi.String(AgentNamespace),
		}},
	}, appNs...)
	if err != nil {
		return fmt.Errorf("prometheus discovery binding: %w", err)
	}

	agentConfig, err := AgentConfig(args.ClusterName, args.Region)
	if err != nil {
		return fmt.Errorf("prometheus agent config: %w", err)
	}
	scrape, err := corev1.NewConfigMap(ctx, name+"-prometheus-scrape", &corev1.ConfigMapArgs{
		// Generated names: a new configuration gets a new ConfigMap, which
		// rolls the agent's pods.
		Metadata: &metav1.ObjectMetaArgs{Namespace: pulumi.String(AgentNamespace)},
		Data:     pulumi.StringMap{"prometheus.yaml": pulumi.String(PrometheusConfig(args.Namespace))},
	}, inAgentNs...)
	if err != nil {
		return fmt.Errorf("prometheus scrape config: %w", err)
	}
	agentCM, err := corev1.NewConfigMap(ctx, name+"-prometheus-agent", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Namespace: pulumi.String(AgentNamespace)},
		Data:     pulumi.StringMap{"cwagentconfig.json": pulumi.String(agentConfig)},
	}, inAgentNs...)
	if err != nil {
		return fmt.Errorf("prometheus agent config: %w", err)
	}

	labels := pulumi.StringMap{"app": pulumi.String(PrometheusAgent)}
	_, err = appsv1.NewDeployment(ctx, name+"-prometheus-agent", &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(PrometheusAgent), Namespace: pulumi.String(AgentNamespace)},
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(1),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec: &corev1.PodSpecArgs{
					ServiceAccountName: pulumi.String(PrometheusAgent),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:  pulumi.String("cloudwatch-agent"),
						Image: pulumi.String(AgentImage),
						Env: corev1.EnvVarArray{corev1.EnvVarArgs{
							Name: pulumi.String("CI_VERSION"), Value: pulumi.String("k8s/1.3.38"),
						}},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("200m"), "memory": pulumi.String("200Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("1"), "memory": pulumi.String("1000Mi")},
						},
						VolumeMounts: corev1.VolumeMountArray{
							corev1.VolumeMountArgs{Name: pulumi.String("prometheus-config"), MountPath: pulumi.String("/etc/prometheusconfig")},
							corev1.VolumeMountArgs{Name: pulumi.String("cwagentconfig"), MountPath: pulumi.String("/etc/cwagentconfig")},
						},
					}},
					Volumes: corev1.VolumeArray{
						corev1.VolumeArgs{Name: pulumi.String("prometheus-config"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: scrape.Metadata.Name()}},
						corev1.VolumeArgs{Name: pulumi.String("cwagentconfig"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: agentCM.Metadata.Name()}},
					},
				},
			},
		},
	}, pulumi.Parent(in), pulumi.DependsOn([]pulumi.Resource{addon, sa, binding, association, logGroup}))
	if err != nil {
		return fmt.Errorf("prometheus agent: %w", err)
	}
	return nil
}
