package insights_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"sigs.k8s.io/yaml"

	"github.com/eks-canary/platform/infra/insights"
	"github.com/eks-canary/platform/infra/policy"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/lambdas/analysis/prometheus/scrape"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/stacks/offline"
)

func run(t *testing.T, prometheus bool) *offline.Result {
	t.Helper()
	return pt.MustRun(t, func(ctx *pulumi.Context) error {
		agent, err := awseks.NewAddon(ctx, "pod-identity-agent", &awseks.AddonArgs{ClusterName: pulumi.String("canary-dev"), AddonName: pulumi.String("eks-pod-identity-agent")})
		if err != nil {
			return err
		}
		ns, err := corev1.NewNamespace(ctx, "app", &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("yelb")}})
		if err != nil {
			return err
		}
		_, err = insights.NewInsights(ctx, "insights", &insights.InsightsArgs{
			ClusterName: "canary-dev", ClusterNameOut: pulumi.String("canary-dev"), Region: "us-west-2",
			PodIdentityAgent: agent, LogRetentionDays: 30, Prometheus: prometheus, Namespace: "yelb", NamespaceResource: ns,
		})
		return err
	})
}

func TestContainerInsights(t *testing.T) {
	res := run(t, false)
	rows := []pt.Row{
		pt.R(pt.TypeAddon, "insights-observability", "addonName", insights.AddonName, "the CloudWatch Observability add-on"),
		pt.R(pt.TypeAddon, "insights-observability", "clusterName", "canary-dev", "in the stack's cluster"),
		pt.R(pt.TypeAddon, "insights-observability", "podIdentityAssociations[0].serviceAccount", insights.AgentAccount, "the agent gets its role through Pod Identity"),
		pt.R(pt.TypeAddon, "insights-observability", "resolveConflictsOnCreate", "OVERWRITE", "the add-on owns its objects"),
		pt.R(pt.TypeRole, "insights-agent-role", "assumeRolePolicy", pt.Contains("pods.eks.amazonaws.com"), "a Pod Identity role"),
		pt.R(pt.TypeAttachment, "insights-agent-policy", "policyArn", insights.AgentPolicyArn, "the agent's managed policy"),
	}
	for _, g := range []string{"application", "dataplane", "host", "performance"} {
		rows = append(rows,
			pt.R(pt.TypeLogGroup, "insights-"+g+"-logs", "name", "/aws/containerinsights/canary-dev/"+g, "the group the add-on writes to"),
			pt.R(pt.TypeLogGroup, "insights-"+g+"-logs", "retentionInDays", 30, "logRetentionDays, so the group does not live forever"))
	}
	pt.Check(t, res, rows)

	addon := pt.Find(t, res, pt.TypeAddon, "insights-observability")
	for _, dep := range []policy.Resource{
		pt.Find(t, res, pt.TypeAddon, "pod-identity-agent"),
		pt.Find(t, res, pt.TypeLogGroup, "insights-application-logs"),
		pt.Find(t, res, pt.TypeAttachment, "insights-agent-policy"),
	} {
		if !slices.Contains(addon.Dependencies, dep.URN) {
			t.Errorf("%s %q does not wait for %s %q", addon.Type, addon.Name, dep.Type, dep.Name)
		}
	}
	if n := len(res.ByType(pt.TypeDeployment)); n != 0 {
		t.Errorf("%d Deployments without Prometheus: the Envoy scraper is for App Mesh only", n)
	}
	if v := policy.Check(res.Owned()); len(v) != 0 {
		t.Errorf("policy violations: %v", v)
	}
}

func TestPrometheusAgentForEnvoy(t *testing.T) {
	res := run(t, true)
	pod := "spec.template.spec."
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeLogGroup, "insights-prometheus-logs", "name", "/aws/containerinsights/canary-dev/prometheus", "the group the metric filters read"),
		pt.R(pt.TypeLogGroup, "insights-prometheus-logs", "retentionInDays", 30, "logRetentionDays"),
		pt.R(pt.TypePodIdentity, "insights-prometheus", "namespace", insights.AgentNamespace, "Pod Identity for the agent's namespace"),
		pt.R(pt.TypePodIdentity, "insights-prometheus", "serviceAccount", insights.PrometheusAgent, "and its service account"),
		pt.R(pt.TypeServiceAcct, "insights-prometheus-sa", "metadata.namespace", insights.AgentNamespace, "the add-on's namespace"),
		pt.R(pt.TypeK8sRole, "insights-prometheus-discovery", "metadata.namespace", "yelb", "pod discovery in the application namespace only"),
		pt.R(pt.TypeK8sRole, "insights-prometheus-discovery", "rules[0].resources", []string{"pods"}, "it reads pods"),
		pt.R(pt.TypeK8sRole, "insights-prometheus-discovery", "rules[0].verbs", []string{"get", "list", "watch"}, "and nothing else"),
		pt.R(pt.TypeK8sRoleBind, "insights-prometheus-discovery", "subjects[0].namespace", insights.AgentNamespace, "bound to the agent's service account"),
		pt.R(pt.TypeK8sRoleBind, "insights-prometheus-discovery", "roleRef.kind", "Role", "a namespaced Role, not a ClusterRole"),
		pt.R(pt.TypeConfigMap, "insights-prometheus-scrape", `data["prometheus.yaml"]`, insights.PrometheusConfig("yelb"), "the scrape configuration"),
		pt.R(pt.TypeDeployment, "insights-prometheus-agent", "metadata.namespace", insights.AgentNamespace, "the agent runs beside the add-on"),
		pt.R(pt.TypeDeployment, "insights-prometheus-agent", pod+"serviceAccountName", insights.PrometheusAgent, "with its Pod Identity service account"),
		pt.R(pt.TypeDeployment, "insights-prometheus-agent", pod+"containers[0].image", insights.AgentImage, "the pinned agent image"),
		pt.R(pt.TypeDeployment, "insights-prometheus-agent", pod+"containers[0].resources.limits.memory", "1000Mi", "bounded memory"),
	})
	scrape := pt.Str(pt.Find(t, res, pt.TypeConfigMap, "insights-prometheus-scrape").Inputs, `data["prometheus.yaml"]`)
	for _, want := range []string{"regex: ^envoy$", naming.PodMetaLabel(naming.LabelMicroservice) + ", " + naming.PodMetaLabel(naming.LabelVersion), "target_label: Version", `names: ["yelb"]`, "/stats/prometheus"} {
		if !strings.Contains(scrape, want) {
			t.Errorf("%s %q: data[\"prometheus.yaml\"] lacks %q", pt.TypeConfigMap, "insights-prometheus-scrape", want)
		}
	}
	if v := policy.Check(res.Owned()); len(v) != 0 {
		t.Errorf("policy violations: %v", v)
	}
}

// The scrape relabels the engine's pod labels into Version the way
// Prometheus does (source labels joined by the separator, the anchored
// regex, the replacement expanded), and a template's own app and version
// labels do not count.
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
	got, ok := relabel(map[string]string{naming.PodMetaLabel(naming.LabelMicroservice): "yelb-appserver", naming.PodMetaLabel(naming.LabelVersion): "3",
		"__meta_kubernetes_pod_label_app": "yelb-ui", "__meta_kubernetes_pod_label_version": "9"})
	if !ok || got != "yelb-appserver-3" {
		t.Errorf("Version = %q (%v), want yelb-appserver-3", got, ok)
	}
	if got, ok := relabel(map[string]string{"__meta_kubernetes_pod_label_app": "ingress-gw", "__meta_kubernetes_pod_label_version": "1"}); ok {
		t.Errorf("a pod the engine did not label got Version %q", got)
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

// The workspace is filled by a managed collector in the cluster's network
// with the scrape the engine's queries assume, and its query endpoint and
// ARN are what the component gives the engine.
func TestManagedPrometheus(t *testing.T) {
	var queryURL, workspaceArn string
	res := pt.MustRun(t, func(ctx *pulumi.Context) error {
		mp, err := insights.NewManagedPrometheus(ctx, "prometheus", &insights.ManagedPrometheusArgs{
			Alias:            "canary-dev",
			ClusterArn:       pulumi.String("arn:aws:eks:us-west-2:" + offline.Account + ":cluster/canary-dev"),
			SubnetIds:        pulumi.ToStringArray([]string{"subnet-0a", "subnet-0b"}),
			SecurityGroupIds: pulumi.ToStringArray([]string{"sg-0c"}),
			Namespace:        "yelb",
		})
		if err != nil {
			return err
		}
		pulumi.All(mp.QueryUrl, mp.WorkspaceArn).ApplyT(func(v []any) error {
			queryURL, workspaceArn = v[0].(string), v[1].(string)
			return nil
		})
		return nil
	})
	ws := res.Outputs[pt.Find(t, res, pt.TypeAMPWorkspace, "prometheus-workspace").URN]
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeAMPWorkspace, "prometheus-workspace", "alias", "canary-dev", "named after the cluster"),
		pt.R(pt.TypeAMPScraper, "prometheus-collector", "source.eks.clusterArn", pt.HasPrefix("arn:aws:eks:us-west-2:"), "scrapes the stack's cluster"),
		pt.R(pt.TypeAMPScraper, "prometheus-collector", "source.eks.subnetIds", []string{"subnet-0a", "subnet-0b"}, "from the cluster's subnets"),
		pt.R(pt.TypeAMPScraper, "prometheus-collector", "source.eks.securityGroupIds", []string{"sg-0c"}, "with the cluster's security group"),
		pt.R(pt.TypeAMPScraper, "prometheus-collector", "destination.amp.workspaceArn", pt.Str(ws, "arn"), "into the new workspace"),
		pt.R(pt.TypeAMPScraper, "prometheus-collector", "scrapeConfiguration", scrape.Config("yelb"), "the scrape the engine's queries assume"),
	})
	if want := pt.Str(ws, "prometheusEndpoint"); queryURL != want || workspaceArn != pt.Str(ws, "arn") {
		t.Errorf("outputs queryUrl %q and workspaceArn %q, want the workspace's endpoint %q and ARN", queryURL, workspaceArn, want)
	}
	if _, _, ok, err := contract.PrometheusWorkspace(queryURL); !ok || err != nil {
		t.Errorf("queryUrl %q is not a workspace endpoint the engine signs for (%v)", queryURL, err)
	}
}
