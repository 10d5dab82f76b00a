package appmesh

import (
	"encoding/json"
	"strings"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/eks-canary/platform/lambdas/spec"
)

func TestHeaderRoutes(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	weighted := `{"name": "to-shop", "httpRoute": {"match": {"prefix": "/"}, "action": {"weightedTargets": [{"virtualNodeRef": {"name": "shop-2"}, "weight": 0}, {"virtualNodeRef": {"name": "shop-1"}, "weight": 100}]}}}`
	for _, tt := range []struct {
		name    string
		routes  string
		headers []spec.HeaderMatch
		want    string
		wantErr string
	}{
		{"every match kind", "[" + weighted + "]", []spec.HeaderMatch{
			{Name: "x-a", Value: "1"}, {Name: "x-b", Match: spec.MatchPrefix, Value: "beta-"}, {Name: "x-c", Match: spec.MatchSuffix, Value: "-eu"},
			{Name: "x-d", Match: spec.MatchRegex, Value: "^v[0-9]+$"}, {Name: "x-e", Match: spec.MatchRange, Start: n(1), End: n(50)}, {Name: "x-f", Match: spec.MatchPresent},
		}, `[{"httpRoute":{"action":{"weightedTargets":[{"virtualNodeRef":{"name":"shop-2"},"weight":1}]},"match":{"headers":[{"match":{"exact":"1"},"name":"x-a"},{"match":{"prefix":"beta-"},"name":"x-b"},{"match":{"suffix":"-eu"},"name":"x-c"},{"match":{"regex":"^v[0-9]+$"},"name":"x-d"},{"match":{"range":{"end":50,"start":1}},"name":"x-e"},{"name":"x-f"}],"prefix":"/"}},"name":"canary-ab-to-shop","priority":0},` + compact(t, weighted) + `]`, ""},
		{"one above the copied route's priority", `[{"name": "to-shop", "priority": 10, "http2Route": {"match": {"prefix": "/"}, "action": {"weightedTargets": [{"virtualNodeRef": {"name": "shop-2"}, "weight": 0}]}}}]`,
			[]spec.HeaderMatch{{Name: "x-canary", Value: "always"}},
			`[{"http2Route":{"action":{"weightedTargets":[{"virtualNodeRef":{"name":"shop-2"},"weight":1}]},"match":{"headers":[{"match":{"exact":"always"},"name":"x-canary"}],"prefix":"/"}},"name":"canary-ab-to-shop","priority":9},{"http2Route":{"action":{"weightedTargets":[{"virtualNodeRef":{"name":"shop-2"},"weight":0}]},"match":{"prefix":"/"}},"name":"to-shop","priority":10}]`, ""},
		{"priority 0 cannot be preceded", `[{"name": "to-shop", "priority": 0, "httpRoute": {"match": {"prefix": "/"}, "action": {"weightedTargets": [{"virtualNodeRef": {"name": "shop-2"}, "weight": 0}]}}}]`,
			[]spec.HeaderMatch{{Name: "x-canary", Value: "always"}}, "", `route "to-shop" has priority 0, the highest`},
		{"tcp refused", `[{"name": "to-redis", "tcpRoute": {"action": {"weightedTargets": [{"virtualNodeRef": {"name": "shop-2"}, "weight": 0}]}}}]`,
			[]spec.HeaderMatch{{Name: "x-canary", Value: "always"}}, "", `route "to-redis" is a tcpRoute: TCP carries no HTTP headers, so the A/B stage cannot select requests by header`},
		{"grpc refused", `[{"name": "to-rpc", "grpcRoute": {"match": {"serviceName": "s"}, "action": {"weightedTargets": [{"virtualNodeRef": {"name": "shop-2"}, "weight": 0}]}}}]`,
			[]spec.HeaderMatch{{Name: "x-canary", Value: "always"}}, "", `route "to-rpc" is a grpcRoute: gRPC routes match metadata`},
		{"ten headers with the template's", `[{"name": "to-shop", "httpRoute": {"match": {"prefix": "/", "headers": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}, {"name": "e"}, {"name": "f"}, {"name": "g"}, {"name": "h"}, {"name": "i"}, {"name": "j"}]}, "action": {"weightedTargets": [{"virtualNodeRef": {"name": "shop-2"}, "weight": 0}]}}}]`,
			[]spec.HeaderMatch{{Name: "x-canary", Value: "always"}}, "", "the template's 10 header conditions and ab.headers' 1 make 11, and App Mesh matches at most 10 per route"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var routes []any
			// As in an unstructured object, numbers are int64.
			if err := utiljson.Unmarshal([]byte(tt.routes), &routes); err != nil {
				t.Fatal(err)
			}
			got, err := headerRoutes(routes, tt.headers, "shop-2")
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
				t.Errorf("routes\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

func compact(t *testing.T, s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
