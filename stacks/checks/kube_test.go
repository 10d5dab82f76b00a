package checks

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/internal/chartcheck"
	"github.com/eks-canary/platform/internal/kubecheck"
	"github.com/eks-canary/platform/internal/upstream"
)

// createdElsewhere are namespaces objects live in that the program does not
// declare, and what creates them.
var createdElsewhere = map[string]string{
	"kube-system":       "Kubernetes",
	"amazon-cloudwatch": "the amazon-cloudwatch-observability EKS add-on",
}

// chartFolder maps a release's chart and version to its vendored folder.
func chartFolder(release policy.Resource) (string, error) {
	chart, _ := release.Inputs["chart"].(string)
	version, _ := release.Inputs["version"].(string)
	dir, err := upstream.Dir()
	if err != nil {
		return "", err
	}
	name := path.Base(chart) + "-" + version
	if _, err := chartcheck.Load(upstream.ChartDir(dir, name)); err != nil {
		return "", fmt.Errorf("helm release %q installs chart %s %s, which is not vendored as testdata/upstream/charts/%s: vendor the upstream chart there and record it in testdata/upstream/README.md", release.Name, chart, version, name)
	}
	return upstream.ChartDir(dir, name), nil
}

// releaseObjects renders a release with exactly its recorded values.
func releaseObjects(t *testing.T, rel policy.Resource) []kubecheck.Object {
	t.Helper()
	dir, err := chartFolder(rel)
	if err != nil {
		t.Fatal(err)
	}
	c, err := chartcheck.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	values, _ := rel.Inputs["values"].(map[string]any)
	if unknown := chartcheck.UnknownKeys(c, values); len(unknown) > 0 {
		t.Errorf("helm release %q sets values the chart %s does not have: %s", rel.Name, c.Name(), strings.Join(unknown, ", "))
	}
	name, _ := rel.Inputs["name"].(string)
	ns, _ := rel.Inputs["namespace"].(string)
	objs, err := chartcheck.Render(c, name, ns, values)
	if err != nil {
		t.Errorf("helm release %q: %v", rel.Name, err)
		return nil
	}
	var out []kubecheck.Object
	for _, o := range objs {
		out = append(out, kubecheck.Object{Source: fmt.Sprintf("helm release %q (chart %s)", rel.Name, c.Name()), Obj: o, Namespace: ns})
	}
	return out
}

func TestKubernetesObjectsOnTheAPIServer(t *testing.T) {
	eachLayer(t, func(t *testing.T, r *run) {
		objs, releases, err := kubecheck.Objects(r.res.Owned())
		if err != nil {
			t.Fatal(err)
		}
		declared := upstream.CountKinds(objectsOf(objs))
		want := []string{"v1/Namespace", "v1/Secret", "rbac.authorization.k8s.io/v1/Role"}
		if r.cfg.TrafficLayer == layers[0] {
			want = append(want, "apiextensions.k8s.io/v1/CustomResourceDefinition", "gateway.networking.k8s.io/v1/Gateway", "gateway.networking.k8s.io/v1/GatewayClass")
		} else {
			want = append(want, "appmesh.k8s.aws/v1beta2/Mesh", "appmesh.k8s.aws/v1beta2/VirtualGateway", "v1/ConfigMap")
		}
		for _, kind := range want {
			if declared[kind] == 0 {
				t.Errorf("no %s among the declared objects %v", kind, declared)
			}
		}
		if len(releases) == 0 {
			t.Error("no helm releases")
		}
		for _, rel := range releases {
			objs = append(objs, releaseObjects(t, rel)...)
		}
		checker, err := kubecheck.New(plane.Get(t).Config)
		if err != nil {
			t.Fatal(err)
		}
		found, err := checker.DryRun(context.Background(), objs)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) > 0 {
			t.Errorf("%d of %d objects refused by the API server:%s", len(found), len(objs), lines(found))
		}
		for _, ns := range checker.Created {
			if _, ok := createdElsewhere[ns]; !ok {
				t.Errorf("objects live in namespace %s, which neither the program nor a known add-on creates", ns)
			}
		}
		t.Logf("%d objects (%d from %d releases) applied with dryRun=All, strict field validation", len(objs), len(objs)-len(declaredOnly(objs)), len(releases))
	})
}

func objectsOf(objs []kubecheck.Object) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.Obj
	}
	return out
}

func declaredOnly(objs []kubecheck.Object) []kubecheck.Object {
	var out []kubecheck.Object
	for _, o := range objs {
		if !strings.HasPrefix(o.Source, "helm release") {
			out = append(out, o)
		}
	}
	return out
}

// Every chart the program installs is vendored, and the planted unknown
// value is caught on the real release.
func TestChartValuesExistInTheCharts(t *testing.T) {
	var seen []string
	for _, layer := range layers {
		_, releases, err := kubecheck.Objects(devStack(t, layer).res.Owned())
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range releases {
			dir, err := chartFolder(rel)
			if err != nil {
				t.Fatal(err)
			}
			c, err := chartcheck.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			values, _ := rel.Inputs["values"].(map[string]any)
			planted := map[string]any{"controllerReplicaCount": 2}
			for k, v := range values {
				planted[k] = v
			}
			if got := chartcheck.UnknownKeys(c, planted); !slices.Contains(got, "controllerReplicaCount") {
				t.Errorf("release %q: planted unknown value not reported (got %v)", rel.Name, got)
			}
			seen = append(seen, c.Name())
		}
	}
	t.Logf("charts checked: %v", seen)
}
