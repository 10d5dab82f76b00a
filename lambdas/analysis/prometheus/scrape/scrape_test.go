package scrape_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/analysis/prometheus/scrape"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/naming"
)

var plane testcluster.Shared

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

// file is the part of Prometheus's configuration file that Config writes;
// read strictly, a key Prometheus would not know fails the test.
type file struct {
	Global struct {
		ScrapeInterval model.Duration `yaml:"scrape_interval"`
		ScrapeTimeout  model.Duration `yaml:"scrape_timeout"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName     string                 `yaml:"job_name"`
		HonorLabels bool                   `yaml:"honor_labels"`
		SampleLimit int                    `yaml:"sample_limit"`
		Kubernetes  []*kubernetes.SDConfig `yaml:"kubernetes_sd_configs"`
		Relabel     []*relabel.Config      `yaml:"relabel_configs"`
	} `yaml:"scrape_configs"`
}

// load reads Config(namespace) as Prometheus loads its configuration
// file: strictly, each relabelling rule validated with the stricter
// (legacy) label names.
func load(t *testing.T, namespace string) file {
	t.Helper()
	var f file
	config := scrape.Config(namespace)
	if err := yaml.UnmarshalStrict([]byte(config), &f); err != nil {
		t.Fatalf("Prometheus would refuse the configuration: %v\n%s", err, config)
	}
	for _, job := range f.ScrapeConfigs {
		for i, rule := range job.Relabel {
			if err := rule.Validate(model.LegacyValidation); err != nil {
				t.Fatalf("job %s, relabel rule %d: %v", job.JobName, i, err)
			}
		}
	}
	return f
}

func TestConfigIsWhatTheManagedCollectorTakes(t *testing.T) {
	f := load(t, "yelb")
	// The managed collector refuses intervals under 30 s.
	if interval := time.Duration(f.Global.ScrapeInterval); interval < 30*time.Second || time.Duration(f.Global.ScrapeTimeout) >= interval {
		t.Errorf("scrape_interval %s, scrape_timeout %s: want an interval of at least 30 s and a shorter timeout", interval, time.Duration(f.Global.ScrapeTimeout))
	}
	if len(f.ScrapeConfigs) != 1 || f.ScrapeConfigs[0].HonorLabels || len(f.ScrapeConfigs[0].Kubernetes) != 1 {
		t.Fatalf("want one job, honor_labels off, one Kubernetes discovery: %+v", f.ScrapeConfigs)
	}
	sd := f.ScrapeConfigs[0].Kubernetes[0]
	if sd.Role != kubernetes.RolePod || !slices.Equal(sd.NamespaceDiscovery.Names, []string{"yelb"}) {
		t.Errorf("discovery of %s in %v, want pods in yelb only", sd.Role, sd.NamespaceDiscovery.Names)
	}
}

// Prometheus's own Kubernetes discovery, run against a real API server,
// and its relabelling, given the configuration the stack hands the
// managed collector: only the engine's versions that opt in, in the
// application namespace, are scraped, each once, with the labels the
// engine's queries select on.
func TestConfigLabelsTheEnginesVersions(t *testing.T) {
	c := plane.Get(t)
	ns, elsewhere := c.Namespace(t), c.Namespace(t)
	const svc = "yelb-appserver"
	engine := func(version string) map[string]string {
		return map[string]string{"app": svc, naming.LabelMicroservice: svc, naming.LabelVersion: version}
	}
	optIn := map[string]string{scrape.AnnotationScrape: "true", scrape.AnnotationPort: "4567"}
	pods := []struct {
		namespace, name string
		labels, annot   map[string]string
	}{
		{ns, "v3", engine("3"), optIn},
		{ns, "v4", engine("4"), map[string]string{scrape.AnnotationScrape: "true", scrape.AnnotationPort: "4567", scrape.AnnotationPath: "/v4/metrics"}},
		{ns, "opted-out", engine("3"), nil},
		{ns, "not-the-engines", map[string]string{"app": svc, naming.LabelVersion: "3"}, optIn},
		{elsewhere, "other-namespace", engine("3"), optIn},
	}
	ctx := context.Background()
	for _, p := range pods {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: p.namespace, Labels: p.labels, Annotations: p.annot},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "app", Image: "registry.local/" + svc + ":1",
				// Two ports are two discovered targets; relabelled to the
				// annotated port they are one.
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 4567}, {Name: "admin", ContainerPort: 9901}},
			}}},
		}
		if _, err := c.Clientset.CoreV1().Pods(p.namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ips := map[string]string{}
	for _, p := range pods {
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			live, err := c.Clientset.CoreV1().Pods(p.namespace).Get(ctx, p.name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			ips[p.name] = live.Status.PodIP
			return live.Status.Phase == corev1.PodRunning && live.Status.PodIP != "", nil
		})
		if err != nil {
			t.Fatalf("pod %s never ran with an address: %v", p.name, err)
		}
	}

	job := load(t, ns).ScrapeConfigs[0]
	want := []string{
		target(ips["v3"]+":4567", "/metrics", map[string]string{"job": scrape.Job, "instance": ips["v3"] + ":4567", "pod": "v3",
			contract.PromLabelNamespace: ns, contract.PromLabelVersion: naming.VersionName(svc, 3)}),
		target(ips["v4"]+":4567", "/v4/metrics", map[string]string{"job": scrape.Job, "instance": ips["v4"] + ":4567", "pod": "v4",
			contract.PromLabelNamespace: ns, contract.PromLabelVersion: naming.VersionName(svc, 4)}),
	}
	var got []string
	groups := discover(t, job.Kubernetes[0], c.Kubeconfig, 4)
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		got = scraped(groups(), job.JobName, job.Relabel)
		return slices.Equal(got, want), nil
	})
	if err != nil {
		t.Fatalf("targets after relabelling:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// discover runs Prometheus's Kubernetes discovery of sd against the API
// server of kubeconfig (the managed collector finds its own cluster) until
// the test ends; the function returned reads the latest target group of
// every pod, once there are at least pods of them.
func discover(t *testing.T, sd *kubernetes.SDConfig, kubeconfig string, pods int) func() []*targetgroup.Group {
	t.Helper()
	local := *sd
	local.KubeConfig = kubeconfig
	reg := prometheus.NewRegistry()
	metrics := local.NewDiscovererMetrics(reg, discovery.NewRefreshMetrics(reg))
	if err := metrics.Register(); err != nil {
		t.Fatal(err)
	}
	d, err := kubernetes.New(nil, metrics, &local)
	if err != nil {
		t.Fatalf("start Kubernetes discovery: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan []*targetgroup.Group)
	go d.Run(ctx, ch)
	latest := map[string]*targetgroup.Group{}
	t.Cleanup(cancel)
	take := func(update []*targetgroup.Group) {
		for _, g := range update {
			latest[g.Source] = g
		}
	}
	return func() []*targetgroup.Group {
		for len(latest) < pods {
			select {
			case update := <-ch:
				take(update)
			case <-time.After(30 * time.Second):
				t.Fatalf("discovery found %d pods in 30 s, want %d", len(latest), pods)
			}
		}
		for {
			select {
			case update := <-ch:
				take(update)
			default:
				return slices.Collect(maps.Values(latest))
			}
		}
	}
}

// scraped is what Prometheus would scrape from groups under job: its
// labels before relabelling (the group's, the target's, the job's
// defaults), the rules applied, and the targets left, each once.
func scraped(groups []*targetgroup.Group, job string, rules []*relabel.Config) []string {
	seen := map[string]bool{}
	for _, g := range groups {
		for _, tl := range g.Targets {
			b := labels.NewBuilder(labels.EmptyLabels())
			for k, v := range g.Labels {
				b.Set(string(k), string(v))
			}
			for k, v := range tl {
				b.Set(string(k), string(v))
			}
			b.Set(model.JobLabel, job)
			b.Set(model.MetricsPathLabel, "/metrics")
			if !relabel.ProcessBuilder(b, rules...) {
				continue
			}
			address, path := b.Get(model.AddressLabel), b.Get(model.MetricsPathLabel)
			if b.Get(model.InstanceLabel) == "" {
				b.Set(model.InstanceLabel, address)
			}
			kept := map[string]string{}
			b.Labels().Range(func(l labels.Label) {
				if !strings.HasPrefix(l.Name, model.ReservedLabelPrefix) {
					kept[l.Name] = l.Value
				}
			})
			seen[target(address, path, kept)] = true
		}
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func target(address, path string, kept map[string]string) string {
	return fmt.Sprintf("http://%s%s %v", address, path, labels.FromMap(kept))
}
