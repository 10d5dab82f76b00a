package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// lineOf is the 1-based line of tmpl on which s starts.
func lineOf(t *testing.T, tmpl, s string) int {
	t.Helper()
	i := strings.Index(tmpl, s)
	if i < 0 {
		t.Fatalf("template has no %q", s)
	}
	return strings.Count(tmpl[:i], "\n") + 1
}

// Hostile and careless deploy.json and templates are refused through the
// real Validate, cheaply, each with the field or line to fix and how.
func TestValidateRefusesUnreadableInput(t *testing.T) {
	gate := map[string]any{"name": "gate", "point": "confirm_traffic", "kind": "http", "url": "https://hooks.example.com/canary"}
	withGate := func(field string, value any) func(*testing.T, map[string]any) {
		return func(_ *testing.T, d map[string]any) {
			h := map[string]any{field: value}
			for k, v := range gate {
				if k != field {
					h[k] = v
				}
			}
			d["hooks"] = []any{h}
		}
	}
	const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
	cases := []struct {
		name   string
		tmpl   func(*testing.T, string) (string, string) // the edited template and the text whose line the message names
		change func(*testing.T, map[string]any)
		raw    func(*testing.T, []byte) []byte
		want   []string
		absent []string
	}{
		{name: "deep and large", raw: func(*testing.T, []byte) []byte {
			return []byte(strings.Repeat(`{"kkkkkkkkkkkkkkkkkkk":`, 9990) + "{}" + strings.Repeat("}", 9990))
		}, want: []string{"invalid deploy.json: deploy.json: 234.1 KiB (239762 bytes) is too large"}, absent: []string{"nests", "not a known field"}},
		{name: "nested too deep", change: func(_ *testing.T, d map[string]any) {
			d["analysis"] = json.RawMessage(`{"alarms": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}")
		}, want: []string{"deploy.json: nests more than 32 levels deep, at analysis.alarms[0][0]", "deploy.json needs 4 levels"}, absent: []string{"wrong type"}},
		{name: "mistyped hook field", change: withGate("timeout", "30"),
			want: []string{`hooks[0].timeout: "30" has the wrong type: use a whole number of seconds`}, absent: []string{"spec.", "Go value", "hooks: ["}},
		{name: "mistyped header field", change: func(_ *testing.T, d map[string]any) {
			d["ab"] = map[string]any{"headers": []any{map[string]any{"name": "x-canary", "value": true}}}
		}, want: []string{`ab.headers[0].value: true has the wrong type: use a string: the header value to match`}, absent: []string{"HeaderMatch"}},
		{name: "number out of range", change: func(_ *testing.T, d map[string]any) { d["failure_threshold_value"] = json.RawMessage("1e400") },
			want: []string{"failure_threshold_value: 1e400 is out of range: use a number of 5xx responses, e.g. 5; numbers must lie within ±1.7976931348623157e+308"}, absent: []string{"float64"}},
		{name: "hold 0", change: withGate("hold", 0),
			want: []string{"hooks[0].hold: 0 is not allowed: use 1..86400 seconds the gate may keep failing, or leave it out for 3600"}},
		{name: "canary_min_replicas 0", change: func(_ *testing.T, d map[string]any) { d["canary_scale"] = "proportional"; d["canary_min_replicas"] = 0 },
			want: []string{"canary_min_replicas: 0 is not allowed: use 1..100 replicas"}},
		{name: "empty strategy", change: func(_ *testing.T, d map[string]any) { d["strategy"] = "" },
			want: []string{`strategy: "" is empty: use "canary", "blue-green" or "in-place", or leave it out for "canary"`}},
		{name: "too many duplicates to list", raw: func(_ *testing.T, b []byte) []byte {
			return append([]byte("{"+strings.Repeat(`"wait_time": 90, `, 100)), b[1:]...)
		}, want: []string{"wait_time: is written twice", fmt.Sprintf("deploy.json: has %d more problems", 100-spec.MaxProblems)}},
		{name: "tab indentation", tmpl: func(t *testing.T, s string) (string, string) {
			return edit(t, s, imageLine, "\t  image: ${CONTAINER_IMAGE}\n"), "\t  image"
		}, want: []string{"invalid kubernetes template: line %d: invalid YAML: found a tab character that violates indentation: the line is indented with a tab: YAML indentation must use spaces"}},
		{name: "no space after a colon", tmpl: func(t *testing.T, s string) (string, string) {
			return edit(t, s, imageLine, "          image:${CONTAINER_IMAGE}\n"), "          image:$"
		}, want: []string{`line %d: invalid YAML:`, `"image:registry.local/shop:2" has no space after the colon: write "image: registry.local/shop:2"`}},
		{name: "unterminated quote", tmpl: func(t *testing.T, s string) (string, string) {
			s = appendDoc(configMap+"  name: \"shop-config\ndata:\n  a: b\n")(t, s)
			return s, "  name: \"shop-config"
		}, want: []string{"line %d: invalid YAML:", "the quoted value is not closed"}},
		{name: "document that is a list", tmpl: func(t *testing.T, s string) (string, string) {
			return appendDoc("- "+strings.ReplaceAll(configMap, "\n", "\n  ")+"  name: shop-config\n")(t, s), "- apiVersion"
		}, want: []string{"line %d: a document must be a Kubernetes object (a mapping with apiVersion, kind and metadata), not a list: write each object as its own document"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			router := contract.RouterGatewayAPI
			tmpl := testTemplate(t, router)
			want := c.want
			if c.tmpl != nil {
				var at string
				tmpl, at = c.tmpl(t, tmpl)
				want = append([]string(nil), c.want...)
				want[0] = fmt.Sprintf(want[0], lineOf(t, tmpl, at))
			}
			d := goodDeploy(router, tmpl)
			if c.change != nil {
				c.change(t, d)
			}
			raw := marshal(t, d)
			if c.raw != nil {
				raw = c.raw(t, raw)
			}
			out, err := validator(t, template.Policy{}).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: raw})
			if err == nil {
				t.Fatalf("Validate accepted it: %s", out)
			}
			requireRefused(t, err, want, c.absent)
		})
	}
}

// Zeros that mean something pass Validate: the refusals above are of
// zeros a default would replace, not of zeros.
func TestValidateKeepsMeaningfulZeros(t *testing.T) {
	d := goodDeploy(contract.RouterGatewayAPI, testTemplate(t, contract.RouterGatewayAPI))
	d["bake_time"] = 0
	d["failure_threshold_value"] = 0
	d["analysis"] = map[string]any{"max_restarts": 0, "unready_grace": 0}
	out, err := validator(t, template.Policy{}).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: marshal(t, d)})
	if err != nil {
		t.Fatalf("Validate refused it: %v", err)
	}
	var st engine.State
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	if st.Spec.BakeTime != 0 || *st.Spec.Analysis.MaxRestarts != 0 || *st.Spec.Analysis.UnreadyGrace != 0 {
		t.Errorf("zeros not kept: bake_time %d, max_restarts %d, unready_grace %d", st.Spec.BakeTime, *st.Spec.Analysis.MaxRestarts, *st.Spec.Analysis.UnreadyGrace)
	}
}
