package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// abHeader is deploy.json's ab with one header condition.
func abHeader(fields ...any) func(map[string]any) {
	return func(d map[string]any) {
		h := map[string]any{}
		for i := 0; i+1 < len(fields); i += 2 {
			h[fields[i].(string)] = fields[i+1]
		}
		d["ab"] = map[string]any{"headers": []any{h}}
	}
}

// withoutRouter leaves router, and the wait_time derived from it, to the
// environment's defaults.
func withoutRouter(d map[string]any) {
	delete(d, "router")
	delete(d, "wait_time")
}

// TestValidateABStage: Validate refuses A/B conditions no request can meet
// and regexes App Mesh's Envoy cannot compile, holds manual_promotion at an
// A/B stage before 100, and gives a deploy.json without router the
// environment's traffic layer.
func TestValidateABStage(t *testing.T) {
	t.Cleanup(func() { spec.DefaultRouter = spec.OriginalRouter })
	const tooLarge = "is too large a regular expression for Envoy"
	cases := []struct {
		name        string
		router      string // the template's router, and deploy.json's unless change removes it
		environment string // the engine's traffic layer; "" for spec.OriginalRouter
		change      func(map[string]any)
		want        []string // substrings of the refusal; nil when Validate accepts
		wantRouter  string   // the accepted rollout's router
		wantWait    int      // and its wait_time
	}{
		// Header values no request carries.
		{name: "CR LF in a value", router: contract.RouterAppMesh, change: abHeader("name", "x-canary", "value", "always\r\n"),
			want: []string{`ab.headers[0].value: "always\r\n" contains the control character '\r', which no HTTP header value carries`, "RFC 9110"}},
		{name: "NUL in a value on lattice", router: contract.RouterGatewayAPI, change: abHeader("name", "x-canary", "value", "a\x00"),
			want: []string{`ab.headers[0].value: "a\x00" contains the control character '\x00'`}},
		{name: "LF in a regex", router: contract.RouterAppMesh, change: abHeader("name", "x-user", "match", "regex", "value", "^beta\n"),
			want: []string{`ab.headers[0].value: "^beta\n" contains the control character '\n'`}},
		{name: "leading space on lattice", router: contract.RouterGatewayAPI, change: abHeader("name", "x-canary", "value", " always"),
			want: []string{`ab.headers[0].value: " always" starts with whitespace, which HTTP strips from header values, so no request matches: remove the leading spaces and tabs`}},
		{name: "trailing space", router: contract.RouterAppMesh, change: abHeader("name", "x-canary", "value", "always "),
			want: []string{`ab.headers[0].value: "always " ends with whitespace`, "remove the trailing spaces and tabs"}},
		{name: "prefix with a leading tab", router: contract.RouterAppMesh, change: abHeader("name", "x-canary", "match", "prefix", "value", "\tbeta"),
			want: []string{`ab.headers[0].value: "\tbeta" starts with whitespace`}},
		{name: "suffix with a trailing space", router: contract.RouterAppMesh, change: abHeader("name", "x-canary", "match", "suffix", "value", "-eu "),
			want: []string{`ab.headers[0].value: "-eu " ends with whitespace`}},
		// Header names are RFC 9110 tokens.
		{name: "CR in a name", router: contract.RouterAppMesh, change: abHeader("name", "x-canary\r", "value", "always"),
			want: []string{`ab.headers[0].name: "x-canary\r" is not a header name router "appmesh" matches`}},
		{name: "space in a name on lattice", router: contract.RouterGatewayAPI, change: abHeader("name", " x-canary", "value", "always"),
			want: []string{`ab.headers[0].name: " x-canary" is not a header name router "gatewayapi" matches: use 1..40 letters, digits`}},
		// Regexes: App Mesh's Envoy compiles small RE2 programs only; VPC Lattice takes none.
		{name: "long repetition", router: contract.RouterAppMesh, change: abHeader("name", "x-user", "match", "regex", "value", "^[a-z0-9]{200}$"),
			want: []string{`ab.headers[0].value: "^[a-z0-9]{200}$" ` + tooLarge + ": it compiles to about 404 RE2 instructions, more than the 90 allowed (Envoy refuses more than 100", "shorten counted repetitions"}},
		{name: "Unicode class", router: contract.RouterAppMesh, change: abHeader("name", "x-user", "match", "regex", "value", `^\pL+$`),
			want: []string{tooLarge, `avoid Unicode classes such as \pL`}},
		{name: "unanchored dots", router: contract.RouterAppMesh, change: abHeader("name", "x-user", "match", "regex", "value", ".{20}"),
			want: []string{`ab.headers[0].value: ".{20}" ` + tooLarge}},
		{name: "regex on lattice", router: contract.RouterGatewayAPI, change: abHeader("name", "x-user", "match", "regex", "value", "^beta"),
			want: []string{`ab.headers[0].match: "regex" is not supported by router "gatewayapi": VPC Lattice matches headers exactly`}},
		{name: "regex within Envoy's limit", router: contract.RouterAppMesh, change: abHeader("name", "x-user", "match", "regex", "value", "^[a-f0-9]{32}$"),
			wantRouter: contract.RouterAppMesh, wantWait: 60},
		{name: "prefix ending in a space", router: contract.RouterAppMesh, change: abHeader("name", "x-user", "match", "prefix", "value", "beta "),
			wantRouter: contract.RouterAppMesh, wantWait: 60},
		// manual_promotion holds at an A/B stage with nothing between it and 100.
		{name: "manual promotion at the A/B stage", router: contract.RouterAppMesh, change: func(d map[string]any) {
			abHeader("name", "x-canary", "value", "always")(d)
			d["percentage_step"], d["manual_promotion"] = 100, true
		}, wantRouter: contract.RouterAppMesh, wantWait: 60},
		{name: "manual promotion at the A/B stage on lattice", router: contract.RouterGatewayAPI, change: func(d map[string]any) {
			abHeader("name", "x-canary", "value", "always")(d)
			d["steps"], d["manual_promotion"] = []int{100}, true
		}, wantRouter: contract.RouterGatewayAPI, wantWait: 90},
		{name: "manual promotion with nothing to hold at", router: contract.RouterGatewayAPI, change: func(d map[string]any) {
			d["percentage_step"], d["manual_promotion"] = 100, true
		}, want: []string{"manual_promotion: true has no canary weight below 100 to hold at", "or hold at an A/B stage (ab)"}},
		// The default router follows the environment.
		{name: "no router on a Gateway API stack", router: contract.RouterGatewayAPI, environment: contract.RouterGatewayAPI, change: withoutRouter,
			wantRouter: contract.RouterGatewayAPI, wantWait: 90},
		{name: "no router on an App Mesh stack", router: contract.RouterAppMesh, environment: contract.RouterAppMesh, change: withoutRouter,
			wantRouter: contract.RouterAppMesh, wantWait: 60},
		{name: "no router and an App Mesh template on a Gateway API stack", router: contract.RouterAppMesh, environment: contract.RouterGatewayAPI, change: withoutRouter,
			want: []string{`this template is written for router appmesh`, `deploy.json says router "gatewayapi"`}},
		{name: "deploy.json's router wins over the stack's", router: contract.RouterAppMesh, environment: contract.RouterGatewayAPI,
			wantRouter: contract.RouterAppMesh, wantWait: 60},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			environment := c.environment
			if environment == "" {
				environment = spec.OriginalRouter
			}
			if err := spec.SetDefaultRouter(environment); err != nil {
				t.Fatal(err)
			}
			d := goodDeploy(c.router, testTemplate(t, c.router))
			if c.change != nil {
				c.change(d)
			}
			out, err := validator(t, template.Policy{}).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: marshal(t, d)})
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				var st engine.State
				if err := json.Unmarshal(out, &st); err != nil {
					t.Fatal(err)
				}
				if st.Router != c.wantRouter || st.WaitTime != c.wantWait {
					t.Errorf("router %q wait_time %d, want %q and %d", st.Router, st.WaitTime, c.wantRouter, c.wantWait)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted it: %s", out)
			}
			if name := engine.ErrorName(err); name != statemachine.ErrValidation {
				t.Errorf("error name %q, want %q: %v", name, statemachine.ErrValidation, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
