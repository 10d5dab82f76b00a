// Package scrape is the Prometheus scrape configuration that gives an
// application's series the labels the engine's queries select a version
// by (lambdas/analysis/prometheus): contract.PromLabelNamespace from the
// pod's namespace, and contract.PromLabelVersion, "<microservice>-<version>"
// (naming.VersionName), from the labels the engine writes on every
// version's pods over the template's. Neither comes from the application's
// own exposition: with honor_labels off, a series that carries its own
// "version" keeps it as "exported_version". The stack gives this
// configuration to the managed collector of the Amazon Managed Service for
// Prometheus workspace it creates; a self-run Prometheus can use it as it
// is.
package scrape

import (
	"fmt"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/naming"
)

// The pod annotations that opt a pod in, Prometheus's usual ones: scrape
// "true", the port serving the metrics, and their path (default /metrics).
const (
	AnnotationScrape = "prometheus.io/scrape"
	AnnotationPort   = "prometheus.io/port"
	AnnotationPath   = "prometheus.io/path"
)

// Interval is how often the collector scrapes: the managed collector's
// shortest, so an analysis window of a minute holds two samples a series.
const Interval = 30 * time.Second

// Job names the scrape job.
const Job = "canary-versions"

// Config is the scrape configuration for the pods of namespace that opt in
// and belong to a version the engine deployed.
func Config(namespace string) string {
	annotation, label := naming.PodMetaAnnotation, naming.PodMetaLabel
	return fmt.Sprintf(`global:
  scrape_interval: %s
  scrape_timeout: 10s
scrape_configs:
  - job_name: %s
    honor_labels: false
    sample_limit: 10000
    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [%q]
    relabel_configs:
      - source_labels: [%s]
        action: keep
        regex: "true"
      - source_labels: [%s, %s]
        action: keep
        regex: .+;.+
      - source_labels: [__meta_kubernetes_pod_phase]
        action: keep
        regex: Running
      - source_labels: [__address__, %s]
        action: replace
        regex: ([^:]+)(?::\d+)?;(\d+)
        replacement: ${1}:${2}
        target_label: __address__
      - source_labels: [%s]
        action: replace
        regex: (.+)
        target_label: __metrics_path__
      - source_labels: [__meta_kubernetes_namespace]
        action: replace
        target_label: %s
%s      - source_labels: [__meta_kubernetes_pod_name]
        action: replace
        target_label: pod
`, Interval, Job, namespace,
		annotation(AnnotationScrape),
		label(naming.LabelMicroservice), label(naming.LabelVersion),
		annotation(AnnotationPort),
		annotation(AnnotationPath),
		contract.PromLabelNamespace,
		VersionRule(contract.PromLabelVersion))
}

// VersionRule is the relabel_configs entry, indented for a scrape job,
// that writes "<microservice>-<version>" (naming.VersionName) from the
// engine's pod labels into target: the one way every scrape of the
// platform names a version.
func VersionRule(target string) string {
	return fmt.Sprintf(`      - source_labels: [%s, %s]
        action: replace
        separator: ;
        regex: (.+);(.+)
        replacement: ${1}-${2}
        target_label: %s
`, naming.PodMetaLabel(naming.LabelMicroservice), naming.PodMetaLabel(naming.LabelVersion), target)
}
