package pulumitest_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	pt "github.com/eks-canary/platform/internal/pulumitest"
)

// recorder keeps what a check reports instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestGetWalksPaths(t *testing.T) {
	inputs := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"pod-security.kubernetes.io/enforce": "restricted"}},
		"spec":     map[string]any{"containers": []any{map[string]any{"image": "nginx:1"}}},
	}
	for path, want := range map[string]any{
		`metadata.labels["pod-security.kubernetes.io/enforce"]`: "restricted",
		"spec.containers[0].image":                              "nginx:1",
		"spec.containers[1].image":                              nil,
		"spec.missing.deeper":                                   nil,
	} {
		got, err := pt.Get(inputs, path)
		if err != nil || got != want {
			t.Errorf("Get(%s) = %v, %v; want %v", path, got, err, want)
		}
	}
	if _, err := pt.Get(inputs, `spec[x]`); err == nil || !strings.Contains(err.Error(), "spec[x]") {
		t.Errorf("a path that does not parse gave %v, want an error quoting it", err)
	}
}

func TestEqualNormalisesGoValues(t *testing.T) {
	for _, tc := range []struct {
		got, want any
		equal     bool
	}{
		{2.0, 2, true},
		{[]any{"a", "b"}, []string{"a", "b"}, true},
		{[]any{"a"}, []string{"a", "b"}, false},
		{map[string]any{"k": "v"}, map[string]string{"k": "v"}, true},
		{nil, pt.Absent, true},
		{"x", pt.Absent, false},
		{"a long string", pt.Contains("long"), true},
		{[]any{1.0, 2.0}, pt.Len(2), true},
		{`{"Statement":[{"Condition":{"StringEquals":{"aws:SourceAccount":"1"}}}]}`, pt.InJSON(`Statement[0].Condition.StringEquals["aws:SourceAccount"]`, "1"), true},
		{`{"Statement":[{"Condition":{"StringEquals":{"aws:SourceAccount":"2"}}}]}`, pt.InJSON(`Statement[0].Condition.StringEquals["aws:SourceAccount"]`, "1"), false},
		{`{"Statement":[{}]}`, pt.InJSON(`Statement[0].Condition`, pt.Absent), true},
		{`not json`, pt.InJSON(`Statement`, pt.Absent), false},
	} {
		if got := pt.Equal(tc.got, tc.want); got != tc.equal {
			t.Errorf("Equal(%#v, %#v) = %v, want %v", tc.got, tc.want, got, tc.equal)
		}
	}
}

func TestCheckNamesTheResourceAndTheProperty(t *testing.T) {
	res := pt.MustRun(t, func(ctx *pulumi.Context) error {
		_, err := corev1.NewNamespace(ctx, "app", &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String("yelb"), Labels: pulumi.StringMap{"team": pulumi.String("shop")},
		}})
		return err
	})
	r := &recorder{TB: t}
	pt.Check(r, res, []pt.Row{
		pt.R(pt.TypeNamespace, "app", "metadata.name", "yelb", "passes"),
		pt.R(pt.TypeNamespace, "app", "metadata.labels.team", "web", "the team label"),
		pt.R(pt.TypeNamespace, "other", "metadata.name", "x", "a missing resource"),
	})
	want := []string{
		`kubernetes:core/v1:Namespace "app": metadata.labels.team = "shop", want "web" (the team label)`,
		`kubernetes:core/v1:Namespace "other": no such resource (a missing resource)`,
	}
	if strings.Join(r.errors, "\n") != strings.Join(want, "\n") {
		t.Errorf("Check reported\n%s\nwant\n%s", strings.Join(r.errors, "\n"), strings.Join(want, "\n"))
	}
}
