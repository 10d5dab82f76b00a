package kubecheck

import (
	"context"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/internal/testcluster"
)

var plane testcluster.Shared

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

func check(t *testing.T, resources ...policy.Resource) []Finding {
	t.Helper()
	objs, _, err := Objects(resources)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(plane.Get(t).Config)
	if err != nil {
		t.Fatal(err)
	}
	found, err := c.DryRun(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func reports(t *testing.T, found []Finding, source, want string) {
	t.Helper()
	if len(found) != 1 || !strings.Contains(found[0].String(), source) || !strings.Contains(found[0].Err, want) {
		t.Fatalf("got %v, want one finding from %s saying %q", found, source, want)
	}
}

func TestValidObjectsPassAndAreNotPersisted(t *testing.T) {
	found := check(t,
		policy.Resource{Type: "kubernetes:core/v1:Namespace", Name: "app", Inputs: map[string]any{"metadata": map[string]any{"name": "kubecheck-app"}}},
		policy.Resource{Type: "kubernetes:core/v1:ConfigMap", Name: "settings", Inputs: map[string]any{
			"metadata": map[string]any{"name": "settings", "namespace": "kubecheck-app"}, "data": map[string]any{"a": "b"}}},
	)
	if len(found) > 0 {
		t.Fatalf("valid objects refused: %v", found)
	}
	if _, err := plane.Get(t).Clientset.CoreV1().ConfigMaps("kubecheck-app").Get(context.Background(), "settings", metav1.GetOptions{}); err == nil {
		t.Fatal("the dry run persisted the ConfigMap")
	}
}

func TestUnknownFieldIsReportedWithTheResource(t *testing.T) {
	found := check(t, policy.Resource{Type: "kubernetes:core/v1:ConfigMap", Name: "insights-agent-config", Inputs: map[string]any{
		"metadata": map[string]any{"name": "agent", "namespace": "default"}, "dataa": map[string]any{"a": "b"}}})
	reports(t, found, `"insights-agent-config"`, ".dataa: field not declared in schema")
}

func TestCRDSchemaViolationIsReported(t *testing.T) {
	found := check(t, policy.Resource{Type: "kubernetes:gateway.networking.k8s.io/v1:Gateway", Name: "traffic-gateway", Inputs: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "canary-gateway", "namespace": "default"},
		"spec": map[string]any{"gatewayClassName": "amazon-vpc-lattice", "listeners": []any{
			map[string]any{"name": "http", "protocol": "HTTP", "port": float64(70000)}}}}})
	reports(t, found, `"traffic-gateway"`, "spec.listeners[0].port")
}

func TestConfigGroupIsDecodedLikeTheProvider(t *testing.T) {
	found := check(t, policy.Resource{Type: "kubernetes:yaml/v2:ConfigGroup", Name: "traffic-crds", Inputs: map[string]any{
		"yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one, namespace: default}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two, namespace: default}\nbogus: 1\n"}})
	reports(t, found, "ConfigMap default/two", ".bogus: field not declared in schema")
}
