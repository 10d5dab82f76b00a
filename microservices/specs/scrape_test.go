package specs

import (
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/analysis/prometheus/scrape"
)

// The app server's pods opt in to the stack's Prometheus scrape on the
// container port that serves /metrics, on either layer.
func TestAppServerPodsOptInToTheScrape(t *testing.T) {
	s := services[0]
	if s.name != "yelb-appserver" {
		t.Fatalf("services[0] is %s", s.name)
	}
	for _, routerName := range routerNames {
		t.Run(routerName, func(t *testing.T) {
			d := find(t, render(t, s, routerName, "yelb", 3, 10), "Deployment", s.name+"-3")
			annotations, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "annotations")
			if annotations[scrape.AnnotationScrape] != "true" {
				t.Fatalf("pod annotations %v: want %s \"true\"", annotations, scrape.AnnotationScrape)
			}
			_, spec := podSpec(t, d)
			containers, _, _ := unstructured.NestedSlice(spec, "containers")
			for _, c := range containers {
				c := c.(map[string]any)
				if c["name"] != s.name {
					continue
				}
				ports, _, _ := unstructured.NestedSlice(c, "ports")
				for _, p := range ports {
					if n, _, _ := unstructured.NestedInt64(p.(map[string]any), "containerPort"); strconv.FormatInt(n, 10) == annotations[scrape.AnnotationPort] {
						return
					}
				}
				t.Fatalf("%s %q is no port of container %s (%v)", scrape.AnnotationPort, annotations[scrape.AnnotationPort], s.name, ports)
			}
			t.Fatalf("no container %s", s.name)
		})
	}
}
