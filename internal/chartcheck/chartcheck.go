// Package chartcheck renders the vendored Helm charts with exactly the
// values the program passes, using Helm's own engine (helm.sh/helm/v3), and
// checks those values against the chart: every key must exist in the
// chart's values.yaml and the merged values must satisfy values.schema.json.
package chartcheck

import (
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/internal/upstream"
)

// Load reads a vendored chart folder.
func Load(dir string) (*chart.Chart, error) {
	c, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	return c, nil
}

// UnknownKeys lists the keys of values (dotted paths) that the chart's
// values.yaml does not have. Below a key whose default is an empty map or
// null (podAnnotations: {}), any key is the user's own.
func UnknownKeys(c *chart.Chart, values map[string]any) []string {
	var out []string
	var walk func(path string, v, def map[string]any)
	walk = func(path string, v, def map[string]any) {
		for k, val := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			d, ok := def[k]
			if !ok {
				out = append(out, p)
				continue
			}
			sub, isMap := val.(map[string]any)
			dsub, defIsMap := d.(map[string]any)
			if isMap && defIsMap && len(dsub) > 0 {
				walk(p, sub, dsub)
			}
		}
	}
	walk("", values, c.Values)
	sort.Strings(out)
	return out
}

// Render renders the chart's templates as `helm install` would for a
// release in namespace, validating the merged values against the chart's
// schema first, and decodes the manifests. Like Helm, it leaves namespaced
// objects without metadata.namespace to the client, which puts them in the
// release's namespace.
func Render(c *chart.Chart, release, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	caps := chartutil.DefaultCapabilities.Copy()
	merged, err := chartutil.ToRenderValues(c, values, opts, caps)
	if err != nil {
		return nil, fmt.Errorf("chart %s values: %w", c.Name(), err)
	}
	files, err := engine.Render(c, merged)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", c.Name(), err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []*unstructured.Unstructured
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".yml") {
			continue // NOTES.txt, helpers
		}
		decoded, err := upstream.Decode(files[n])
		if err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", c.Name(), n, err)
		}
		objs = append(objs, decoded...)
	}
	return objs, nil
}
