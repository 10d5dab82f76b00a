package gatewayapi

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
)

func jsonList(t *testing.T, s string) []any {
	t.Helper()
	var out []any // numbers int64, as in an unstructured object
	if err := utiljson.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHeaderRules(t *testing.T) {
	canary := map[string]any{"kind": "Service", "name": "shop-2", "port": int64(8080), "weight": int64(1)}
	weighted := `{"backendRefs":[{"name":"shop-2","weight":0},{"name":"shop-1","weight":100}]}`
	xCanary := []spec.HeaderMatch{{Name: "x-canary", Value: "always"}}
	for _, tt := range []struct {
		name    string
		rules   string
		headers []spec.HeaderMatch
		want    string // rules after, as JSON; empty when an error is wanted
		wantErr string
	}{
		{"a rule without matches gets the default path", "[" + weighted + "]", xCanary,
			`[{"backendRefs":[{"kind":"Service","name":"shop-2","port":8080,"weight":1}],"matches":[{"headers":[{"name":"x-canary","type":"Exact","value":"always"}],"path":{"type":"PathPrefix","value":"/"}}],"name":"canary-ab-0"},` + weighted + `]`, ""},
		{"the template's matches and headers are kept and ANDed",
			`[{"matches": [{"path": {"type": "PathPrefix", "value": "/api"}, "headers": [{"name": "x-region", "value": "eu"}]}, {"path": {"type": "Exact", "value": "/"}}], "backendRefs": [{"name": "shop-2", "weight": 0}, {"name": "shop-1", "weight": 100}]}]`,
			xCanary,
			`[{"backendRefs":[{"kind":"Service","name":"shop-2","port":8080,"weight":1}],"matches":[{"headers":[{"name":"x-region","value":"eu"},{"name":"x-canary","type":"Exact","value":"always"}],"path":{"type":"PathPrefix","value":"/api"}},{"headers":[{"name":"x-canary","type":"Exact","value":"always"}],"path":{"type":"Exact","value":"/"}}],"name":"canary-ab-0"},{"backendRefs":[{"name":"shop-2","weight":0},{"name":"shop-1","weight":100}],"matches":[{"headers":[{"name":"x-region","value":"eu"}],"path":{"type":"PathPrefix","value":"/api"}},{"path":{"type":"Exact","value":"/"}}]}]`, ""},
		{"rules to other services are left alone",
			`[{"backendRefs": [{"name": "other", "weight": 1}]}, ` + weighted + `]`, xCanary,
			`[{"backendRefs":[{"name":"other","weight":1}]},{"backendRefs":[{"kind":"Service","name":"shop-2","port":8080,"weight":1}],"matches":[{"headers":[{"name":"x-canary","type":"Exact","value":"always"}],"path":{"type":"PathPrefix","value":"/"}}],"name":"canary-ab-1"},` + weighted + `]`, ""},
		{"non-exact refused", "[" + weighted + "]", []spec.HeaderMatch{{Name: "x", Match: spec.MatchPrefix, Value: "a"}}, "",
			`ab.headers[0]: match "prefix" cannot be written: VPC Lattice matches headers exactly`},
		{"five headers with the template's", `[{"matches": [{"headers": [{"name": "a", "value": "1"}, {"name": "b", "value": "1"}]}], "backendRefs": [{"name": "shop-2", "weight": 0}]}]`,
			[]spec.HeaderMatch{{Name: "c", Value: "1"}, {Name: "d", Value: "1"}, {Name: "e", Value: "1"}, {Name: "f", Value: "1"}}, "",
			"rule 0 match 0: the template's 2 header conditions and ab.headers' 4 make 6, and VPC Lattice matches at most 5 per rule"},
		{"no rule to the canary", `[{"backendRefs": [{"name": "other", "weight": 1}]}]`, xCanary, "", "no rule sends to shop-2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := headerRules(jsonList(t, tt.rules), tt.headers, "shop-2", canary)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tt.want {
				t.Errorf("rules\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

// Weights reads past the A/B rule, so the split and the backends still in
// use are reported as they are.
func TestWeightsReadPastTheHeaderRule(t *testing.T) {
	rules, err := headerRules(jsonList(t, `[{"backendRefs": [{"name": "shop-2", "weight": 0}, {"name": "shop-1", "weight": 100}]}]`),
		[]spec.HeaderMatch{{Name: "x-canary", Value: "always"}}, "shop-2", map[string]any{"name": "shop-2", "weight": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	hr := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"rules": rules}}}
	hr.SetName("shop")
	found, err := ruleBackends(hr)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || !found[0].Header || found[1].Header {
		t.Fatalf("rules read %+v, want the A/B rule marked", found)
	}
	merged, err := router.MergeRoutes("shop", found)
	if err != nil {
		t.Fatal(err)
	}
	if router.FormatBackends(merged) != "shop-2=0, shop-1=100" {
		t.Errorf("merged %s", router.FormatBackends(merged))
	}
}
