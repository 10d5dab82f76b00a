package spec

import (
	"github.com/eks-canary/platform/lambdas/contract"

	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

var templateB64 = base64.StdEncoding.EncodeToString([]byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: ${MICROSERVICE_NAME}\n"))

// original is deploy.json as the original pipeline's yelb-ui build wrote it.
func original() map[string]any {
	return map[string]any{
		"cluster_name":            "blogpost",
		"microservice_name":       "yelb-ui",
		"kubernetes_namespace":    "yelb",
		"percentage_step":         25,
		"wait_time":               60,
		"failure_threshold_value": 5,
		"failure_threshold_time":  300,
		"container_image":         "123456789012.dkr.ecr.us-west-2.amazonaws.com/yelb-ui:2026-01-01_10.00.00.abcdef12",
		"config_file":             templateB64,
	}
}

func encode(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func with(changes map[string]any) map[string]any {
	m := original()
	for k, v := range changes {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func TestParseOriginalKeepsMeaningAndFillsDefaults(t *testing.T) {
	s, err := Parse(encode(t, original()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"percentage_step", s.PercentageStep, 25},
		{"wait_time", s.WaitTime, 60},
		{"failure_threshold_value", s.FailureThresholdValue, 5.0},
		{"failure_threshold_time", s.FailureThresholdTime, 300},
		{"router", s.Router, contract.RouterAppMesh},
		{"strategy", s.Strategy, StrategyCanary},
		{"max_weight", s.MaxWeight, 100},
		{"progress_deadline", s.ProgressDeadline, 600},
		{"bake_time", s.BakeTime, 0},
		{"analysis.interval", s.Analysis.Interval, 60},
		{"analysis.max_error_count follows failure_threshold_value", *s.Analysis.MaxErrorCount, 5.0},
		{"analysis.min_request_count", s.Analysis.MinRequestCount, 1},
		{"analysis.no_data", s.Analysis.NoData, NoDataHold},
		{"analysis.consecutive_failure_limit", s.Analysis.ConsecutiveFailureLimit, 2},
		{"analysis.baseline_comparison", *s.Analysis.Baseline, true},
		{"analysis.max_restarts", *s.Analysis.MaxRestarts, 0},
		{"analysis.unready_grace", *s.Analysis.UnreadyGrace, 30},
		{"analysis.min_success_rate", s.Analysis.MinSuccessRate == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseDefaultsWhenOriginalThresholdsMissing(t *testing.T) {
	s, err := Parse(encode(t, with(map[string]any{"failure_threshold_value": nil, "failure_threshold_time": nil, "wait_time": nil, "percentage_step": nil})))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.FailureThresholdValue != 0 || s.FailureThresholdTime != 600 {
		t.Errorf("thresholds = %v/%v, want the original defaults 0/600", s.FailureThresholdValue, s.FailureThresholdTime)
	}
	if s.WaitTime != 60 || s.PercentageStep != 10 {
		t.Errorf("wait_time/percentage_step = %d/%d, want 60/10", s.WaitTime, s.PercentageStep)
	}
}

func TestParseGatewayAPIDefaultsWaitTimeTo90(t *testing.T) {
	s, err := Parse(encode(t, with(map[string]any{"router": "gatewayapi", "wait_time": nil})))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.WaitTime != 90 {
		t.Errorf("wait_time = %d, want 90 for gatewayapi", s.WaitTime)
	}
}

func TestParseInPlacePassesWithoutData(t *testing.T) {
	s, err := Parse(encode(t, with(map[string]any{"strategy": "in-place"})))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.Analysis.NoData != NoDataPass {
		t.Errorf("no_data = %q, want pass for in-place", s.Analysis.NoData)
	}
	s, err = Parse(encode(t, with(map[string]any{"strategy": "in-place", "analysis": map[string]any{"no_data": "hold"}})))
	if err != nil || s.Analysis.NoData != NoDataHold {
		t.Errorf("explicit no_data not kept: %q, %v", s.Analysis.NoData, err)
	}
}

func TestParseAcceptsEveryAddition(t *testing.T) {
	in := with(map[string]any{
		"router": "gatewayapi", "strategy": "canary", "wait_time": 120, "steps": []int{5, 20, 50},
		"max_weight": 50, "bake_time": 300, "progress_deadline": 900, "manual_promotion": true,
		"analysis": map[string]any{
			"interval": 30, "min_success_rate": 99.5, "max_latency_p99_ms": 250, "max_error_count": 3,
			"min_request_count": 20, "no_data": "fail", "consecutive_failure_limit": 3, "baseline_comparison": false,
		},
	})
	s, err := Parse(encode(t, in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	a := s.Analysis
	if a.Interval != 30 || *a.MinSuccessRate != 99.5 || *a.MaxLatencyP99 != 250 || *a.MaxErrorCount != 3 ||
		a.MinRequestCount != 20 || a.NoData != NoDataFail || a.ConsecutiveFailureLimit != 3 || *a.Baseline {
		t.Errorf("analysis not kept as given: %+v", a)
	}
	if len(s.Steps) != 3 || s.MaxWeight != 50 || s.BakeTime != 300 || !s.ManualPromotion || s.ProgressDeadline != 900 {
		t.Errorf("additions not kept as given: %+v", s)
	}
}

// Prometheus measures latency behind either router.
func TestParseAcceptsLatencyFromPrometheusWithAppMesh(t *testing.T) {
	s, err := Parse(encode(t, with(map[string]any{"router": "appmesh",
		"analysis": map[string]any{"provider": "prometheus", "max_latency_p99_ms": 250}})))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.Analysis.Provider != contract.ProviderPrometheus || *s.Analysis.MaxLatencyP99 != 250 {
		t.Errorf("analysis not kept as given: %+v", s.Analysis)
	}
	s, err = Parse(encode(t, with(nil)))
	if err != nil || s.WithDefaults().Analysis.Provider != contract.ProviderCloudWatch {
		t.Errorf("default provider: %v, %q; want %q", err, s.WithDefaults().Analysis.Provider, contract.ProviderCloudWatch)
	}
}

// The limits of analysis.interval and manual_promotion accept their edges.
func TestParseAcceptsLimits(t *testing.T) {
	for name, changes := range map[string]map[string]any{
		"interval at its cap":                {"wait_time": 3600, "analysis": map[string]any{"interval": MaxInterval}},
		"manual promotion below max_weight":  {"percentage_step": 100, "max_weight": 50, "manual_promotion": true},
		"manual promotion with a step below": {"steps": []int{99}, "manual_promotion": true},
	} {
		if _, err := Parse(encode(t, with(changes))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name    string
		changes map[string]any
		want    []string // each must appear in one problem's message
	}{
		{"percentage step zero", map[string]any{"percentage_step": 0}, []string{"percentage_step: 0 is not allowed: use 1..100"}},
		{"percentage step above 100", map[string]any{"percentage_step": 101}, []string{"percentage_step: 101 is not allowed: use 1..100"}},
		{"wait time zero", map[string]any{"wait_time": 0}, []string{"wait_time: 0 is not allowed"}},
		{"wait time too short", map[string]any{"wait_time": 5}, []string{"wait_time: 5 is not allowed: use 10..86400 seconds"}},
		{"lattice wait time", map[string]any{"router": "gatewayapi", "wait_time": 60}, []string{`wait_time: 60 is too short for router "gatewayapi"`, "VPC Lattice needs about 90 s"}},
		{"negative threshold", map[string]any{"failure_threshold_value": -1}, []string{"failure_threshold_value: -1 is not allowed"}},
		{"look-back zero", map[string]any{"failure_threshold_time": 0}, []string{"failure_threshold_time: 0 is not allowed"}},
		{"look-back too short", map[string]any{"failure_threshold_time": 30}, []string{"failure_threshold_time: 30 is not allowed: use 60..86400"}},
		{"upper-case microservice", map[string]any{"microservice_name": "Yelb_UI"}, []string{`microservice_name: "Yelb_UI" is not allowed`}},
		{"microservice starting with a digit", map[string]any{"microservice_name": "1yelb"}, []string{`microservice_name: "1yelb" is not allowed`}},
		{"microservice too long", map[string]any{"microservice_name": strings.Repeat("a", 51)}, []string{"microservice_name:", "at most 50"}},
		{"namespace", map[string]any{"kubernetes_namespace": "-yelb"}, []string{`kubernetes_namespace: "-yelb" is not a valid namespace name`}},
		{"missing namespace", map[string]any{"kubernetes_namespace": nil}, []string{"kubernetes_namespace: is missing"}},
		{"cluster name", map[string]any{"cluster_name": "my cluster"}, []string{`cluster_name: "my cluster" is not a valid EKS cluster name`}},
		{"image with space", map[string]any{"container_image": "nginx latest"}, []string{`container_image: "nginx latest" is not a valid image reference`}},
		{"image upper case", map[string]any{"container_image": "Nginx:1"}, []string{`container_image: "Nginx:1" is not a valid image reference`}},
		{"image injection", map[string]any{"container_image": "nginx:1\n  command: [sh]"}, []string{"container_image:", "is not a valid image reference"}},
		{"missing image", map[string]any{"container_image": nil}, []string{"container_image: is missing"}},
		{"config not base64", map[string]any{"config_file": "not base64!"}, []string{"config_file: is not base64"}},
		{"config empty", map[string]any{"config_file": base64.StdEncoding.EncodeToString([]byte("  \n"))}, []string{"config_file: decodes to an empty template"}},
		{"router", map[string]any{"router": "istio"}, []string{`router: "istio" is not a known router: use "gatewayapi" or "appmesh"`}},
		{"strategy", map[string]any{"strategy": "bluegreen"}, []string{`strategy: "bluegreen" is not a known strategy`}},
		{"steps not increasing", map[string]any{"steps": []int{10, 10, 50}}, []string{"steps[1]: 10 is not allowed: weights must increase strictly: it follows 10"}},
		{"steps out of range", map[string]any{"steps": []int{0, 120}}, []string{"steps[0]: 0 is not allowed: use weights 1..100", "steps[1]: 120 is not allowed"}},
		{"steps empty", map[string]any{"steps": []int{}}, []string{"steps: [] is empty"}},
		{"max weight", map[string]any{"max_weight": 0}, []string{"max_weight: 0 is not allowed: use 1..100"}},
		{"max weight above 100", map[string]any{"max_weight": 150}, []string{"max_weight: 150 is not allowed"}},
		{"bake time", map[string]any{"bake_time": -5}, []string{"bake_time: -5 is not allowed"}},
		{"progress deadline", map[string]any{"progress_deadline": 10}, []string{"progress_deadline: 10 is not allowed: use 60..86400"}},
		{"interval too short", map[string]any{"analysis": map[string]any{"interval": 5}}, []string{"analysis.interval: 5 is not allowed"}},
		{"interval above wait time", map[string]any{"analysis": map[string]any{"interval": 120}}, []string{"analysis.interval: 120 is not allowed: use 10..60 seconds"}},
		{"success rate", map[string]any{"analysis": map[string]any{"min_success_rate": 101}}, []string{"analysis.min_success_rate: 101 is not allowed: use a percentage 0..100"}},
		{"latency with app mesh", map[string]any{"analysis": map[string]any{"max_latency_p99_ms": 300}}, []string{`analysis.max_latency_p99_ms: 300 needs router "gatewayapi"`}},
		{"provider", map[string]any{"analysis": map[string]any{"provider": "datadog"}}, []string{`analysis.provider: "datadog" is not a known metric source: use "cloudwatch" (the default) or "prometheus"`}},
		{"provider empty", map[string]any{"analysis": map[string]any{"provider": ""}}, []string{`analysis.provider: "" is empty: use "cloudwatch" or "prometheus", or leave it out for "cloudwatch"`}},
		{"latency not positive", map[string]any{"router": "gatewayapi", "wait_time": 90, "analysis": map[string]any{"max_latency_p99_ms": 0}}, []string{"analysis.max_latency_p99_ms: 0 is not allowed"}},
		{"error count", map[string]any{"analysis": map[string]any{"max_error_count": -2}}, []string{"analysis.max_error_count: -2 is not allowed"}},
		{"min requests", map[string]any{"analysis": map[string]any{"min_request_count": 0}}, []string{"analysis.min_request_count: 0 is not allowed"}},
		{"no data", map[string]any{"analysis": map[string]any{"no_data": "skip"}}, []string{`analysis.no_data: "skip" is not a known policy: use "hold"`}},
		{"failure limit", map[string]any{"analysis": map[string]any{"consecutive_failure_limit": 11}}, []string{"analysis.consecutive_failure_limit: 11 is not allowed: use 1..10"}},
		{"negative restarts", map[string]any{"analysis": map[string]any{"max_restarts": -1}}, []string{"analysis.max_restarts: -1 is not allowed: use 0..100"}},
		{"too many restarts", map[string]any{"analysis": map[string]any{"max_restarts": 101}}, []string{"analysis.max_restarts: 101 is not allowed: use 0..100"}},
		{"unready grace", map[string]any{"analysis": map[string]any{"unready_grace": 4000}}, []string{"analysis.unready_grace: 4000 is not allowed: use 0..3600 seconds"}},
		{"interval above the lock's margin", map[string]any{"wait_time": 3600, "analysis": map[string]any{"interval": 1200}}, []string{"analysis.interval: 1200 is not allowed: use 10..900 seconds"}},
		{"manual promotion in place", map[string]any{"strategy": "in-place", "manual_promotion": true}, []string{`manual_promotion: true is not allowed with strategy "in-place"`}},
		{"manual promotion in one step", map[string]any{"percentage_step": 100, "manual_promotion": true}, []string{"manual_promotion: true has no canary weight below 100 to hold at"}},
		{"manual promotion with steps at 100 only", map[string]any{"steps": []int{100}, "manual_promotion": true}, []string{"manual_promotion: true has no canary weight below 100"}},
		{"unknown field", map[string]any{"wait_tme": 60}, []string{`wait_tme: is not a known field: did you mean "wait_time"?`}},
		{"camel case field", map[string]any{"percentageStep": 10}, []string{`percentageStep: is not a known field: did you mean "percentage_step"?`}},
		{"unknown nested field", map[string]any{"analysis": map[string]any{"intervall": 30}}, []string{`analysis.intervall: is not a known field: did you mean "analysis.interval"?`}},
		{"unrelated field", map[string]any{"zzz": 1}, []string{"zzz: is not a known field: known fields:"}},
		{"wrong type", map[string]any{"wait_time": "60"}, []string{`wait_time: "60" has the wrong type: use a whole number`}},
		{"analysis not an object", map[string]any{"analysis": []int{1}}, []string{"analysis: [1] is not an object"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(encode(t, with(c.changes)))
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse error = %v, want *ValidationError", err)
			}
			for _, want := range c.want {
				found := false
				for _, p := range verr.Problems {
					if strings.Contains(p.Error(), want) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem contains %q; got:\n%v", want, err)
				}
			}
		})
	}
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	in := with(map[string]any{
		"percentage_step": 0, "router": "linkerd", "wiat_time": 3, "container_image": nil,
		"analysis": map[string]any{"no_data": "maybe", "intervall": 1},
	})
	_, err := Parse(encode(t, in))
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	fields := map[string]bool{}
	for _, p := range verr.Problems {
		fields[p.Field] = true
	}
	for _, f := range []string{"percentage_step", "router", "wiat_time", "container_image", "analysis.no_data", "analysis.intervall"} {
		if !fields[f] {
			t.Errorf("problem for %s missing in:\n%v", f, err)
		}
	}
	if len(verr.Problems) != 6 {
		t.Errorf("got %d problems, want 6:\n%v", len(verr.Problems), err)
	}
	if !strings.HasPrefix(err.Error(), "invalid deploy.json: 6 problems:") {
		t.Errorf("message %q does not start with the count", err.Error())
	}
}

func TestParseRejectsNonObjects(t *testing.T) {
	for _, in := range []string{"", "  ", "[]", `"x"`, "{", "null"} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
}

func TestParseNullMeansDefault(t *testing.T) {
	s, err := Parse(encode(t, with(map[string]any{"router": json.RawMessage("null")})))
	if err != nil {
		t.Fatal(err)
	}
	if s.Router != contract.RouterAppMesh {
		t.Errorf("router = %q", s.Router)
	}
}

func TestTemplateDecodesConfigFile(t *testing.T) {
	s, err := Parse(encode(t, original()))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := s.Template()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tmpl), "kind: Service") {
		t.Errorf("template = %q", tmpl)
	}
	s.ConfigFile = "%%%"
	if _, err := s.Template(); err == nil || !strings.Contains(err.Error(), "config_file of yelb-ui") {
		t.Errorf("bad base64: err = %v", err)
	}
}

func TestValidImages(t *testing.T) {
	good := []string{
		"nginx", "nginx:1.17.10", "library/nginx:latest", "localhost:5000/team/app:v1",
		"123456789012.dkr.ecr.us-west-2.amazonaws.com/yelb-appserver:2026-01-01_10.00.00.abcdef12",
		"public.ecr.aws/docker/library/redis:7@sha256:" + strings.Repeat("a", 64),
		"registry.example.com/a__b/c-d.e:tag_1",
	}
	for _, ref := range good {
		if err := CheckImage(ref); err != nil {
			t.Errorf("CheckImage(%q) = %v", ref, err)
		}
	}
	bad := []string{"", "Nginx", "nginx:", "nginx::1", "nginx:-x", "a/-b", "nginx@sha256:abc", "${IMAGE}", "nginx:1 ", "a:b:c", `nginx"`}
	for _, ref := range bad {
		if err := CheckImage(ref); err == nil {
			t.Errorf("CheckImage(%q) accepted", ref)
		}
	}
}

func TestWithDefaultsIsIdempotentAndValidates(t *testing.T) {
	s, err := Parse(encode(t, original()))
	if err != nil {
		t.Fatal(err)
	}
	again := s.WithDefaults()
	if !reflect.DeepEqual(again, s) {
		t.Errorf("WithDefaults changed a parsed spec:\n%+v\n%+v", s, again)
	}
	if err := again.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	again.PercentageStep = 500
	if err := again.Validate(); err == nil || !strings.Contains(err.Error(), "percentage_step: 500") {
		t.Errorf("Validate = %v", err)
	}
}

// The field reference in README.md must name every deploy.json field.
func TestReadmeListsEveryField(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	check := func(typ reflect.Type, prefix string) {
		for name := range jsonFields(typ) {
			if name == "analysis" {
				continue
			}
			if !strings.Contains(string(readme), "| `"+prefix+name+"` |") {
				t.Errorf("README.md has no row for %s%s", prefix, name)
			}
		}
	}
	check(reflect.TypeOf(Spec{}), "")
	check(reflect.TypeOf(Analysis{}), "analysis.")
}

// Custom queries are named, bounded PromQL for the Prometheus provider; each
// problem names its field, and a good query is kept as written.
func TestParseChecksCustomQueries(t *testing.T) {
	good := map[string]any{"name": "queue-errors", "max": 1,
		"query": `sum(rate(queue_errors_total{namespace="{{namespace}}",version="{{version}}"}[{{interval}}]))`}
	s, err := Parse(encode(t, with(map[string]any{"analysis": map[string]any{"provider": "prometheus", "queries": []any{good}}})))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if q := s.Analysis.Queries; len(q) != 1 || q[0].Name != "queue-errors" || *q[0].Max != 1 || q[0].Min != nil {
		t.Errorf("queries not kept as given: %+v", q)
	}
	query := func(changes map[string]any) map[string]any {
		q := map[string]any{}
		for k, v := range good {
			q[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(q, k)
			} else {
				q[k] = v
			}
		}
		return q
	}
	cases := []struct {
		name     string
		analysis map[string]any
		want     string
	}{
		{"without prometheus", map[string]any{"queries": []any{good}}, `analysis.queries: 1 queries need provider "prometheus"`},
		{"bad name", map[string]any{"provider": "prometheus", "queries": []any{query(map[string]any{"name": "Queue_Errors"})}}, `analysis.queries[0].name: "Queue_Errors" is not a query name`},
		{"same name twice", map[string]any{"provider": "prometheus", "queries": []any{good, good}}, `analysis.queries[1].name: "queue-errors" is used by an earlier query`},
		{"not PromQL", map[string]any{"provider": "prometheus", "queries": []any{query(map[string]any{"query": "sum(rate(x[5m])"})}}, "analysis.queries[0].query: \"sum(rate(x[5m])\" is not PromQL"},
		{"a range", map[string]any{"provider": "prometheus", "queries": []any{query(map[string]any{"query": "x[{{interval}}]"})}}, "yields a range vector"},
		{"unknown placeholder", map[string]any{"provider": "prometheus", "queries": []any{query(map[string]any{"query": `up{v="{{canary}}"}`})}}, "{{canary}} is not a placeholder"},
		{"no bounds", map[string]any{"provider": "prometheus", "queries": []any{query(map[string]any{"max": nil})}}, `analysis.queries[0]: "queue-errors" has no bounds`},
		{"min above max", map[string]any{"provider": "prometheus", "queries": []any{query(map[string]any{"min": 2})}}, "analysis.queries[0].min: 2 is above max 1"},
		{"too long", map[string]any{"provider": "prometheus", "queries": []any{query(map[string]any{"query": "up" + strings.Repeat(" ", MaxQueryBytes)})}}, "analysis.queries[0].query: 1.0 KiB (1026 bytes) is too long"},
		{"too many", map[string]any{"provider": "prometheus", "queries": []any{good, good, good, good, good, good}}, "analysis.queries: 6 queries are too many"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(encode(t, with(map[string]any{"analysis": c.analysis})))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse = %v, want %q", err, c.want)
			}
		})
	}
}
