package chartcheck

import (
	"strings"
	"testing"

	"github.com/eks-canary/platform/internal/upstream"
)

func chartOf(t *testing.T, name string) string {
	t.Helper()
	dir, err := upstream.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return upstream.ChartDir(dir, name)
}

func TestUnknownValueIsReported(t *testing.T) {
	c, err := Load(chartOf(t, upstream.GatewayControllerChart))
	if err != nil {
		t.Fatal(err)
	}
	got := UnknownKeys(c, map[string]any{
		"serviceAccount": map[string]any{"create": true, "name": "gateway-api-controller", "annotationz": map[string]any{}},
		"awsRegion":      "us-west-2",
		"clusterVPCId":   "vpc-1",
	})
	if strings.Join(got, ",") != "clusterVPCId,serviceAccount.annotationz" {
		t.Fatalf("unknown keys %v, want clusterVPCId and serviceAccount.annotationz", got)
	}
}

func TestSchemaViolationIsReported(t *testing.T) {
	c, err := Load(chartOf(t, upstream.ExternalDNSChart))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Render(c, "external-dns", "external-dns", map[string]any{"policy": "delete-everything"})
	if err == nil || !strings.Contains(err.Error(), "policy") {
		t.Fatalf("invalid policy: got %v, want a schema error naming policy", err)
	}
}

func TestRendersEveryChart(t *testing.T) {
	for _, name := range []string{upstream.AppMeshChart, upstream.GatewayControllerChart, upstream.ExternalDNSChart} {
		c, err := Load(chartOf(t, name))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Render(c, "r", "ns", map[string]any{"clusterName": "c", "region": "us-west-2"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		kinds := upstream.CountKinds(objs)
		if kinds["apps/v1/Deployment"] != 1 {
			t.Errorf("%s renders %v, want one Deployment", name, kinds)
		}
	}
}
