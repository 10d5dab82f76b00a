package config

import (
	"github.com/eks-canary/platform/lambdas/contract"

	"strings"
	"testing"
)

func lookup(m map[string]string) Lookup {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("dev", lookup(map[string]string{KeyRegion: "us-west-2"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ClusterName != "canary-dev" || c.TrafficLayer != contract.RouterGatewayAPI || c.Namespace != "yelb" ||
		c.NodeInstanceType != "t4g.medium" || c.NodeArchitecture != ArchARM64 || c.AMIType() != "AL2023_ARM_64_STANDARD" ||
		c.NodeMinCount != 2 || c.NodeCount != 3 || c.NodeMaxCount != 5 || c.AvailabilityZones != 3 ||
		!c.SampleMode || c.Branch != "main" || c.ManualApproval || c.LogRetentionDays != 14 ||
		c.BuildComputeType != "BUILD_GENERAL1_SMALL" || c.RolloutTimeoutSeconds != 7200 || c.IngressService != "yelb-ui" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	var names []string
	for _, m := range c.Microservices {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "yelb-ui,yelb-appserver,yelb-db,redis-server" {
		t.Fatalf("default microservices = %v", names)
	}
}

func TestServiceDomain(t *testing.T) {
	for _, tc := range []struct {
		cfg  map[string]string
		want string
		zone string
	}{
		{map[string]string{}, "canary-dev.internal", ""},
		{map[string]string{KeyClusterName: "Team-A"}, "team-a.internal", ""},
		{map[string]string{KeyServiceDomain: "svc.corp.example."}, "svc.corp.example", ""},
		{map[string]string{KeyHostedZoneID: "Z0123456789ABC", KeyServiceDomain: "canary.corp.internal"}, "canary.corp.internal", "Z0123456789ABC"},
	} {
		tc.cfg[KeyRegion] = "us-west-2"
		c, err := Load("dev", lookup(tc.cfg))
		if err != nil {
			t.Fatalf("%v: %v", tc.cfg, err)
		}
		if c.ServiceDomain != tc.want || c.HostedZoneID != tc.zone || !c.PublicIngress {
			t.Errorf("%v: serviceDomain %q hostedZoneId %q publicIngress %v; want %q %q true", tc.cfg, c.ServiceDomain, c.HostedZoneID, c.PublicIngress, tc.want, tc.zone)
		}
	}
}

func TestMicroserviceForms(t *testing.T) {
	c, err := Load("dev", lookup(map[string]string{
		KeyRegion:        "eu-central-1",
		KeyInstanceType:  "m6i.large",
		KeyMicroservices: `["orders", {"name": "payments", "buildComputeType": "BUILD_GENERAL1_MEDIUM"}]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeArchitecture != ArchX86 || c.AMIType() != "AL2023_x86_64_STANDARD" {
		t.Errorf("m6i.large resolved to %s / %s", c.NodeArchitecture, c.AMIType())
	}
	if len(c.Microservices) != 2 || c.Microservices[0] != (Microservice{Name: "orders"}) ||
		c.Microservices[1] != (Microservice{Name: "payments", BuildComputeType: "BUILD_GENERAL1_MEDIUM"}) {
		t.Fatalf("microservices = %+v", c.Microservices)
	}
}

func TestArchitecture(t *testing.T) {
	for it, want := range map[string]string{
		"t4g.medium": ArchARM64, "m7gd.large": ArchARM64, "c6gn.xlarge": ArchARM64, "x8g.large": ArchARM64,
		"g5g.xlarge": ArchARM64, "a1.large": ArchARM64, "m6i.large": ArchX86, "g4dn.xlarge": ArchX86,
		"g6e.xlarge": ArchX86, "m7i-flex.large": ArchX86, "t3.medium": ArchX86, "gr6.4xlarge": ArchX86,
	} {
		if got := Architecture(it); got != want {
			t.Errorf("Architecture(%s) = %s, want %s", it, got, want)
		}
	}
}

func TestErrorsNameKeyValueAndAllowed(t *testing.T) {
	cases := []struct {
		name string
		cfg  map[string]string
		want []string // every fragment must appear in the error
	}{
		{"missing region", map[string]string{}, []string{"aws:region is not set", "pulumi config set aws:region"}},
		{"bad region", map[string]string{KeyRegion: "mars-1"}, []string{"aws:region", `"mars-1"`, "us-west-2"}},
		{"traffic layer", map[string]string{KeyRegion: "us-west-2", KeyTrafficLayer: "istio"}, []string{"trafficLayer", `"istio"`, "appmesh, gatewayapi"}},
		{"namespace", map[string]string{KeyRegion: "us-west-2", KeyNamespace: "Yelb_NS"}, []string{"namespace", `"Yelb_NS"`, "lower-case"}},
		{"node count range", map[string]string{KeyRegion: "us-west-2", KeyNodeCount: "0"}, []string{"nodeCount", `"0"`, "from 1 to 100"}},
		{"node count order", map[string]string{KeyRegion: "us-west-2", KeyNodeMinCount: "4", KeyNodeCount: "3"}, []string{"nodeMinCount/nodeCount/nodeMaxCount", "4/3/5"}},
		{"zones", map[string]string{KeyRegion: "us-west-2", KeyZones: "4"}, []string{"availabilityZones", `"4"`, "from 2 to 3"}},
		{"sample mode", map[string]string{KeyRegion: "us-west-2", KeySampleMode: "yes please"}, []string{"sampleMode", `"yes please"`, "true or false"}},
		{"retention", map[string]string{KeyRegion: "us-west-2", KeyLogRetention: "10"}, []string{"logRetentionDays", `"10"`, "1, 3, 5, 7, 14"}},
		{"email", map[string]string{KeyRegion: "us-west-2", KeyEmail: "Ops <ops@example.com>"}, []string{"notificationEmail", "ops@example.com"}},
		{"branch", map[string]string{KeyRegion: "us-west-2", KeyBranch: "feature..x"}, []string{"branch", `"feature..x"`, "git branch"}},
		{"compute type on arm", map[string]string{KeyRegion: "us-west-2", KeyBuildComputeType: "BUILD_GENERAL1_MEDIUM"}, []string{"buildComputeType", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_SMALL, BUILD_GENERAL1_LARGE"}},
		{"microservice name", map[string]string{KeyRegion: "us-west-2", KeyMicroservices: `["ok", "Not_OK"]`}, []string{"microservices[1].name", `"Not_OK"`, "lower-case"}},
		{"duplicate microservice", map[string]string{KeyRegion: "us-west-2", KeyMicroservices: `["a", "a"]`}, []string{"microservices[1].name", "once"}},
		{"unknown microservice field", map[string]string{KeyRegion: "us-west-2", KeyMicroservices: `[{"name": "a", "port": 80}]`}, []string{"microservices[0]", "port"}},
		{"microservices not a list", map[string]string{KeyRegion: "us-west-2", KeyMicroservices: `yelb-ui`}, []string{"microservices", "list"}},
		{"weak password", map[string]string{KeyRegion: "us-west-2", KeyDBPassword: "short"}, []string{"dbPassword", "12 characters", "not shown"}},
		{"service domain", map[string]string{KeyRegion: "us-west-2", KeyServiceDomain: "Canary_Dev.internal"}, []string{"serviceDomain", `"Canary_Dev.internal"`, "lower-case labels"}},
		{"service domain one label", map[string]string{KeyRegion: "us-west-2", KeyServiceDomain: "internal"}, []string{"serviceDomain", "two labels"}},
		{"derived domain too long", map[string]string{KeyRegion: "us-west-2", KeyClusterName: strings.Repeat("c", 64)}, []string{"serviceDomain", "derived from clusterName", "set serviceDomain explicitly"}},
		{"zone id", map[string]string{KeyRegion: "us-west-2", KeyHostedZoneID: "zone-1", KeyServiceDomain: "corp.internal"}, []string{"hostedZoneId", `"zone-1"`, "Z0123456789ABCDEFGHIJ"}},
		{"zone without domain", map[string]string{KeyRegion: "us-west-2", KeyHostedZoneID: "Z0123456789ABC"}, []string{"serviceDomain is not set", "hostedZoneId", "pulumi config set serviceDomain"}},
		{"public ingress", map[string]string{KeyRegion: "us-west-2", KeyPublicIngress: "maybe"}, []string{"publicIngress", `"maybe"`, "true or false"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("dev", lookup(tc.cfg))
			if err == nil {
				t.Fatal("invalid configuration accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.name == "weak password" && strings.Contains(err.Error(), "short") {
				t.Error("the error leaks the secret value")
			}
		})
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := Load("dev", lookup(map[string]string{KeyRegion: "us-west-2", KeyTrafficLayer: "x", KeyNamespace: "Y"}))
	if err == nil || !strings.Contains(err.Error(), "trafficLayer") || !strings.Contains(err.Error(), "namespace") {
		t.Fatalf("want both errors reported together, got %v", err)
	}
}
