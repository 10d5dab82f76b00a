package config

import (
	"strings"
	"testing"
)

func TestClusterNameRefusedByTheNamesItMakes(t *testing.T) {
	long := strings.Repeat("c", 41)
	for _, tc := range []struct {
		name, cluster, services string
		want                    []string
	}{
		{"65-character Lambda name", long, "", []string{
			`the longest Lambda function name it makes, "` + long + `-canary-rollback-aborted", is 65 characters and AWS allows 64: use a clusterName of at most 40 characters`,
		}},
		{"underscore in a stack name", "my_cluster", "", []string{
			`it makes the CloudFormation stack name "my_cluster-yelb-ui-source", which AWS allows only as a letter first`,
		}},
		{"leading digit", "1canary", "", []string{`CloudFormation stack name "1canary-yelb-ui-source"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{KeyRegion: "us-west-2", KeyClusterName: tc.cluster}
			if tc.services != "" {
				cfg[KeyMicroservices] = tc.services
			}
			_, err := Load("dev", lookup(cfg))
			if err == nil {
				t.Fatalf("clusterName %q accepted", tc.cluster)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}

func TestLongestClusterNameThatFitsIsAccepted(t *testing.T) {
	cluster := strings.Repeat("c", 40)
	if _, err := Load("dev", lookup(map[string]string{KeyRegion: "us-west-2", KeyClusterName: cluster})); err != nil {
		t.Fatalf("clusterName of 40 characters refused: %v", err)
	}
	for _, names := range NamesFor(cluster, DefaultMicroservices) {
		for _, n := range names {
			if !strings.HasPrefix(n, cluster) {
				t.Errorf("derived name %q does not start with the cluster name", n)
			}
		}
	}
}
