package config

import (
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
)

func TestPrometheusQueryURL(t *testing.T) {
	for _, tc := range []struct{ value, err string }{
		{"", ""},
		{"http://prometheus.monitoring:9090", ""},
		{"https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1/", ""},
		{"prometheus:9090", `config ` + contract.ConfigPrometheusQueryURL + `: "prometheus:9090" is not valid`},
		{"https://aps-workspaces.us-west-2.amazonaws.com/api", "an Amazon Managed Service for Prometheus workspace's prometheusEndpoint"},
	} {
		c, err := Load("dev", lookup(map[string]string{KeyRegion: "us-west-2", KeyPrometheusURL: tc.value}))
		if tc.err == "" {
			if err != nil || c.PrometheusQueryURL != tc.value {
				t.Errorf("%q: %q, %v", tc.value, c.PrometheusQueryURL, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: err %v, want it to contain %q", tc.value, err, tc.err)
		}
	}
}

func TestPrometheusWorkspace(t *testing.T) {
	c, err := Load("dev", lookup(map[string]string{KeyRegion: "us-west-2", KeyPrometheusWS: "true"}))
	if err != nil || !c.PrometheusWorkspace {
		t.Fatalf("%s true: %v, %v", KeyPrometheusWS, c.PrometheusWorkspace, err)
	}
	if c, err := Load("dev", lookup(map[string]string{KeyRegion: "us-west-2"})); err != nil || c.PrometheusWorkspace {
		t.Fatalf("unset: %v, %v; want no workspace", c.PrometheusWorkspace, err)
	}
	_, err = Load("dev", lookup(map[string]string{KeyRegion: "us-west-2", KeyPrometheusWS: "true", KeyPrometheusURL: "http://prometheus.monitoring:9090"}))
	if err == nil || !strings.Contains(err.Error(), "config "+contract.ConfigPrometheusWorkspace+": true together with "+contract.ConfigPrometheusQueryURL) {
		t.Fatalf("both keys: err %v, want one naming both", err)
	}
	if _, err := Load("dev", lookup(map[string]string{KeyRegion: "us-west-2", KeyPrometheusWS: "yes"})); err == nil || !strings.Contains(err.Error(), "allowed values are true or false") {
		t.Fatalf("yes: err %v", err)
	}
}
